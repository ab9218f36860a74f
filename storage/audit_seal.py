"""The audit log's seal: the key, the entry, how each link is computed and checked.

    hash[n] = HMAC(key, "numbot-audit-v2" || hash[n-1] || canonical_json([seq, at, ..., state]))

Pure functions and values, no database: storage/audit.py writes and reads the chain with them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

GENESIS = "0" * 64
COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "subject",
    "outcome",
    "detail",
    "state",
    "prev_hash",
    "hash",
)
RESEALED = "audit_resealed"
MIN_KEY_LENGTH = 32
_DOMAIN = b"numbot-audit-v2"

Outcome = Literal["ok", "refused", "failed", "unknown"]


class AuditKeyError(Exception):
    """The audit key is missing, too short, or not the one this log was sealed with."""


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    outcome: str
    detail: str
    state: str | None
    prev_hash: str
    hash: str

    def detail_fields(self) -> dict[str, object]:
        """The detail as a dict ({} when it is not a JSON object)."""
        try:
            value = json.loads(self.detail) if self.detail else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    head: str
    bad_seq: int | None = None
    problem: str = ""
    legacy: int = 0  # entries from before the key, bound by the reseal entry


def stamp(moment: datetime) -> str:
    """An entry's `at`: UTC, microseconds, so that text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_now() -> str:
    return stamp(datetime.now(UTC))


# A lone surrogate (never valid Unicode text) and NUL (PostgreSQL stores no NUL in text).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """Text both engines store as given: a lone surrogate or a NUL becomes U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)


def sealed_payload(
    seq: int,
    at: str,
    actor: str,
    action: str,
    subject: str,
    outcome: str,
    detail: str,
    state: str | None,
) -> bytes:
    fields: list[object] = [seq, at, actor, action, subject, outcome, detail, state]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def legacy_hash(
    prev_hash: str,
    seq: int,
    at: str,
    actor: str,
    action: str,
    subject: str,
    outcome: str,
    detail: str,
) -> str:
    """The unkeyed SHA-256 link numbot wrote before the audit key (no `state` field)."""
    payload = json.dumps(
        [seq, at, actor, action, subject, outcome, detail],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


class AuditKey:
    """The secret that seals the chain. It never enters the database."""

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        if len(raw) < MIN_KEY_LENGTH:
            raise AuditKeyError(
                f"the audit key must be at least {MIN_KEY_LENGTH} characters "
                '(make one with: python -c "import secrets; print(secrets.token_hex(32))")'
            )
        self._raw = raw

    def __repr__(self) -> str:
        return "AuditKey(**********)"

    def seal(self, prev_hash: str, payload: bytes) -> str:
        mac = hmac.new(self._raw, _DOMAIN, hashlib.sha256)
        mac.update(prev_hash.encode("ascii", "replace"))
        mac.update(payload)
        return mac.hexdigest()

    def authentic(self, entry: AuditEntry) -> bool:
        """Whether this one entry was sealed with this key (its link is not checked here)."""
        expected = self.seal(entry.prev_hash, sealed_payload(*entry_fields(entry)))
        return hmac.compare_digest(expected, entry.hash)


def entry_fields(entry: AuditEntry) -> tuple[int, str, str, str, str, str, str, str | None]:
    return (
        entry.seq,
        entry.at,
        entry.actor,
        entry.action,
        entry.subject,
        entry.outcome,
        entry.detail,
        entry.state,
    )


def entry_from_row(row: tuple[object, ...]) -> AuditEntry:
    return AuditEntry(*row)  # type: ignore[arg-type]


def legacy_problem(entry: AuditEntry, prev: str, expected_seq: int) -> str:
    """Why this entry is not a valid link of an unkeyed chain ('' when it is)."""
    if entry.seq != expected_seq or entry.prev_hash != prev:
        return "out of order"
    if entry.state is not None:
        return "an unkeyed entry cannot carry a state"
    if legacy_hash(prev, *entry_fields(entry)[:7]) != entry.hash:
        return "its contents do not match its hash"
    return ""


def seals_legacy(entry: AuditEntry, legacy: int, legacy_head: str) -> bool:
    fields = entry.detail_fields()
    return (
        entry.action == RESEALED
        and fields.get("legacy_entries") == legacy
        and fields.get("legacy_head") == legacy_head
    )


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def spreadsheet_safe(value: object) -> object:
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a leading '
    (OWASP's advice for CSV injection). Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value
