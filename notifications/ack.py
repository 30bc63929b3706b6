"""The acknowledgement link of one delivery: ``/ack/<token>``, signed, expiring, one use.

A token is ``<delivery id>.<expiry, Unix seconds>.<signature>``, the signature an HMAC-SHA256
of the first two parts with the web app's session key (``CITYOPS_SECRET_KEY``, which the worker
that writes the messages shares). Every try of a delivery carries the same link, so a message
that reached its reader after a timeout still works. The database keeps only the token's
SHA-256 and marks it used; :func:`read_token` checks the signature in constant time before
anything is looked up, so a guessed or altered token costs nothing and tells nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

VALID_FOR = timedelta(hours=24)
MAX_TOKEN_CHARS = 80
_TOKEN = re.compile(r"([1-9][0-9]{0,17})\.([0-9]{10})\.([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class AckToken:
    delivery_id: int
    expires_at: datetime


def _signature(secret_key: str, delivery_id: int, expires_s: int) -> str:
    digest = hmac.new(secret_key.encode(), f"cityops ack\0{delivery_id}.{expires_s}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(secret_key: str, delivery_id: int, expires_at: datetime) -> str:
    """The token of delivery ``delivery_id``'s link, valid until ``expires_at``."""
    expires_s = int(expires_at.timestamp())
    return f"{delivery_id}.{expires_s}.{_signature(secret_key, delivery_id, expires_s)}"


def token_hash(token: str) -> str:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def read_token(secret_key: str, token: object) -> AckToken | None:
    """The delivery and expiry a genuine token names; None for anything else (forged, altered,
    malformed). Expiry is the caller's to judge (it says "expired" rather than "not found")."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    delivery_id, expires_s = int(match[1]), int(match[2])
    if not hmac.compare_digest(_signature(secret_key, delivery_id, expires_s), match[3]):
        return None
    return AckToken(delivery_id, datetime.fromtimestamp(expires_s, UTC))


def ack_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/ack/{token}"
