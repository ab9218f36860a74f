"""The README's two commands are the ones that work, and CI runs the test one verbatim."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, re.S)]


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    after = readme.split("Run the tests:", 1)[1]
    test_command = bash_blocks(after)[0]
    assert "pytest" in test_command
    ci_lines = [
        line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines() if line.strip()
    ]
    assert ci_lines[-1] == test_command


def test_readme_demo_command_runs_numbot_demo():
    readme = (REPO / "README.md").read_text()
    demo = bash_blocks(readme.split("## Try it", 1)[1])[0]
    assert demo.endswith("numbot demo")


def test_the_readme_s_settings_are_real_and_every_setting_is_documented():
    """The README names the settings a first install needs (each a real one) and sends the
    reader to docs/configuration.md, which names every one."""
    from bot.config.settings import Settings

    readme = (REPO / "README.md").read_text()
    section = readme.split("### Settings", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`((?:NUMBOT|SLACK|FLOWYTE)_[A-Z_]+)`", section))
    assert {"SLACK_BOT_TOKEN", "NUMBOT_APPROVAL_CHANNEL", "NUMBOT_AUDIT_KEY"} <= named
    assert named <= set(Settings.model_fields), named - set(Settings.model_fields)
    assert "](docs/configuration.md)" in section
    page = (REPO / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`{name}`" in page, name
