"""bot/config/settings.py: parsing, validation, and errors that never show a secret."""

from __future__ import annotations

import pytest

from bot.config.settings import (
    DEFAULT_FLOWYTE_BASE_URL,
    DEFAULT_SLACK_API_URL,
    Settings,
    SettingsError,
    load_settings,
)

BOT_TOKEN = "xoxb-1111-2222-SETTINGSBOTSECRET"
APP_TOKEN = "xapp-1-A111-SETTINGSAPPSECRET"
SIGNING = "8f14e45fceea167a5a36dedd4bea2543"
FLOWYTE_KEY = "flowyte_sk_live_SETTINGSKEYSECRET"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No numbot variable from the outer environment, and no .env from the repo."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def load(**overrides):
    return load_settings(_env_file=None, **overrides)


def test_defaults_mean_sandbox_without_slack():
    s = load()
    assert s.sandbox and not s.socket_mode
    assert s.FLOWYTE_BASE_URL == DEFAULT_FLOWYTE_BASE_URL
    assert s.SLACK_API_URL == DEFAULT_SLACK_API_URL
    assert s.NUMBOT_APPROVERS == () and s.NUMBOT_APPROVAL_CHANNEL is None
    assert s.PORT == 3000


def test_reads_the_environment(clean_env):
    clean_env.setenv("FLOWYTE_API_KEY", FLOWYTE_KEY)
    clean_env.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    clean_env.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    clean_env.setenv("NUMBOT_APPROVAL_CHANNEL", "C0APPROVALS")
    clean_env.setenv("PORT", "8080")
    s = load()
    assert not s.sandbox and s.socket_mode
    assert s.FLOWYTE_API_KEY.get_secret_value() == FLOWYTE_KEY
    assert s.NUMBOT_APPROVAL_CHANNEL == "C0APPROVALS" and s.PORT == 8080
    assert FLOWYTE_KEY not in repr(s) and BOT_TOKEN not in str(s)


def test_names_are_case_sensitive(clean_env):
    clean_env.setenv("numbot_approvers", "U123")
    assert load().NUMBOT_APPROVERS == ()


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("U0123ABC", ("U0123ABC",)),
        ("U0123ABC,W0456DEF", ("U0123ABC", "W0456DEF")),
        ("  U0123ABC ,  W0456DEF  ", ("U0123ABC", "W0456DEF")),
        ("U0123ABC,,W0456DEF,", ("U0123ABC", "W0456DEF")),
        ("", ()),
        (" , ", ()),
    ],
)
def test_approvers_comma_list(clean_env, raw, parsed):
    clean_env.setenv("NUMBOT_APPROVERS", raw)
    assert parsed == load().NUMBOT_APPROVERS


@pytest.mark.parametrize(
    "raw",
    ["u0123abc", "@alice", "U0123ABC,alice", "C0123ABC", "U1", '["U0123ABC"]', "U0123 ABC"],
)
def test_bad_approver_ids_are_rejected(clean_env, raw):
    clean_env.setenv("NUMBOT_APPROVERS", raw)
    with pytest.raises(SettingsError) as caught:
        load()
    assert "NUMBOT_APPROVERS" in str(caught.value)


def test_approvers_as_a_tuple_override():
    assert load(NUMBOT_APPROVERS=("U0123ABC",)).NUMBOT_APPROVERS == ("U0123ABC",)


@pytest.mark.parametrize("channel", ["C0APPROVALS", "G01234567", "C123"])
def test_channel_ids_accepted(clean_env, channel):
    clean_env.setenv("NUMBOT_APPROVAL_CHANNEL", channel)
    assert channel == load().NUMBOT_APPROVAL_CHANNEL


@pytest.mark.parametrize(
    "channel", ["#approvals", "approvals", "c0approvals", "U0123ABC", "C1", "D0123ABC"]
)
def test_bad_channel_ids_rejected(clean_env, channel):
    clean_env.setenv("NUMBOT_APPROVAL_CHANNEL", channel)
    with pytest.raises(SettingsError) as caught:
        load()
    assert "NUMBOT_APPROVAL_CHANNEL" in str(caught.value)
    assert "channel id" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("FLOWYTE_API_KEY", "sk_live_NOTAFLOWYTEKEYSECRET", "flowyte_sk_"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token-NOTABOTSECRET", "xoxb-"),
        ("SLACK_APP_TOKEN", "xoxb-bot-token-NOTANAPPSECRET", "xapp-"),
    ],
)
def test_key_shapes_are_checked_and_never_echoed(clean_env, name, value, words):
    clean_env.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load()
    text = str(caught.value)
    assert name in text and words in text
    assert value not in text and "SECRET" not in text
    assert value not in repr(caught.value)


def test_secrets_never_in_the_error_even_with_other_errors(clean_env):
    clean_env.setenv("SLACK_SIGNING_SECRET", SIGNING)
    clean_env.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    clean_env.setenv("FLOWYTE_API_KEY", FLOWYTE_KEY)
    clean_env.setenv("PORT", "99999")
    clean_env.setenv("NUMBOT_APPROVAL_CHANNEL", "#nope")
    with pytest.raises(SettingsError) as caught:
        load()
    text = str(caught.value)
    assert "PORT" in text and "NUMBOT_APPROVAL_CHANNEL" in text
    for secret in (SIGNING, BOT_TOKEN, FLOWYTE_KEY):
        assert secret not in text and secret not in repr(caught.value)
    # Not even kept as the context: the pydantic error holds the raw values.
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_an_empty_channel_is_unset_and_named_as_missing(clean_env):
    clean_env.setenv("NUMBOT_APPROVAL_CHANNEL", "")
    settings = load()
    assert settings.NUMBOT_APPROVAL_CHANNEL is None
    with pytest.raises(SettingsError, match="NUMBOT_APPROVAL_CHANNEL"):
        settings.require_slack()


def test_a_dotenv_file_is_read_from_the_working_directory(tmp_path):
    (tmp_path / ".env").write_text(
        "NUMBOT_APPROVERS=U0123ABC\nFLOWYTE_API_KEY=sk_bad_DOTENVSECRET\n"
    )
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "FLOWYTE_API_KEY" in str(caught.value)
    assert "DOTENVSECRET" not in str(caught.value)
    # and `_env_file=None` ignores it
    assert load().NUMBOT_APPROVERS == ()


def test_urls_are_normalized(clean_env):
    clean_env.setenv("FLOWYTE_BASE_URL", "https://flowyte.test/api/v1///")
    clean_env.setenv("SLACK_API_URL", "http://slack.test/api")
    s = load()
    assert s.FLOWYTE_BASE_URL == "https://flowyte.test/api/v1"
    assert s.SLACK_API_URL == "http://slack.test/api/"


# --- FLOWYTE_BASE_URL: the key travels with every call ------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        DEFAULT_FLOWYTE_BASE_URL,
        "HTTPS://eu.flowyte.example/api/v1",
        "http://127.0.0.1:8080/api/v1",  # the fakes and a local proxy
        "http://127.8.9.10/api/v1",  # all of 127.0.0.0/8 is loopback
        "http://[::1]:9000/api/v1",
        "http://localhost/api/v1",
        "http://LOCALHOST:3000/api/v1",
    ],
)
def test_flowyte_base_url_https_or_loopback_is_accepted(clean_env, url):
    clean_env.setenv("FLOWYTE_BASE_URL", url)
    assert url.rstrip("/") == load().FLOWYTE_BASE_URL


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://builder.flowyte.com/api/v1", "https://"),
        ("http://10.0.0.5/api/v1", "https://"),  # private, but not this machine
        ("http://128.0.0.1/api/v1", "https://"),
        ("http://localhost.evil.example/api/v1", "https://"),
        ("http://127.0.0.1.nip.io/api/v1", "https://"),
        ("http://[::ffff:10.0.0.1]/api/v1", "https://"),
        ("ftp://builder.flowyte.com/api/v1", "http(s) URL"),
        ("builder.flowyte.com/api/v1", "http(s) URL"),
        ("https:///api/v1", "http(s) URL"),
        ("http://[::1/api/v1", "http(s) URL"),  # malformed, not a crash
    ],
)
def test_flowyte_base_url_must_be_https_unless_loopback(clean_env, url, says):
    clean_env.setenv("FLOWYTE_BASE_URL", url)
    with pytest.raises(SettingsError) as caught:
        load()
    text = str(caught.value)
    assert "FLOWYTE_BASE_URL" in text and says in text


@pytest.mark.parametrize(("name", "value"), [("PORT", "0"), ("PORT", "abc"), ("PORT", "65536")])
def test_bad_numbers_rejected(clean_env, name, value):
    clean_env.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load()
    assert name in str(caught.value)


@pytest.mark.parametrize(("raw", "seconds"), [(None, 0.05), ("250", 0.25), ("0", None)])
def test_the_loop_lag_limit_is_read_in_milliseconds_and_0_turns_it_off(clean_env, raw, seconds):
    if raw is not None:
        clean_env.setenv("NUMBOT_MAX_LOOP_LAG_MS", raw)
    assert load().max_loop_lag == seconds


@pytest.mark.parametrize("raw", ["-1", "10001", "0.5", "fast"])
def test_a_loop_lag_limit_out_of_range_is_refused(clean_env, raw):
    clean_env.setenv("NUMBOT_MAX_LOOP_LAG_MS", raw)
    with pytest.raises(SettingsError) as caught:
        load()
    assert "NUMBOT_MAX_LOOP_LAG_MS" in str(caught.value)


def test_the_bot_is_built_with_the_configured_lag_limit_and_capacity(tmp_path):
    from bot.process.runtime import Runtime

    def workload(**env):
        settings = load(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING,
            NUMBOT_DB=str(tmp_path / "numbot.db"),
            **env,
        )
        return Runtime.build(settings).workload

    assert workload().max_lag == 0.05
    limited = workload(NUMBOT_MAX_LOOP_LAG_MS=200, NUMBOT_MAX_IN_FLIGHT=7)
    assert (limited.max_lag, limited.capacity) == (0.2, 7)
    unlimited = workload(NUMBOT_MAX_LOOP_LAG_MS=0)
    for _ in range(3):
        unlimited.note_lag(5.0)
    assert unlimited.admit()


# --- require_slack ---------------------------------------------------------------------


def test_require_slack_names_everything_missing():
    with pytest.raises(SettingsError) as caught:
        load().require_slack()
    text = str(caught.value)
    for name in (
        "SLACK_BOT_TOKEN",
        "NUMBOT_APPROVAL_CHANNEL",
        "SLACK_SIGNING_SECRET",
        "NUMBOT_APPROVERS",
    ):
        assert name in text
    assert "docs/configuration.md" in text


def test_require_slack_http_mode_needs_the_signing_secret():
    s = load(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        NUMBOT_APPROVAL_CHANNEL="C0APPROVALS",
        NUMBOT_APPROVERS="U0123ABC",
    )
    with pytest.raises(SettingsError) as caught:
        s.require_slack()
    assert str(caught.value).count("SLACK_") == 1 and "SLACK_SIGNING_SECRET" in str(caught.value)


def test_require_slack_passes_in_http_and_socket_mode():
    common = dict(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        NUMBOT_APPROVAL_CHANNEL="C0APPROVALS",
        NUMBOT_APPROVERS="U0123ABC",
    )
    load(**common, SLACK_SIGNING_SECRET=SIGNING).require_slack()
    load(**common, SLACK_APP_TOKEN=APP_TOKEN).require_slack()  # socket mode: no signing secret


def test_require_slack_only_names_what_is_missing():
    s = load(SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN)
    with pytest.raises(SettingsError) as caught:
        s.require_slack()
    text = str(caught.value)
    assert "NUMBOT_APPROVAL_CHANNEL" in text and "NUMBOT_APPROVERS" in text
    assert "SLACK_BOT_TOKEN" not in text and "SLACK_SIGNING_SECRET" not in text
    assert BOT_TOKEN not in text and APP_TOKEN not in text


# --- empty values (a `KEY=` line in .env or docker-compose) -------------------------------

HTTP_MODE = dict(
    SLACK_BOT_TOKEN=BOT_TOKEN,
    NUMBOT_APPROVAL_CHANNEL="C0APPROVALS",
    NUMBOT_APPROVERS="U0123ABC",
)


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_a_blank_signing_secret_in_http_mode_is_refused_as_blank(clean_env, blank):
    clean_env.setenv("SLACK_SIGNING_SECRET", blank)
    settings = load(**HTTP_MODE)
    with pytest.raises(SettingsError) as caught:
        settings.require_slack()
    text = str(caught.value)
    assert "SLACK_SIGNING_SECRET is set but blank" in text
    assert "needs these settings" not in text  # not reported as merely missing


def test_a_blank_signing_secret_is_named_beside_what_is_missing(clean_env):
    clean_env.setenv("SLACK_SIGNING_SECRET", "")
    with pytest.raises(SettingsError) as caught:
        load(SLACK_BOT_TOKEN=BOT_TOKEN).require_slack()
    text = str(caught.value)
    assert "NUMBOT_APPROVAL_CHANNEL" in text and "NUMBOT_APPROVERS" in text
    assert "SLACK_SIGNING_SECRET is set but blank" in text


def test_a_blank_signing_secret_is_fine_in_socket_mode(clean_env):
    clean_env.setenv("SLACK_SIGNING_SECRET", "")
    settings = load(**HTTP_MODE, SLACK_APP_TOKEN=APP_TOKEN)
    settings.require_slack()  # Socket Mode signs nothing: a `KEY=` template line is harmless
    assert settings.SLACK_SIGNING_SECRET is None


def test_an_unset_signing_secret_is_still_named_as_missing(clean_env):
    with pytest.raises(SettingsError) as caught:
        load(**HTTP_MODE).require_slack()
    assert "needs these settings: SLACK_SIGNING_SECRET" in str(caught.value)
    assert "blank" not in str(caught.value)


@pytest.mark.parametrize(
    "short",
    [
        "SHORTSECRET",
        "SHORTSECRET0123456789abcdefghij",  # 31: one short
        "   SHORTSECRET   ",
    ],
)
def test_a_short_signing_secret_is_refused_without_echoing_it(clean_env, short):
    clean_env.setenv("SLACK_SIGNING_SECRET", short)
    with pytest.raises(SettingsError) as caught:
        load()
    text = str(caught.value)
    assert "SLACK_SIGNING_SECRET" in text and "32" in text
    assert short.strip() not in text and short.strip() not in repr(caught.value)


def test_signing_secrets_of_32_characters_or_more_are_accepted(clean_env):
    assert load(SLACK_SIGNING_SECRET=SIGNING).SLACK_SIGNING_SECRET.get_secret_value() == SIGNING
    e2e = "e2e-signing-secret-0123456789abcdef"  # tests/e2e/harness.py's, 35 characters
    assert load(SLACK_SIGNING_SECRET=e2e).SLACK_SIGNING_SECRET is not None


def test_an_empty_signing_secret_is_at_least_not_a_usable_secret(clean_env):
    """What the bug above leads to: the value is present but falsy."""
    clean_env.setenv("SLACK_SIGNING_SECRET", "")
    secret = load(**HTTP_MODE).SLACK_SIGNING_SECRET
    assert not secret  # so `if settings.SLACK_SIGNING_SECRET` reads it as absent


@pytest.mark.parametrize("name", ["FLOWYTE_API_KEY", "SLACK_APP_TOKEN"])
def test_empty_optional_secrets_are_unset(clean_env, name):
    clean_env.setenv(name, "")
    settings = load()
    assert getattr(settings, name) is None
    assert settings.sandbox and not settings.socket_mode


def test_an_empty_bot_token_is_unset(clean_env):
    clean_env.setenv("SLACK_BOT_TOKEN", "")
    assert load().SLACK_BOT_TOKEN is None


def test_an_unknown_log_level_is_a_settings_error(clean_env):
    clean_env.setenv("NUMBOT_LOG_LEVEL", "verbose")
    with pytest.raises(SettingsError, match="NUMBOT_LOG_LEVEL"):
        load()


@pytest.mark.parametrize("level", ["DEBUG", "info", "Warning"])
def test_known_log_levels_load(clean_env, level):
    clean_env.setenv("NUMBOT_LOG_LEVEL", level)
    assert load().NUMBOT_LOG_LEVEL.upper() == level.upper()


async def test_the_flowyte_timeout_setting_reaches_the_client():
    from bot.process.wiring import build_flowyte

    settings = load(FLOWYTE_API_KEY=FLOWYTE_KEY, NUMBOT_FLOWYTE_TIMEOUT=4)
    client = build_flowyte(settings)
    try:
        assert client._http.timeout.read == 4
    finally:
        await client.aclose()


def test_every_secret_setting_is_taken_out_of_the_environment(monkeypatch):
    """bot/config/secret_env.py: each SecretStr setting (the database URL's password included) is
    removed from os.environ once read; nothing else is."""
    import os

    from bot.config.secret_env import forget_secret_environment, secret_settings

    assert set(secret_settings()) == {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "FLOWYTE_API_KEY",
        "NUMBOT_AUDIT_KEY",
        "NUMBOT_DATABASE_URL",
    }
    for name in secret_settings():
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("NUMBOT_DB", "kept.db")
    forget_secret_environment()
    assert not any(name in os.environ for name in secret_settings())
    assert os.environ["NUMBOT_DB"] == "kept.db"


def test_the_sandbox_s_published_audit_key_is_refused_where_money_is_real():
    from bot.config.settings import SANDBOX_AUDIT_KEY

    on_sandbox = load(NUMBOT_AUDIT_KEY=SANDBOX_AUDIT_KEY)
    assert on_sandbox.audit_key() is not None  # sandbox money is not real
    live = load(NUMBOT_AUDIT_KEY=SANDBOX_AUDIT_KEY, FLOWYTE_API_KEY=FLOWYTE_KEY)
    with pytest.raises(SettingsError) as refused:
        live.audit_key()
    assert "published key" in str(refused.value) and SANDBOX_AUDIT_KEY not in str(refused.value)
    assert load(NUMBOT_AUDIT_KEY="x" * 40, FLOWYTE_API_KEY=FLOWYTE_KEY).audit_key() is not None
