"""manifest.yml is a valid Slack app manifest and agrees with handlers/ids.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from handlers import ids

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "manifest.yml"
# Slack's published schema (slackapi/manifest-schema, MIT), vendored from shared/ so the test
# does not depend on where the checkout sits; test_vendored_schema_matches_shared keeps it current.
SCHEMA_DIR = Path(__file__).resolve().parent / "data" / "slack-manifest-schema"
SHARED_SCHEMA_DIR = REPO.parent / "shared" / "slack-manifest-schema"
# manifest.schema.json picks a versioned schema by $ref to these URLs; serve them locally.
REMOTE_BASE = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"
VERSIONED = ("manifest.schema.1.0.0.json", "manifest.schema.2.0.0.json")


def _load_json(name: str) -> dict[str, Any]:
    path = SCHEMA_DIR / name
    if not path.is_file():
        pytest.fail(
            f"Slack manifest schema not found at {path}: copy it from shared/slack-manifest-schema."
        )
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _no_network(uri: str) -> Resource[Any]:
    raise LookupError(f"schema $ref {uri} is not available locally; refusing to fetch it")


def _where(error: ValidationError) -> str:
    return "/".join(map(str, error.absolute_path)) or "<root>"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "manifest.yml must be a YAML mapping"
    return data


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    root = _load_json("manifest.schema.json")
    registry: Registry[Any] = Registry(retrieve=_no_network).with_resources(
        (REMOTE_BASE + name, DRAFT7.create_resource(_load_json(name))) for name in VERSIONED
    )
    Draft7Validator.check_schema(root)
    return Draft7Validator(root, registry=registry)


def test_manifest_matches_slack_schema(
    manifest: dict[str, Any], validator: Draft7Validator
) -> None:
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    details = []
    for error in errors:
        details.append(f"{_where(error)}: {error.message[:200]}")
        # A oneOf failure hides the real reasons in its branches (one per major_version).
        details += [f"    {_where(c)}: {c.message[:200]}" for c in error.context or ()]
    assert not errors, "manifest.yml does not match Slack's schema:\n" + "\n".join(details)


def test_schema_rejects_a_broken_manifest(
    manifest: dict[str, Any], validator: Draft7Validator
) -> None:
    """Guards the test above: the versioned schema really is applied, not skipped."""
    broken = {**manifest, "settings": {**manifest["settings"], "not_a_setting": True}}
    assert not validator.is_valid(broken)


def test_manifest_declares_only_the_numbers_command(manifest: dict[str, Any]) -> None:
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == [ids.COMMAND]
    # Nothing is escaped: numbot reads no mentions from a command.
    assert commands[0].get("should_escape") is False


def test_usage_hint_is_short_and_names_the_everyday_subcommands_and_help(
    manifest: dict[str, Any],
) -> None:
    """Slack shows the hint on one line as people type: at most 100 characters; `help`
    lists the rest (assign, unassign, publish, import)."""
    hint = manifest["features"]["slash_commands"][0]["usage_hint"]
    assert len(hint) <= 100
    subcommands = {part.split()[0] for part in hint.split("|")}
    assert subcommands == {"search", "list", "wallet", "holds", "release", "help"}


def test_the_messages_tab_is_read_only(manifest: dict[str, Any]) -> None:
    """numbot reads no DMs: a message typed to it would go unanswered."""
    home = manifest["features"]["app_home"]
    assert home["messages_tab_enabled"] is True and home["messages_tab_read_only_enabled"] is True


def test_manifest_enables_interactivity(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    command_url = manifest["features"]["slash_commands"][0]["url"]
    assert settings["interactivity"]["request_url"] == command_url
    assert command_url.endswith("/slack/events")
    assert settings["socket_mode_enabled"] is False


def test_manifest_bot_scopes_are_minimal(manifest: dict[str, Any]) -> None:
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(
        ["commands", "chat:write", "chat:write.public", "usergroups:read"]
    )
    assert "user" not in manifest["oauth_config"]["scopes"]


def test_vendored_schema_matches_shared() -> None:
    """Where shared/ sits beside the checkout (developers' machines, CI), the copy is current."""
    shared = (
        sorted(p.name for p in SHARED_SCHEMA_DIR.glob("*.json"))
        if SHARED_SCHEMA_DIR.is_dir()
        else []
    )
    for name in shared:
        assert (SCHEMA_DIR / name).read_bytes() == (SHARED_SCHEMA_DIR / name).read_bytes(), name
    assert {"manifest.schema.json", *VERSIONED} <= {p.name for p in SCHEMA_DIR.glob("*.json")}


def test_menu_options_are_loaded_from_the_same_endpoint(manifest: dict[str, Any]) -> None:
    """The agent menu past 100 agents is an external_select: in HTTP mode Slack asks the
    options load URL for its options, and numbot answers them on /slack/events."""
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["message_menu_options_url"] == interactivity["request_url"]
    assert ids.ASSIGN_AGENT in ids.OPTIONS_ACTION_IDS


def test_manifest_subscribes_to_the_events_numbot_handles(manifest: dict[str, Any]) -> None:
    """App Home: the tab is on, and Slack tells numbot when someone opens it, on the same
    endpoint as everything else (Socket Mode delivers events over the socket instead)."""
    from handlers.events import LISTENERS

    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    events = manifest["settings"]["event_subscriptions"]
    assert sorted(events["bot_events"]) == sorted(ids.EVENTS) == sorted(LISTENERS)
    assert "user_events" not in events
    assert events["request_url"] == manifest["settings"]["interactivity"]["request_url"]
