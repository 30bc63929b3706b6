"""Personal data on screens and in exports: phone numbers are masked (e.g. ``138****5678``).

Only a role that needs the full number may see it, and that view is audited (``web.api``).
"""

from __future__ import annotations


def mask_phone(phone: str | None) -> str | None:
    """The number with all but its first 3 and last 4 digits hidden; short numbers keep only 2 digits.

    Separators (spaces, dashes, a leading +) are dropped so the mask reveals no digit count
    beyond what the shown ones say.
    """
    if phone is None:
        return None
    digits = [char for char in phone if char.isdigit()]
    if len(digits) >= 9:
        return "".join(digits[:3]) + "****" + "".join(digits[-4:])
    if len(digits) >= 4:
        return "".join(digits[:1]) + "****" + "".join(digits[-1:])
    return "****"
