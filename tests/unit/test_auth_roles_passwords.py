"""The permission matrix (docs/contract.md "HTTP"), password hashing and the password rules, hostile input included."""

from __future__ import annotations

import time

import pytest

from auth.passwords import (
    MAX_LENGTH,
    WeakPassword,
    check_password_strength,
    generate_password,
    hash_password,
    verify_password,
)
from auth.roles import PERMISSIONS, ROLE_PERMISSIONS, ROLES, allowed

GOOD = "Harbour lights 42"

# Written out from docs/contract.md, not derived from the code: viewer may look; dispatcher = viewer +
# incident actions; analyst = viewer + exports; admin = everything + users + feeds.
CONTRACT = {
    "viewer": {"view"},
    "dispatcher": {"view", "dispatch"},
    "analyst": {"view", "export"},
    "admin": {"view", "dispatch", "export", "administer"},
}


# -- roles ----------------------------------------------------------------------------------


def test_roles_and_permissions_are_exactly_those_of_the_contract() -> None:
    assert ROLES == ("viewer", "dispatcher", "analyst", "admin")
    assert set(PERMISSIONS) == {"view", "dispatch", "export", "administer"}
    assert {role: set(permissions) for role, permissions in ROLE_PERMISSIONS.items()} == CONTRACT


@pytest.mark.parametrize("permission", ["view", "dispatch", "export", "administer"])
@pytest.mark.parametrize("role", ["viewer", "dispatcher", "analyst", "admin"])
def test_every_role_has_exactly_the_contract_permissions(role: str, permission: str) -> None:
    assert allowed(role, permission) is (permission in CONTRACT[role])


@pytest.mark.parametrize("role", ["", "Admin", "root", "guest", "admin "])
def test_unknown_role_is_a_value_error_not_a_silent_refusal(role: str) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        allowed(role, "view")


@pytest.mark.parametrize("permission", ["", "View", "delete", "users"])
def test_unknown_permission_is_a_value_error_not_a_silent_refusal(permission: str) -> None:
    with pytest.raises(ValueError, match="unknown permission"):
        allowed("admin", permission)


def test_the_matrix_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        ROLE_PERMISSIONS["viewer"] = frozenset(PERMISSIONS)  # type: ignore[index]


# -- hashing --------------------------------------------------------------------------------


def test_hash_round_trip_accepts_the_password_and_refuses_others() -> None:
    hashed = hash_password(GOOD)
    assert verify_password(hashed, GOOD)
    assert not verify_password(hashed, GOOD + "x")
    assert not verify_password(hashed, GOOD.lower())
    assert not verify_password(hashed, "")


def test_hash_is_salted_scrypt_and_never_contains_the_password() -> None:
    first, second = hash_password(GOOD), hash_password(GOOD)
    assert first.startswith("scrypt:")
    assert first != second  # a new salt every time
    assert GOOD not in first


@pytest.mark.parametrize("hashed", ["", "not a hash", "scrypt:32768:8:1$salt", "md5$x$y", "scrypt:n:r:p$s$h"])
def test_a_malformed_hash_verifies_nothing(hashed: str) -> None:
    assert verify_password(hashed, GOOD) is False


# -- password rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [GOOD, "correct horse battery staple", "Tr0ub4dor&3xyz", "这是一个很长的中文密码1234", "Abc123" + "x" * 1018],
)
def test_reasonable_passwords_are_accepted(password: str) -> None:
    check_password_strength(password, name="alice")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Short1!", "at least 12 characters"),
        ("", "at least 12 characters"),
        ("abcdefghijklmnop", "mix kinds"),
        ("123456789012345", "mix kinds"),
        ("ABCDEFGHIJKLMN", "mix kinds"),
        ("Aaaaaaaaaaaaaaaa", "different characters"),
        ("aA1aA1aA1aA1aA1", "different characters"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword, match=reason) as refused:
        check_password_strength(password)
    if password:
        assert password not in str(refused.value)


@pytest.mark.parametrize("password", ["dispatcher01", "Dispatcher01", "my-dispatcher-2024", "DISPATCHER!x9"])
def test_a_password_containing_the_user_name_is_refused(password: str) -> None:
    with pytest.raises(WeakPassword, match="user name"):
        check_password_strength(password, name="dispatcher01" if password == "dispatcher01" else "dispatcher")


def test_a_name_under_4_characters_may_appear_inside_a_password() -> None:
    check_password_strength("ali-Baba-1234", name="ali")  # "ali" is in many good passwords by chance


def test_generated_passwords_are_20_strong_random_characters() -> None:
    passwords = {generate_password() for _ in range(20)}
    assert len(passwords) == 20
    for password in passwords:
        assert len(password) == 20 and password.isalnum() and password.isascii()
        check_password_strength(password, name="admin")


# -- hostile input --------------------------------------------------------------------------


def test_a_10_mb_password_is_refused_fast_everywhere() -> None:
    huge = "Aa1!" * (10 * 1024 * 1024 // 4)
    started = time.perf_counter()
    with pytest.raises(WeakPassword, match=f"longer than {MAX_LENGTH}"):
        check_password_strength(huge)
    with pytest.raises(WeakPassword, match=f"longer than {MAX_LENGTH}"):
        hash_password(huge)
    assert verify_password(hash_password(GOOD), huge) is False
    # Far below one scrypt hash (~0.1 s): nothing was hashed but the known-good password above.
    assert time.perf_counter() - started < 1.0


def test_the_length_limit_is_1024_characters() -> None:
    check_password_strength("Abc123" + "x" * (MAX_LENGTH - 6))
    with pytest.raises(WeakPassword, match="longer than"):
        check_password_strength("Abc123" + "x" * (MAX_LENGTH - 5))


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Harbour\x00lights 42", "NUL"),
        ("Harbour lights 42\n", "line breaks"),
        ("Harbour\nlights 42", "line breaks"),
        ("Harbour\rlights 42", "line breaks"),
        ("Harbour lights \ud800 42", "surrogates"),
        ("\udcff\udcfeHarbour lights 42", "surrogates"),  # bytes a surrogateescape decoder could not read
    ],
)
def test_nul_line_breaks_and_unpaired_surrogates_are_refused(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword, match=reason):
        check_password_strength(password)
    with pytest.raises(WeakPassword, match=reason):
        hash_password(password)
    assert verify_password(hash_password(GOOD), password) is False


@pytest.mark.parametrize("value", [None, 123456789012, b"Harbour lights 42"])
def test_a_password_that_is_not_text_is_refused(value: object) -> None:
    with pytest.raises(WeakPassword, match="must be text"):
        check_password_strength(value)  # type: ignore[arg-type]
    assert verify_password(hash_password(GOOD), value) is False  # type: ignore[arg-type]
