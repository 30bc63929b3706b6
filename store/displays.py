"""Display links of wall screens (``display_links``): SQL only; the rules are in :mod:`web.displays`.

Issuing and revoking write their audit rows in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import psycopg2.extensions

from store.audit import write_audit
from store.connection import transaction


class DisplayLink(NamedTuple):
    """One row of ``display_links`` without its token hash (see the column comments there)."""

    id: int
    name: str
    path: str
    survives_key_change: bool
    key_fingerprint: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None
    last_address: str | None


class DisplayLinkMissing(LookupError):
    """No display link with that number (or it is revoked already)."""


_COLUMNS = ", ".join(DisplayLink._fields)


def issue_display_link(conn: psycopg2.extensions.connection, *, name: str, token_hash: str, path: str,
                       survives_key_change: bool, key_fingerprint: str, actor: str,
                       address: str | None) -> DisplayLink:
    """Store a new link (``display.issue`` audited); the row as stored."""
    with transaction(conn) as cur:
        cur.execute(
            "INSERT INTO display_links (name, token_hash, path, survives_key_change, key_fingerprint, created_by)"
            f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
            (name, token_hash, path, survives_key_change, key_fingerprint, actor))
        link = DisplayLink(*cur.fetchone())
        write_audit(cur, actor, "display.issue", f"display-{link.id}", None,
                    {"name": name, "path": path, "survives_key_change": survives_key_change}, address)
    return link


def revoke_display_link(conn: psycopg2.extensions.connection, link_id: int, *, actor: str,
                        address: str | None) -> DisplayLink:
    """Revoke a working link (``display.revoke`` audited); :class:`DisplayLinkMissing` if there is none."""
    with transaction(conn) as cur:
        cur.execute(f"UPDATE display_links SET revoked_at = now(), revoked_by = %s WHERE id = %s"
                    f" AND revoked_at IS NULL RETURNING {_COLUMNS}", (actor, link_id))
        row = cur.fetchone()
        if row is None:
            raise DisplayLinkMissing(f"no working display link {link_id}")
        link = DisplayLink(*row)
        write_audit(cur, actor, "display.revoke", f"display-{link.id}", {"name": link.name}, None, address)
    return link


def display_links(conn: psycopg2.extensions.connection) -> list[DisplayLink]:
    """Every link, working ones first, newest first."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM display_links ORDER BY revoked_at IS NOT NULL, created_at DESC, id DESC")
        return [DisplayLink(*row) for row in cur.fetchall()]


def display_link_by_token(conn: psycopg2.extensions.connection, token_hash: str) -> DisplayLink | None:
    """The working (not revoked) link with this token hash, or None."""
    with transaction(conn) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM display_links WHERE token_hash = %s AND revoked_at IS NULL",
                    (token_hash,))
        row = cur.fetchone()
    return None if row is None else DisplayLink(*row)


def touch_display_link(conn: psycopg2.extensions.connection, link_id: int, address: str | None) -> None:
    """Note that a screen used the link now, from ``address``."""
    with transaction(conn) as cur:
        cur.execute("UPDATE display_links SET last_used_at = now(), last_address = %s WHERE id = %s",
                    (address, link_id))


def record_display_open(conn: psycopg2.extensions.connection, link: DisplayLink, address: str | None) -> None:
    """A screen opened the link (``display.open`` audited: which screen signed in, from where)."""
    with transaction(conn) as cur:
        cur.execute("UPDATE display_links SET last_used_at = now(), last_address = %s WHERE id = %s",
                    (address, link.id))
        write_audit(cur, f"display-{link.id}", "display.open", f"display-{link.id}", None, {"name": link.name},
                    address)
