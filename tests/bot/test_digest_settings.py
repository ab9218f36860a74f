"""NUMBOT_DIGEST_HOUR: an hour of the day in UTC, or off; anything else refuses to start."""

from __future__ import annotations

import pytest

from bot.config.settings import DEFAULT_DIGEST_HOUR, Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_the_default_is_nine_utc():
    assert load_settings(_env_file=None).NUMBOT_DIGEST_HOUR == DEFAULT_DIGEST_HOUR == 9


@pytest.mark.parametrize(
    ("raw", "hour"), [("0", 0), ("23", 23), (" 7 ", 7), ("off", None), ("OFF", None), ("", 9)]
)
def test_an_hour_or_off_from_the_environment(clean_env, raw, hour):
    clean_env.setenv("NUMBOT_DIGEST_HOUR", raw)
    assert hour == load_settings(_env_file=None).NUMBOT_DIGEST_HOUR


@pytest.mark.parametrize("raw", ["24", "-1", "9.5", "nine", "٣", "never"])
def test_anything_else_is_refused_by_name(clean_env, raw):
    clean_env.setenv("NUMBOT_DIGEST_HOUR", raw)
    with pytest.raises(SettingsError, match="NUMBOT_DIGEST_HOUR") as error:
        load_settings(_env_file=None)
    assert "0-23" in str(error.value) and "off" in str(error.value)
