"""Password hashing (werkzeug's scrypt, salted, never home-made) and the rules a new password must meet.

Error messages say what is wrong and never contain the password.
"""

from __future__ import annotations

import logging
import secrets
import string

from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12
# Hashing cost grows with the input: a bound keeps a hostile 10 MB "password" from costing anything.
MAX_LENGTH = 1024
GENERATED_LENGTH = 20
_GENERATED_ALPHABET = string.ascii_letters + string.digits  # no symbols: easy to copy from a terminal
_MIN_DISTINCT = 6

log = logging.getLogger(__name__)


class WeakPassword(ValueError):
    """A password the rules refuse; the message says which rule."""


def check_password_form(password: str) -> None:
    """What any password must be to be hashed or checked: text of at most 1024 characters, on one
    line (no line breaks), without NUL, encodable as UTF-8 (no unpaired surrogates)."""
    if not isinstance(password, str):
        raise WeakPassword("the password must be text")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"the password is longer than {MAX_LENGTH} characters")
    if "\n" in password or "\r" in password or "\x00" in password:
        raise WeakPassword("the password must not contain line breaks or NUL characters")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise WeakPassword("the password is not valid Unicode text (unpaired surrogates)") from None


def check_password_strength(password: str, *, name: str | None = None) -> None:
    """Refuse (:class:`WeakPassword`) a new password that is malformed (:func:`check_password_form`),
    shorter than 12 characters, of one kind of character only (all lower case, all digits, …),
    of fewer than 6 different characters, or containing the user ``name``."""
    check_password_form(password)
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"the password must have at least {MIN_LENGTH} characters")
    if len({_kind(char) for char in password}) < 2:
        raise WeakPassword("the password must mix kinds of characters: lower case, upper case, digits, others")
    if len(set(password)) < _MIN_DISTINCT:
        raise WeakPassword(f"the password must have at least {_MIN_DISTINCT} different characters")
    if name and _contains_name(password, name):
        raise WeakPassword("the password must not contain the user name")


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` (a new salt every call), in werkzeug's ``scrypt:n:r:p$salt$hash`` form."""
    check_password_form(password)
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str, password: str) -> bool:
    """True if ``password`` matches ``password_hash`` (constant-time comparison).

    A malformed password, or a hash werkzeug cannot read (e.g. an unknown method), is False.
    """
    try:
        check_password_form(password)
    except WeakPassword:
        return False
    try:
        return check_password_hash(password_hash, password)
    except (ValueError, TypeError):  # never log the hash itself
        log.warning("a stored password hash is in a format werkzeug cannot check")
        return False


def generate_password() -> str:
    """A random 20-character password of letters and digits (the demo's admin password)."""
    while True:  # nearly always once: retry the rare draw without a lower, an upper case letter or a digit
        password = "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(GENERATED_LENGTH))
        if {"lower", "upper", "digit"} <= {_kind(char) for char in password} and len(set(password)) >= _MIN_DISTINCT:
            return password


def _kind(char: str) -> str:
    if char.islower():
        return "lower"
    if char.isupper():
        return "upper"
    if char.isdigit():
        return "digit"
    return "other"


def _contains_name(password: str, name: str) -> bool:
    # A very short name (e.g. "al") appears by chance in good passwords: only equality counts then.
    password, name = password.casefold(), name.casefold()
    return name in password if len(name) >= 4 else password == name
