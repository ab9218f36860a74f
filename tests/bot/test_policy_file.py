"""bot/config/policy_file.py: reading the policy file (every problem named, where it is) and saying
what the policy means; Settings.policy() and numbot run's refusals built on it."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config.policy_file import PolicyError, describe, load_policy
from bot.config.settings import NO_APPROVER, Settings, SettingsError, load_settings
from bot.workflow.policy import NO_POLICY, Policy, QuorumTier

REPO = Path(__file__).resolve().parents[2]

FULL = """
approvers = ["U0AAA", "U0BBB"]
approver_groups = ["S0CCC"]
max_purchase_usd = "25.00"
monthly_budget_usd = "100.00"
max_open_holds = 3
release_approvals = 2

[[quorum]]
above_usd = "20.00"
approvals = 2
"""


def write(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problem_lines(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy(write(tmp_path, text))
    return [line.strip() for line in str(caught.value).splitlines()[1:]]


# -- loading ---------------------------------------------------------------------------------


def test_a_full_policy_loads(tmp_path):
    policy = load_policy(write(tmp_path, FULL))
    assert policy.approvers == ("U0AAA", "U0BBB")
    assert policy.approver_groups == ("S0CCC",)
    assert policy.max_purchase_usd == Decimal("25.00")
    assert policy.monthly_budget_usd == Decimal("100.00")
    assert policy.max_open_holds == 3 and policy.release_approvals == 2
    assert policy.quorum == (QuorumTier(above_usd=Decimal("20.00"), approvals=2),)


def test_an_empty_file_is_the_policy_that_asks_nothing_more(tmp_path):
    policy = load_policy(write(tmp_path, "# nothing yet\n"))
    assert policy == NO_POLICY and policy.hash == NO_POLICY.hash


def test_every_bad_key_is_named_with_where_it_is(tmp_path):
    lines = problem_lines(
        tmp_path,
        """
approvers = ["U0AAA", "bob"]
approver_groups = "S0CCC"
max_purchase_usd = 25.5
monthly_budget_usd = "1.234"
release_approvals = 0

[[quorum]]
above_usd = "20.00"
approvals = 2

[[quorum]]
above_usd = "30.00"
approvals = 0
""",
    )
    assert lines == [
        'approvers[1]: "bob" is not a Slack user id (U… or W…)',
        'approver_groups: must be a list in brackets, like ["S0CCC"]',
        'max_purchase_usd: write amounts as strings, e.g. "25.00" (a TOML float is not exact)',
        "monthly_budget_usd: '1.234' is not an amount in dollars and cents, at least 0",
        "release_approvals: must be at least 1",
        "quorum[1].approvals: must be at least 1",
    ]


def test_the_message_counts_the_problems_and_names_the_file(tmp_path):
    path = write(tmp_path, 'max_open_holds = 0\nmax_purchase_usd = "x"\n')
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value).splitlines()[0] == f"invalid policy in {path} (2 problems):"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("max_open_holds = true", "max_open_holds: must be a whole number, like 2 (not true)"),
        ("release_approvals = 2.0", "release_approvals: must be a whole number, like 2 (not 2.0)"),
        ("max_open_holds = 101", "max_open_holds: must be at most 100"),
        (
            '[[quorum]]\nabove_usd = "1"\napprovals = "2"',
            'quorum[0].approvals: must be a whole number, like 2 (not "2")',
        ),
        ("[[quorum]]\napprovals = 2", "quorum[0].above_usd: is required"),
        ('[[quorum]]\nabove_usd = "1"\napprovals = 11', "quorum[0].approvals: must be at most 10"),
        (
            'approver_groups = ["U0AAA"]',
            'approver_groups[0]: "U0AAA" is not a Slack user group id (S…)',
        ),
        ("approvers = [1]", "approvers[0]: must be a string in quotes, not 1"),
        (
            'monthly_budget_usd = "-5"',
            "monthly_budget_usd: '-5' is not an amount in dollars and cents, at least 0",
        ),
        (
            'quorum = "2"',
            'quorum: must be tables: [[quorum]] with above_usd = "20.00" and approvals = 2',
        ),
    ],
)
def test_each_kind_of_mistake_says_what_to_write(tmp_path, text, line):
    assert problem_lines(tmp_path, text) == [line]


def test_an_unknown_key_is_named_with_the_key_it_may_have_meant(tmp_path):
    [line] = problem_lines(tmp_path, 'approver_group = ["S0CCC"]')
    assert line.startswith("approver_group: is not a policy key (known: approvers, ")
    assert line.endswith("did you mean approver_groups?")
    [line] = problem_lines(tmp_path, '[[quorum]]\nabove_usd = "1"\napprovals = 2\nabove = "2"')
    assert line.startswith("quorum[0].above: is not a key of a [[quorum]] table")
    assert "(known: above_usd, approvals)" in line


def test_two_tiers_at_one_amount_are_refused(tmp_path):
    lines = problem_lines(
        tmp_path,
        '[[quorum]]\nabove_usd = "20"\napprovals = 2\n[[quorum]]\nabove_usd = "20.00"\napprovals = 3',
    )
    assert lines == ["quorum: two quorum tiers have the same above_usd"]


def test_a_file_that_is_not_toml_is_named_with_line_and_column(tmp_path):
    path = write(tmp_path, 'max_open_holds = 3\nmax_purchase_usd = "25.00\n')
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert message.startswith(f"the policy file {path} is not valid TOML: ")
    assert re.search(r"line 2, column \d+", message)


def test_file_problems_are_said_in_words(tmp_path):
    with pytest.raises(PolicyError, match=r"^no policy file at .*nope\.toml$"):
        load_policy(tmp_path / "nope.toml")
    with pytest.raises(PolicyError, match=r"is a directory$"):
        load_policy(tmp_path)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"approvers = ['\xff']\n")
    with pytest.raises(PolicyError, match=r"is not UTF-8 text \(byte 15 is not\)"):
        load_policy(binary)


def test_an_unreadable_file_is_said_in_words(tmp_path, monkeypatch):
    """(Denied by the test rather than by chmod: CI runs as root, which reads any file.)"""
    path = write(tmp_path, FULL)

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)
    monkeypatch.setattr(Path, "read_text", denied)
    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(PolicyError, match=r"(?i)permission denied"):
        load_policy(path)


# -- describing ------------------------------------------------------------------------------


def test_describe_says_who_may_approve_and_from_where():
    policy = Policy(approvers=("U0AAA", "U0BBB"), approver_groups=("S0CCC", "S0DDD", "S0EEE"))
    text = describe(
        policy,
        static_approvers=("U0AAA", "U0ZZZ"),
        group_members={"S0CCC": frozenset({"U0EEE", "U0DDD"}), "S0DDD": frozenset()},
        group_problems={"S0EEE": "Slack has no such user group"},
    )
    assert (
        "  U0AAA (NUMBOT_APPROVERS and policy)\n  U0BBB (policy)\n  U0ZZZ (NUMBOT_APPROVERS)"
        in text
    )
    assert "user group S0CCC: U0DDD, U0EEE (now; numbot reads them again in the background" in text
    assert "user group S0DDD: no members" in text
    assert "user group S0EEE: could not read its members now (Slack has no such user group)" in text


def test_describe_without_slack_says_members_are_read_at_each_click():
    text = describe(Policy(approver_groups=("S0CCC",)), static_approvers=(), group_members=None)
    assert "user group S0CCC: members read from Slack in the background" in text


def test_describe_puts_limits_in_dollars_and_tiers_in_words(tmp_path):
    policy = load_policy(write(tmp_path, FULL))
    text = describe(policy, static_approvers=(), group_members=None, source="policy.toml")
    assert text.splitlines()[0] == f"Spend policy policy.toml, hash {policy.hash}"
    assert "    up to $20.00: 1 approval\n    above $20.00: 2 approvals\n" in text
    assert "a charge numbot cannot price: 2 approvals" in text
    assert "cap: a purchase charging more than $25.00 now is refused when requested" in text
    assert "monthly budget: $100.00 per UTC calendar month" in text
    assert "Releases: 2 approvals" in text
    assert "Holds: at most 3 open per person" in text


def test_describe_the_policy_that_asks_nothing_more():
    text = describe(NO_POLICY, static_approvers=("U0AAA",), group_members=None)
    assert "  approvals: 1 for any amount" in text
    assert "cap: none" in text and "monthly budget: none" in text
    assert "Holds: no limit per person" in text and "Releases: 1 approval" in text
    assert NO_POLICY.hash in text


def test_describe_shows_what_a_tier_asking_fewer_than_a_lower_one_means():
    policy = Policy(
        quorum=(
            QuorumTier(above_usd=Decimal("20"), approvals=3),
            QuorumTier(above_usd=Decimal("50"), approvals=2),
        )
    )
    text = describe(policy, static_approvers=(), group_members=None)
    assert "above $50.00: 3 approvals (the tier says 2; a lower tier already asks 3)" in text


def test_describe_says_when_nobody_may_approve():
    text = describe(NO_POLICY, static_approvers=(), group_members=None)
    assert "nobody: numbot run refuses to start" in text


def test_describe_warns_when_a_request_could_never_get_enough_approvals():
    policy = Policy(
        approver_groups=("S0CCC",),
        release_approvals=3,
        quorum=(QuorumTier(above_usd=Decimal("20"), approvals=2),),
    )
    members = {"S0CCC": frozenset({"U0BBB"})}
    text = describe(policy, static_approvers=("U0AAA",), group_members=members)
    assert (
        "a release may need 3 approvals and only 2 people may approve: it can never be approved"
        in text
    )
    assert (
        "a purchase may need 2 approvals and only 2 people may approve: one asked for by one of them"
        in text
    )
    # Unknown members: numbot cannot tell, and says nothing.
    assert "Warnings" not in describe(policy, static_approvers=("U0AAA",), group_members=None)


# -- settings: NUMBOT_POLICY, read once; numbot run's refusals -------------------------------


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


RUNNABLE = {
    "SLACK_BOT_TOKEN": "xoxb-policy-test",
    "SLACK_APP_TOKEN": "xapp-policy-test",
    "NUMBOT_APPROVAL_CHANNEL": "C0APPROVALS",
}


def settings(**fields: object) -> Settings:
    return load_settings(_env_file=None, **{**RUNNABLE, **fields})


def test_without_numbot_policy_the_policy_asks_nothing_more(clean_env):
    assert settings().policy() is NO_POLICY
    assert settings(NUMBOT_POLICY="").NUMBOT_POLICY is None


def test_the_policy_is_read_once(clean_env, tmp_path):
    path = write(tmp_path, 'max_purchase_usd = "25.00"')
    loaded = settings(NUMBOT_POLICY=str(path))
    first = loaded.policy()
    path.write_text('max_purchase_usd = "99.00"')
    assert loaded.policy() is first and first.max_purchase_usd == Decimal("25.00")


def test_an_invalid_policy_is_a_settings_error_with_the_check_s_message(clean_env, tmp_path):
    path = write(tmp_path, "max_open_holds = 0\n")
    with pytest.raises(PolicyError) as checked:
        load_policy(path)
    loaded = settings(NUMBOT_APPROVERS="U0AAA", NUMBOT_POLICY=str(path))
    with pytest.raises(SettingsError) as refused:
        loaded.require_slack()
    assert str(refused.value) == str(checked.value)


def test_approvers_may_come_from_the_policy_alone(clean_env, tmp_path):
    people = write(tmp_path, 'approvers = ["U0AAA"]', "people.toml")
    settings(NUMBOT_POLICY=str(people)).require_slack()
    groups = write(tmp_path, 'approver_groups = ["S0CCC"]', "groups.toml")
    settings(NUMBOT_POLICY=str(groups)).require_slack()


def test_run_refuses_when_no_approver_can_exist(clean_env, tmp_path):
    with pytest.raises(SettingsError) as caught:
        settings().require_slack()
    assert NO_APPROVER in str(caught.value)
    limits_only = write(tmp_path, 'max_purchase_usd = "25.00"')
    with pytest.raises(SettingsError) as caught:
        settings(NUMBOT_POLICY=str(limits_only)).require_slack()
    assert NO_APPROVER in str(caught.value) and "NUMBOT_APPROVERS" in str(caught.value)


# -- the example in docs/policy.md -----------------------------------------------------------


def test_the_documented_example_is_valid_and_means_what_the_page_says(tmp_path):
    page = (REPO / "docs" / "policy.md").read_text(encoding="utf-8")
    section = page.split("## A full example", 1)[1].split("\n## ", 1)[0]
    example = re.findall(r"```toml\n(.*?)```", section, re.S)[0]
    policy = load_policy(write(tmp_path, example))
    assert set(Policy.model_fields) <= {line.split(" =")[0] for line in example.splitlines()} | {
        "quorum"
    }
    text = describe(policy, static_approvers=(), group_members=None)
    for claim in ("above $20.00: 3 approvals", "$25.00", "$100.00", "at most 3 open"):
        assert claim in text, claim
    assert 'above_usd = "20.00"' in example and "approvals = 3" in example


def test_a_policy_round_trips_through_its_dump(tmp_path):
    """Amounts given as Decimal (from code, or a Policy's own model_dump) are amounts too."""
    policy = load_policy(write(tmp_path, FULL))
    again = Policy.model_validate(policy.model_dump())
    assert again == policy and again.hash == policy.hash
    assert Policy(max_purchase_usd=Decimal("2.5")).max_purchase_usd == Decimal("2.5")


# -- the policy in force follows its file --------------------------------------------------------


def test_the_policy_in_force_follows_its_file_and_refuses_a_bad_edit(tmp_path, caplog):
    from bot.config.policy_file import PolicySource

    path = tmp_path / "policy.toml"
    path.write_text('max_purchase_usd = "25.00"\n')
    now = [0.0]
    source = PolicySource(str(path), load_policy(path), interval=1.0, monotonic=lambda: now[0])
    first = source.current()
    path.write_text('max_purchase_usd = "5.00"\n')
    assert source.current() is first  # looked at no more than once a second
    now[0] += 1.0
    assert str(source.current().max_purchase_usd) == "5.00"
    path.write_text("max_purchase_usd = 5.0\n")  # a TOML float: refused
    now[0] += 1.0
    with caplog.at_level("ERROR"):
        assert str(source.current().max_purchase_usd) == "5.00"  # the last good policy stays
    assert "was not taken" in caplog.text


def test_approvers_follow_the_policy_in_force():
    from bot.workflow.approvers import ApproverSet
    from bot.workflow.policy import Policy

    policy = [Policy(approvers=("U0BOB",))]
    approvers = ApproverSet(()).follow(lambda: policy[0], ["U0ALICE"])
    assert approvers.static == {"U0ALICE", "U0BOB"}
    policy[0] = Policy(approvers=(), approver_groups=("S0FIN",))
    assert approvers.static == {"U0ALICE"} and approvers.groups == ("S0FIN",)
