"""The roles and what each may do: the one place permissions are decided (docs/contract.md "HTTP").

viewer may look; dispatcher = viewer + incident actions; analyst = viewer + exports;
admin = everything, including users and feeds. Pages and endpoints ask :func:`allowed` with a
permission word instead of comparing role names.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

ROLES = ("viewer", "dispatcher", "analyst", "admin")

VIEW = "view"  # pages, maps, vitals and the read-only API
DISPATCH = "dispatch"  # incident actions: create, ack, dispatch, arrive, resolve, reopen
EXPORT = "export"  # reports and exports
ADMINISTER = "administer"  # users, feeds, the audit log
PERMISSIONS = (VIEW, DISPATCH, EXPORT, ADMINISTER)

ROLE_PERMISSIONS: Mapping[str, frozenset[str]] = MappingProxyType({
    "viewer": frozenset({VIEW}),
    "dispatcher": frozenset({VIEW, DISPATCH}),
    "analyst": frozenset({VIEW, EXPORT}),
    "admin": frozenset(PERMISSIONS),
})


class UnknownRole(ValueError):
    """A role name that is not one of :data:`ROLES`."""


class UnknownPermission(ValueError):
    """A permission word that is not one of :data:`PERMISSIONS`."""


def check_role(role: str) -> str:
    """``role`` if it is a known role, else :class:`UnknownRole`."""
    if role not in ROLE_PERMISSIONS:
        raise UnknownRole(f"unknown role {str(role)[:64]!r}: choose one of {', '.join(ROLES)}")
    return role


def allowed(role: str, permission: str) -> bool:
    """True if ``role`` has ``permission``; an unknown role or permission is a ValueError, never a silent False."""
    check_role(role)
    if permission not in PERMISSIONS:
        raise UnknownPermission(f"unknown permission {str(permission)[:64]!r}: one of {', '.join(PERMISSIONS)}")
    return permission in ROLE_PERMISSIONS[role]
