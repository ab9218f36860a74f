"""The spend policy's file: read the TOML that NUMBOT_POLICY names, and say what it means.

    policy = load_policy("policy.toml")      # Policy, or PolicyError naming every problem
    print(describe(policy, static_approvers=settings.NUMBOT_APPROVERS, group_members=None))

`load_policy` is the one way numbot reads a policy: `numbot run` (through
`Settings.policy()`) and `numbot policy check` print the same message for the same file. A
problem with the file itself (missing, unreadable, not UTF-8, not TOML) is one sentence; a
file that parses is validated by `Policy` (bot/workflow/policy.py), and every bad key is named
with where it is (`quorum[1].approvals: must be at least 1`), not only the first.

`describe` is pure: it prints the effective policy for people (who may approve, each user
group with its members when they are known, amounts in dollars, the quorum tiers in words,
and the policy's hash, which the audit log records with every decision).
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.kernel.money import usd
from bot.workflow.policy import Policy, QuorumTier, approvals_needed

logger = logging.getLogger(__name__)


class PolicyError(Exception):
    """The spend policy file cannot be used; the message says why, for people."""


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and validate the policy at `path`; raise PolicyError naming every problem."""
    data = _read_toml(Path(path))
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(err) for err in exc.errors()]
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    # Raised outside the except block: the pydantic error adds nothing a person needs.
    raise PolicyError(f"invalid policy in {path} ({count}):\n" + "\n".join(problems))


def _read_toml(path: Path) -> dict[str, Any]:
    problem: str
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        problem = f"no policy file at {path}"
    except IsADirectoryError:
        problem = f"the policy file {path} is a directory"
    except PermissionError:
        problem = f"cannot read the policy file {path}: permission denied"
    except OSError as exc:
        problem = f"cannot read the policy file {path}: {exc.strerror or type(exc).__name__}"
    else:
        try:
            return tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            problem = (
                f"the policy file {path} is not UTF-8 text (byte {exc.start + 1} is not): "
                "TOML files are UTF-8"
            )
        except tomllib.TOMLDecodeError as exc:
            problem = f"the policy file {path} is not valid TOML: {exc}"
    raise PolicyError(problem)


# -- naming each problem --------------------------------------------------------------------


def _where(loc: tuple[int | str, ...]) -> str:
    """('quorum', 1, 'approvals') -> 'quorum[1].approvals' (indexes count from 0)."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the file"


def _shown(value: object) -> str:
    """A value as the file spells it (true, "bob", 2.5), cut short."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:39] + "…"


def _keys(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _unknown_key(loc: tuple[int | str, ...]) -> str:
    name = str(loc[-1])
    in_tier = len(loc) > 1
    known = _keys(QuorumTier) if in_tier else _keys(Policy)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    where = "a key of a [[quorum]] table" if in_tier else "a policy key"
    return f"is not {where} (known: {', '.join(known)}){hint}"


def _problem(err: Any) -> str:
    """One line for one pydantic error: where it is, and what to write instead."""
    loc: tuple[int | str, ...] = tuple(err["loc"])
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    value = err.get("input")
    top = str(loc[0]) if loc else ""
    if kind == "value_error" and "error" in ctx:
        message = str(ctx["error"])
    elif kind == "extra_forbidden":
        message = _unknown_key(loc)
    elif kind == "missing":
        message = "is required"
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = {
            "greater_than_equal": ("must be at least", "ge"),
            "greater_than": ("must be more than", "gt"),
            "less_than_equal": ("must be at most", "le"),
            "less_than": ("must be less than", "lt"),
        }[kind]
        message = f"{bound[0]} {ctx[bound[1]]}"
    elif kind in ("int_type", "int_parsing", "int_from_float"):
        message = f"must be a whole number, like 2 (not {_shown(value)})"
    elif kind == "string_pattern_mismatch" and top == "approvers":
        message = f"{_shown(value)} is not a Slack user id (U… or W…)"
    elif kind == "string_pattern_mismatch" and top == "approver_groups":
        message = f"{_shown(value)} is not a Slack user group id (S…)"
    elif kind == "string_type":
        message = f"must be a string in quotes, not {_shown(value)}"
    elif kind in ("tuple_type", "list_type") and top == "quorum":
        message = 'must be tables: [[quorum]] with above_usd = "20.00" and approvals = 2'
    elif kind in ("tuple_type", "list_type"):
        message = f'must be a list in brackets, like ["{"S0CCC" if top == "approver_groups" else "U0AAA"}"]'
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        message = 'must be a table: [[quorum]] with above_usd = "20.00" and approvals = 2'
    else:
        message = str(err["msg"])
    return f"  {_where(loc)}: {message}"


# -- the effective policy, for people -------------------------------------------------------


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _approver_lines(
    policy: Policy,
    static_approvers: Iterable[str],
    group_members: Mapping[str, frozenset[str]] | None,
    group_problems: Mapping[str, str],
) -> list[str]:
    from_env = set(static_approvers)
    from_policy = set(policy.approvers)
    lines = []
    for user in sorted(from_env | from_policy):
        sources = [
            name
            for name, found in (("NUMBOT_APPROVERS", from_env), ("policy", from_policy))
            if user in found
        ]
        lines.append(f"  {user} ({' and '.join(sources)})")
    for group in policy.approver_groups:
        if group in group_problems:
            lines.append(
                f"  user group {group}: could not read its members now ({group_problems[group]}); "
                "numbot reads them in the background and counts nobody from it while Slack "
                "cannot say"
            )
        elif group_members is not None and group in group_members:
            members = sorted(group_members[group])
            who = ", ".join(members) if members else "no members"
            lines.append(
                f"  user group {group}: {who} (now; numbot reads them again in the background "
                "and applies Slack's membership changes at once)"
            )
        else:
            lines.append(f"  user group {group}: members read from Slack in the background")
    if not lines:
        lines.append(
            "  nobody: numbot run refuses to start until NUMBOT_APPROVERS or the policy's "
            "approvers or approver_groups name someone"
        )
    return lines


def _quorum_lines(policy: Policy) -> list[str]:
    if not policy.quorum:
        return ["  approvals: 1 for any amount"]
    lines = ["  approvals, by the charge now (setup + first month):"]
    lines.append(f"    up to {usd(policy.quorum[0].above_usd)}: 1 approval")
    for tier in policy.quorum:
        # approvals_needed counts every tier a charge is strictly above: just above this
        # threshold, each tier at or below it applies, and the most any of them asks wins.
        needed = max(t.approvals for t in policy.quorum if t.above_usd <= tier.above_usd)
        line = f"    above {usd(tier.above_usd)}: {_plural(needed, 'approval')}"
        if needed != tier.approvals:
            line += f" (the tier says {tier.approvals}; a lower tier already asks {needed})"
        lines.append(line)
    unknown = approvals_needed(policy, "purchase", None)
    lines.append(f"    a charge numbot cannot price: {_plural(unknown, 'approval')}")
    return lines


def _warning_lines(
    policy: Policy,
    static_approvers: Iterable[str],
    group_members: Mapping[str, frozenset[str]] | None,
) -> list[str]:
    """Requests that could never be approved, when numbot knows everyone who may approve."""
    people = set(static_approvers) | set(policy.approvers)
    for group in policy.approver_groups:
        if group_members is None or group not in group_members:
            return []  # someone may be in a group numbot could not read
        people |= group_members[group]
    if not people:
        return []  # said under "Who may approve"
    purchase = approvals_needed(policy, "purchase", None)  # the most any tier asks
    release = policy.release_approvals
    needs = [(purchase, "a purchase"), (release, "a release")]
    if purchase == release:
        needs = [(purchase, "a purchase or a release")]
    count = len(people)
    who = f"only {count} {'person' if count == 1 else 'people'} may approve"
    lines = []
    for needed, what in needs:
        if needed > count:
            lines.append(
                f"  {what} may need {_plural(needed, 'approval')} and {who}: "
                "it can never be approved"
            )
        elif needed == count:
            lines.append(
                f"  {what} may need {_plural(needed, 'approval')} and {who}: one asked for by "
                "one of them can never be approved (the requester never counts)"
            )
    return ["", "Warnings:", *lines] if lines else []


def describe(
    policy: Policy,
    *,
    static_approvers: Iterable[str],
    group_members: Mapping[str, frozenset[str]] | None,
    group_problems: Mapping[str, str] | None = None,
    source: str | os.PathLike[str] | None = None,
) -> str:
    """The effective policy in words, for `numbot policy check`.

    `static_approvers`: NUMBOT_APPROVERS, to which the policy's approvers are added.
    `group_members`: each user group's members as Slack has them now, when numbot could ask
    (None: it was not asked, and the members are read at each click); `group_problems`: why
    a group's members could not be read.
    """
    header = "Spend policy" + (f" {source}" if source is not None else "")
    cap = policy.max_purchase_usd
    budget = policy.monthly_budget_usd
    holds = policy.max_open_holds
    lines = [
        f"{header}, hash {policy.hash}",
        "",
        "Who may approve (never their own request):",
        *_approver_lines(policy, static_approvers, group_members, group_problems or {}),
        "",
        "Purchases:",
        *_quorum_lines(policy),
        (
            f"  cap: a purchase charging more than {usd(cap)} now is refused when requested"
            if cap is not None
            else "  cap: none"
        ),
        (
            f"  monthly budget: {usd(budget)} per UTC calendar month (charged + being bought "
            "+ pending requests); checked when requested and again at the last approval"
            if budget is not None
            else "  monthly budget: none"
        ),
        f"Releases: {_plural(policy.release_approvals, 'approval')}",
        (
            f"Holds: at most {holds} open per person"
            if holds is not None
            else "Holds: no limit per person"
        ),
        *_warning_lines(policy, static_approvers, group_members),
    ]
    return "\n".join(lines)


class PolicySource:
    """The policy in force, read again when its file changes, so a change (someone taken off
    `approvers`, a new cap) applies from the next click without a restart.

    The file is looked at no more than once every `interval` seconds (a stat, not a read,
    unless it changed). An edit that does not validate is refused: the policy in force stays,
    and the log says why, so a typo never leaves numbot without rules. Every decision audits
    the hash of the policy it used.
    """

    def __init__(
        self,
        path: str | None,
        policy: Policy,
        *,
        interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path) if path else None
        self._policy = policy
        self._interval = interval
        self._monotonic = monotonic
        self._checked = monotonic()
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def current(self) -> Policy:
        now = self._monotonic()
        if self.path is None or now - self._checked < self._interval:
            return self._policy
        self._checked = now
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return self._policy
        self._seen = stamp
        try:
            policy = load_policy(self.path)
        except PolicyError as exc:
            logger.error(
                "the changed policy was not taken (policy %s stays): %s", self._policy.hash, exc
            )
            return self._policy
        if policy.hash != self._policy.hash:
            logger.info(
                "policy reloaded from %s: %s -> %s", self.path, self._policy.hash, policy.hash
            )
        self._policy = policy
        return policy
