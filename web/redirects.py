"""Where the app may send a browser after sign-in or a language switch: only to its own pages."""

from __future__ import annotations

from urllib.parse import urlsplit

_MAX_NEXT_CHARS = 2048


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site (``/…``, not ``//host`` nor ``/\\host``), else ``/``."""
    if not target or len(target) > _MAX_NEXT_CHARS or not target.startswith("/"):
        return "/"
    if target.startswith(("//", "/\\")) or any(ord(char) < 0x20 or char in "\\\x7f" for char in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target
