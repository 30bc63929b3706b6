"""Personal data on screens, in exports and in the ingest's rejects: phone numbers are masked
(e.g. ``138****5678``).

Only a role that needs the full number may see it, and that view is audited (``web.api``). A
message the ingest refuses is stored for diagnosis with its personal data masked first
(:func:`mask_personal` for JSON, :func:`mask_personal_text` for anything else).
"""

from __future__ import annotations

import re
from typing import Any


def mask_phone(phone: object) -> str | None:
    """The number with all but its first 3 and last 4 digits hidden; short numbers keep only 2 digits.

    Separators (spaces, dashes, a leading +) are dropped so the mask reveals no digit count
    beyond what the shown ones say. No number — None, an empty text, or the NaN / NA a data
    frame holds for a missing one (every sensor alarm has no reporter) — is None.
    """
    if not isinstance(phone, str) or not phone:
        return None
    digits = [char for char in phone if char.isdigit()]
    if len(digits) >= 9:
        return "".join(digits[:3]) + "****" + "".join(digits[-4:])
    if len(digits) >= 4:
        return "".join(digits[:1]) + "****" + "".join(digits[-1:])
    return "****"


# -- personal data in what devices sent (the ingest's rejects) ---------------------------------

# Keys whose values are personal data wherever they appear: the event schema's reporter_phone,
# and the same data under another name or nested deeper (a gateway's own fields).
PERSONAL_KEY = re.compile(r"phone|mobile", re.IGNORECASE)
# Keys that name, time or classify a message and are never personal: kept as sent, so an operator
# can still tell which message a reject was (an event id often holds a long run of digits).
_TRACE_KEYS = frozenset({"id", "ts", "t", "bt", "source", "category", "severity", "status", "kind", "bn", "n", "u"})
# Seven or more digits, perhaps after a "+" and split by spaces, dashes or brackets: a phone number
# as people write one (13812345678, +86 138 1234 5678, (212) 555-0100). Not a date (2024-06-01).
PHONE_LIKE = re.compile(r"(?<!\d)(?!\d{4}-\d\d-\d\d)\+?\d(?:[ ()\-]{0,2}\d){6,}(?!\d)")
# JSON escapes of the digits and "+" (\u0031…) would hide a number from PHONE_LIKE in raw text.
_ESCAPED_DIGIT = re.compile(r"\\u00(3[0-9]|2[bB])")
# "…phone…": "value" (or a bare number, or a string cut short) in text that is not valid JSON.
_PERSONAL_FIELD = re.compile(r'("[^"\\]*(?:phone|mobile)[^"\\]*"\s*:\s*)("(?:[^"\\]|\\.)*"?|[-+\d][-+\d ().]*)',
                             re.IGNORECASE)


def mask_phones_in_text(text: str) -> str:
    """``text`` with every phone-like run of digits masked as :func:`mask_phone` masks a number."""
    return PHONE_LIKE.sub(lambda match: mask_phone(match.group()) or "", text)


def mask_personal(value: Any) -> tuple[Any, bool]:
    """Decoded JSON with its personal data masked, and whether anything was masked.

    Any value under a personal key (:data:`PERSONAL_KEY`, at any depth) is masked whole, strings
    and numbers alike; elsewhere phone-like runs in strings are masked, except under the keys that
    identify a message (its id, time, source, category…). Numbers outside personal keys are kept:
    they are readings, coordinates and times.
    """
    kind = type(value)
    if kind is dict:
        changed = False
        out = {}
        for key, item in value.items():
            if PERSONAL_KEY.search(key):
                out[key], hidden = _mask_whole(item)
            elif key in _TRACE_KEYS:
                out[key], hidden = item, False
            else:
                out[key], hidden = mask_personal(item)
            changed = changed or hidden
        return (out, True) if changed else (value, False)
    if kind is list:
        pairs = [mask_personal(item) for item in value]
        return ([item for item, _ in pairs], True) if any(hidden for _, hidden in pairs) else (value, False)
    if kind is str:
        masked = mask_phones_in_text(value)
        return masked, masked != value
    return value, False


def _mask_whole(value: Any) -> tuple[Any, bool]:
    """Every string and number in ``value`` masked (it sits under a personal key)."""
    kind = type(value)
    if kind is dict:
        return {key: _mask_whole(item)[0] for key, item in value.items()}, True
    if kind is list:
        return [_mask_whole(item)[0] for item in value], True
    if kind is str or kind is int or kind is float:
        return mask_phone(str(value)), True
    return value, False  # null or a boolean says nothing about anyone


def mask_personal_text(text: str) -> str:
    """Text that is not valid JSON (cut short, malformed, oversize) with its personal data masked: the
    values of personal fields, then phone-like runs anywhere (a number that only looks like one, such
    as a Unix time, is masked too: without the structure there is no telling)."""
    if "\\u00" in text:
        text = _ESCAPED_DIGIT.sub(lambda match: chr(int(match.group(1), 16)), text)
    text = _PERSONAL_FIELD.sub(lambda match: f'{match.group(1)}"{mask_phone(match.group(2).strip(chr(34)))}"', text)
    return mask_phones_in_text(text)
