"""Slack's request signature (v0), checked before numbot parses anything.

Slack sends `X-Slack-Request-Timestamp` and `X-Slack-Signature: v0=<hex>`, the hex being
HMAC-SHA256, keyed with the app's signing secret, of `v0:<timestamp>:<raw body>`
(https://api.slack.com/authentication/verifying-requests-from-slack).

    signed = check_headers(timestamp, signature, now=time.time())  # before the body is read
    if not isinstance(signed, Refusal) and signature_matches(secret, signed, body): ...

The headers alone decide most refusals, so a request without a well-formed, fresh signature
is turned away before numbot reads a byte of its body.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from bot.slack.ingress.refusal import Refusal

# Slack's replay window: a signed request older (or newer) than this is refused, so a
# captured request cannot be replayed later.
MAX_AGE_SECONDS = 5 * 60

# ASCII digits only: int() would also take " 17", "+17", "1_7" and other scripts' digits, and
# a request that needs any of that was not made by Slack. Twelve digits is ~30,000 years.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# Slack writes the digest as lower-case hex (Python's hexdigest), as bolt expects too.
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")

MISSING = Refusal(401, "no Slack signature headers")
BAD_TIMESTAMP = Refusal(401, "malformed X-Slack-Request-Timestamp")
STALE = Refusal(401, "X-Slack-Request-Timestamp more than five minutes from now")
BAD_SIGNATURE = Refusal(401, "malformed X-Slack-Signature")
MISMATCH = Refusal(401, "X-Slack-Signature does not match the body")


@dataclass(frozen=True)
class SignedHeaders:
    """Well-formed signature headers with a fresh timestamp; the body is still to be checked."""

    timestamp: str
    signature: str


def check_headers(
    timestamp: str | None, signature: str | None, *, now: float
) -> SignedHeaders | Refusal:
    """Both headers present, the timestamp whole seconds within five minutes of `now`."""
    if timestamp is None or signature is None:
        return MISSING
    if not _TIMESTAMP.fullmatch(timestamp):
        return BAD_TIMESTAMP
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        return STALE
    if not _SIGNATURE.fullmatch(signature):
        return BAD_SIGNATURE
    return SignedHeaders(timestamp, signature)


def signature_matches(secret: bytes, headers: SignedHeaders, body: bytes) -> bool:
    """The HMAC over the raw bytes (before any decoding), compared in constant time."""
    mac = hmac.new(secret, digestmod=hashlib.sha256)
    mac.update(b"v0:" + headers.timestamp.encode("ascii") + b":")
    mac.update(body)  # fed separately: no copy of a body of up to the size limit
    expected = b"v0=" + mac.hexdigest().encode("ascii")
    return hmac.compare_digest(expected, headers.signature.encode("ascii"))
