"""The incident lifecycle: new → acknowledged → dispatched → on scene → resolved → (reopened).

Each action an officer (or the API) takes is checked here against the incident's current
status; a refusal says why in words a person can act on. The database applies the result
under a row lock, so of two officers acting at once exactly one succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass

from vocabulary.terms import ACKNOWLEDGED, DISPATCHED, NEW, ON_SCENE, RESOLVED

ACK, DISPATCH, ARRIVE, RESOLVE, REOPEN = "ack", "dispatch", "arrive", "resolve", "reopen"
ACTIONS: tuple[str, ...] = (ACK, DISPATCH, ARRIVE, RESOLVE, REOPEN)


@dataclass(frozen=True)
class Move:
    """What ``action`` does from some statuses: the status it leads to (None: unchanged)."""

    allowed_from: tuple[str, ...]
    to: str | None


MOVES: dict[str, Move] = {
    ACK: Move((NEW,), ACKNOWLEDGED),
    # More units may be sent while a case is being handled; the status stays where it is then.
    DISPATCH: Move((NEW, ACKNOWLEDGED, DISPATCHED, ON_SCENE), DISPATCHED),
    ARRIVE: Move((DISPATCHED,), ON_SCENE),
    RESOLVE: Move((NEW, ACKNOWLEDGED, DISPATCHED, ON_SCENE), RESOLVED),
    REOPEN: Move((RESOLVED,), NEW),
}


class Conflict(Exception):
    """The action does not fit the incident's current state (HTTP 409); the message says why."""


def next_status(action: str, current: str) -> str:
    """The status after ``action`` on an incident that is ``current``; :class:`Conflict` if not allowed."""
    move = MOVES.get(action)
    if move is None:
        raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    if current not in move.allowed_from:
        raise Conflict(f"cannot {action} an incident that is {current.replace('_', ' ')}")
    if action == DISPATCH and current in (DISPATCHED, ON_SCENE):
        return current
    assert move.to is not None
    return move.to


def allowed_actions(current: str) -> tuple[str, ...]:
    """The actions that fit an incident that is ``current``, in :data:`ACTIONS` order."""
    return tuple(action for action in ACTIONS if current in MOVES[action].allowed_from)

