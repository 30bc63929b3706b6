"""The signatures of the webhook kinds, and the check a receiver of our own webhook runs.

- Our signed JSON webhook: headers ``X-Cityops-Timestamp`` (Unix seconds) and
  ``X-Cityops-Signature: sha256=<hex>``, the HMAC-SHA256 with the channel's secret of
  ``"<timestamp>." + body``. A receiver recomputes it over the raw body, compares in constant
  time and refuses a timestamp more than :data:`REPLAY_WINDOW_S` from its clock, so a recorded
  message cannot be played again later.
- DingTalk (钉钉) custom robots: ``timestamp`` (milliseconds) and ``sign`` =
  base64(HMAC-SHA256(key = secret, message = ``"<timestamp>\\n<secret>"``)) in the URL's query.
- Feishu (飞书) custom bots: ``timestamp`` (seconds) and ``sign`` = base64(HMAC-SHA256(key =
  ``"<timestamp>\\n<secret>"``, empty message)) in the JSON body.
- WeCom (企业微信) group robots have no signature: the robot's key in the URL is the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TIMESTAMP_HEADER = "X-Cityops-Timestamp"
SIGNATURE_HEADER = "X-Cityops-Signature"
REPLAY_WINDOW_S = 300


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` over ``"<timestamp>." + body``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_webhook(secret: str, timestamp: str | None, signature: str | None, body: bytes, now_s: float) -> bool:
    """Whether a received webhook is ours and recent: what a receiver runs on the raw body."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs(now_s - int(timestamp)) > REPLAY_WINDOW_S:
        return False
    return hmac.compare_digest(webhook_signature(secret, int(timestamp), body), signature)


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """The robot's URL with ``timestamp`` and ``sign`` added to its query (its own parameters kept)."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    sign = base64.b64encode(hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()).decode()
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("timestamp", "sign")]
    query += [("timestamp", str(timestamp_ms)), ("sign", sign)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """The ``sign`` field of a Feishu bot message sent at ``timestamp_s``."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
