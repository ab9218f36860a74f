"""The deploy files agree with numbot: the Dockerfile, deploy/compose.yaml with its env file
examples, and deploy/numbot.service. Each test fails if a file drifts from the code it runs."""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr, ValidationError

from bot.config.settings import Settings, SettingsError

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"


SETTINGS = set(Settings.model_fields)
SECRET_SETTINGS = {
    name
    for name, field in Settings.model_fields.items()
    if SecretStr in getattr(field.annotation, "__args__", ())
}


def numbot_names(names):
    return {n for n in names if n.startswith(("NUMBOT_", "SLACK_", "FLOWYTE_")) or n == "PORT"}


# -- Dockerfile ---------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in (REPO / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not current):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        word, _, rest = current.partition(" ")
        lines.append((word.upper(), rest.strip()))
        current = ""
    return lines


def stages() -> list[list[tuple[str, str]]]:
    """Each build stage's instructions (the ARGs before the first FROM left out)."""
    out: list[list[tuple[str, str]]] = [[]]
    for instruction, args in dockerfile():
        if instruction == "FROM":
            out.append([])
        out[-1].append((instruction, args))
    return out[1:]


def test_the_image_copies_every_package_pyproject_installs():
    packages_find = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]
    packages = {pattern.rstrip("*").rstrip(".") for pattern in packages_find["include"]}
    copied = {
        src.rstrip("/")
        for instruction, args in stages()[0]
        if instruction == "COPY" and "--from" not in args
        for src in args.split()[:-1]
    }
    assert packages <= copied, f"the Dockerfile does not COPY {packages - copied}"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    needed = {"pyproject.toml", project["readme"], *project.get("license-files", [])}
    assert needed <= copied, f"the wheel is built from {needed - copied} too"


def test_the_extras_the_image_installs_exist():
    extras = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    )
    installed = set()
    for instruction, args in dockerfile():
        if instruction == "RUN":
            for group in re.findall(r"\.\[([^\]]+)\]", args):
                installed |= {e.strip() for e in group.split(",")}
    assert installed, "the image installs numbot with no extra: psycopg for PostgreSQL?"
    assert installed <= extras


def test_the_image_runs_numbot_as_a_non_root_user():
    final = stages()[-1]
    users = [args for instruction, args in final if instruction == "USER"]
    assert users, "no USER: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0") and (not user.isdigit() or int(user) >= 1000)
    assert [args for instruction, args in final if instruction == "CMD"] == ['["numbot", "run"]']


def test_the_image_checks_healthz_and_keeps_the_database_on_its_volume():
    final = stages()[-1]
    (healthcheck,) = [args for instruction, args in final if instruction == "HEALTHCHECK"]
    assert "/healthz" in healthcheck and "sys.exit(r.status != 200)" in healthcheck
    env = " ".join(args for instruction, args in final if instruction == "ENV")
    db = re.search(r"NUMBOT_DB=(\S+)", env).group(1)
    volumes = [
        v
        for instruction, args in final
        if instruction == "VOLUME"
        for v in re.findall(r'"([^"]+)"', args)
    ]
    assert str(Path(db).parent) in volumes


def test_no_secret_is_baked_into_the_image():
    for instruction, args in dockerfile():
        if instruction in ("ENV", "ARG", "LABEL"):
            assert not any(name in args for name in SECRET_SETTINGS), (instruction, args)


def test_dockerignore_keeps_secrets_and_databases_out_of_the_build_context():
    ignored = set((REPO / ".dockerignore").read_text().split())
    for pattern in ("**/.env", "**/*.env", "**/*.db", "**/*.db-wal", "**/.venv", ".git", "tests"):
        assert pattern in ignored, pattern
    for instruction, args in stages()[0]:
        if instruction == "COPY":
            assert not set(args.split()[:-1]) & ignored


# -- deploy/compose.yaml ----------------------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def env_file(name: str) -> dict[str, str]:
    pairs = {}
    for line in (DEPLOY / name).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def test_compose_sets_only_real_settings_and_no_secret_inline():
    numbot = compose()["services"]["numbot"]
    inline = set(numbot.get("environment", {}))
    example = set(env_file("numbot.env.example"))
    for name in numbot_names(inline | example):
        assert name in SETTINGS, f"{name} is not a setting in bot/config/settings.py"
    assert not inline & SECRET_SETTINGS, "secrets belong in the env_file, not compose.yaml"
    assert numbot["env_file"] == "numbot.env" and (DEPLOY / "numbot.env.example").exists()


def filled_in(name: str) -> dict[str, str]:
    """The example with every placeholder replaced by a value of the right shape."""
    real = {
        "SLACK_BOT_TOKEN": "xoxb-1-2-real",
        "SLACK_APP_TOKEN": "xapp-1-real",
        "SLACK_SIGNING_SECRET": "f" * 32,
        "FLOWYTE_API_KEY": "flowyte_sk_real",
        "NUMBOT_AUDIT_KEY": "a" * 64,
        "NUMBOT_APPROVAL_CHANNEL": "C0APPROVALS",
        "NUMBOT_APPROVERS": "U0BOB,U0CAROL",
        "NUMBOT_DATABASE_URL": "postgresql://numbot:real-password@postgres:5432/numbot",
    }
    return {k: real.get(k, v) if v else v for k, v in env_file(name).items()}


def placeholders_refused(name: str) -> set[str]:
    """The settings numbot refuses in the example as shipped."""
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, **{k: v for k, v in env_file(name).items() if v})
    return {
        str(error["loc"][0]) for error in refused.value.errors() if "placeholder" in error["msg"]
    }


def test_the_env_file_example_is_a_socket_mode_configuration_that_waits_for_real_secrets():
    # As shipped, every value still to fill in is refused by name: a copy never filled in
    # cannot start numbot with a token or channel that is not yours.
    assert placeholders_refused("numbot.env.example") == {
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "FLOWYTE_API_KEY",
        "NUMBOT_DATABASE_URL",
        "NUMBOT_APPROVAL_CHANNEL",
        "NUMBOT_APPROVERS",
    }
    settings = Settings(
        _env_file=None, **{k: v for k, v in filled_in("numbot.env.example").items() if v}
    )
    settings.require_slack()
    assert settings.socket_mode and settings.SLACK_SIGNING_SECRET is None
    assert set(env_file("numbot.env.example")) >= SECRET_SETTINGS - {"SLACK_SIGNING_SECRET"}
    # No placeholder may pass for the secrets nothing else would catch: numbot refuses to run
    # without an audit key, PostgreSQL to initialize without a password.
    with pytest.raises(SettingsError, match="NUMBOT_AUDIT_KEY is not set"):
        settings.audit_key()
    assert env_file("postgres.env.example")["POSTGRES_PASSWORD"] == ""


def test_the_systemd_env_example_is_an_http_configuration_refused_until_filled_in():
    names = set(env_file("numbot-systemd.env.example"))
    for name in numbot_names(names):
        assert name in SETTINGS, f"{name} is not a setting in bot/config/settings.py"
    assert placeholders_refused("numbot-systemd.env.example") == {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "FLOWYTE_API_KEY",
        "NUMBOT_AUDIT_KEY",
        "NUMBOT_APPROVAL_CHANNEL",
        "NUMBOT_APPROVERS",
    }
    settings = Settings(_env_file=None, **filled_in("numbot-systemd.env.example"))
    settings.require_slack()
    assert not settings.socket_mode and settings.audit_key()


def test_compose_restarts_numbot_on_failure_but_not_on_a_wrong_configuration():
    numbot = compose()["services"]["numbot"]
    assert numbot["restart"] == "on-failure"  # crashes and exit 75 restart; exit 0 does not
    command = numbot["command"]
    assert command[:2] == ["numbot", "run"]
    assert command[command.index("--config-error-status") + 1] == "0"


def test_compose_runs_two_replicas_on_a_healthy_postgres():
    services = compose()["services"]
    numbot, postgres = services["numbot"], services["postgres"]
    assert numbot["deploy"]["replicas"] >= 2
    assert numbot["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert "/healthz" in " ".join(numbot["healthcheck"]["test"])
    assert "ports" not in numbot  # Socket Mode: nothing to reach from outside
    url = env_file("numbot.env.example")["NUMBOT_DATABASE_URL"]
    pg = env_file("postgres.env.example")
    assert url == f"postgresql://{pg['POSTGRES_USER']}:PASSWORD@postgres:5432/{pg['POSTGRES_DB']}"
    assert postgres["env_file"] == "postgres.env"
    assert (
        numbot["build"]["context"] == ".."
        and (DEPLOY / numbot["build"]["context"] / "Dockerfile").exists()
    )


def test_git_ignores_the_filled_in_env_files():
    assert "*.env" in (REPO / ".gitignore").read_text().split()


# -- deploy/numbot.service ---------------------------------------------------------------


def unit(text: str | None = None) -> list[tuple[str, str, str]]:
    section, entries = "", []
    for line in (text or (DEPLOY / "numbot.service").read_text()).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key, value))
    return entries


def service(key: str) -> list[str]:
    return [value for section, k, value in unit() if section == "Service" and k == key]


def test_the_unit_runs_numbot_run_hardened_with_its_state_and_secrets_where_they_belong():
    (exec_start,) = service("ExecStart")
    program, *args = exec_start.split()
    assert Path(program).is_absolute() and Path(program).name == "numbot" and args == ["run"]
    assert service("DynamicUser") == ["yes"] or service("User")
    assert service("StateDirectory") == ["numbot"]
    assert service("ProtectSystem") == ["strict"] and service("NoNewPrivileges") == ["yes"]
    assert service("Restart") == ["on-failure"]
    # Exit 78 is a configuration a restart cannot fix (bot/process/startup.py): systemd stops there.
    assert service("RestartPreventExitStatus") == ["78"]
    assert service("EnvironmentFile") == ["/etc/numbot/numbot.env"]
    assert "/etc/numbot/numbot.env" in (DEPLOY / "numbot-systemd.env.example").read_text()
    environment = dict(e.split("=", 1) for e in service("Environment"))
    assert environment["NUMBOT_DB"].startswith("/var/lib/numbot/")  # inside StateDirectory
    assert not set(environment) & SECRET_SETTINGS
    for name in numbot_names(environment):
        assert name in SETTINGS


def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path):
    """systemd's own check: unknown keys, bad values. ExecStart must exist, so it points at
    this environment's numbot for the check. Skipped only where systemd is not installed and
    not required (.ci/run installs it and sets NUMBOT_REQUIRE_SYSTEMD=1)."""
    if not shutil.which("systemd-analyze"):
        if os.environ.get("NUMBOT_REQUIRE_SYSTEMD") == "1":
            pytest.fail("systemd-analyze is not installed, and NUMBOT_REQUIRE_SYSTEMD=1")
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    numbot = Path(sys.executable).parent / "numbot"
    if not numbot.exists():
        pytest.skip("no numbot console script beside this Python")
    text = (DEPLOY / "numbot.service").read_text().replace("/opt/numbot/bin/numbot", str(numbot))
    (tmp_path / "numbot.service").write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(tmp_path / "numbot.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


# -- docs/operations.md -----------------------------------------------------------------------


def test_the_operations_page_says_how_to_run_it_in_production_with_these_files():
    page = (REPO / "docs" / "operations.md").read_text()
    for needle in (
        "numbot backup",
        "pg_dump",
        "pg_restore",
        "--expect-head",
        "NUMBOT_AUDIT_KEY",
        "Socket Mode",
        "up to 10",
        "\n## Upgrades\n",
        "\n## The secrets to keep",
        "\n## Exit codes and supervisors\n",
        "RestartPreventExitStatus=78",
        "--config-error-status 0",
        "NUMBOT_START_WAIT_SECONDS",
    ):
        assert needle in page, needle
    linked = set(re.findall(r"\]\(\.\./(deploy/[^)#]+)\)", page))
    assert {
        "deploy/compose.yaml",
        "deploy/numbot.service",
        "deploy/numbot.env.example",
        "deploy/numbot-systemd.env.example",
    } <= linked
    assert all((REPO / path).exists() for path in linked)
    readme = (REPO / "README.md").read_text()
    assert "](docs/operations.md)" in readme
