"""The incident rules: lifecycle moves, phone masking, unit kinds per category (the SLA deadline and a
storm's escalation are the database's: tests/integration/test_incidents.py)."""

from __future__ import annotations

import pytest

from incidents.lifecycle import ACTIONS, Conflict, next_status
from incidents.privacy import mask_phone
from incidents.responders import unit_kinds_for
from vocabulary.terms import INCIDENT_STATUSES, UNIT_KINDS

LEGAL = {
    ("ack", "new"): "acknowledged",
    ("dispatch", "new"): "dispatched",
    ("dispatch", "acknowledged"): "dispatched",
    ("dispatch", "dispatched"): "dispatched",
    ("dispatch", "on_scene"): "on_scene",  # another unit joins; the case stays on scene
    ("arrive", "dispatched"): "on_scene",
    ("resolve", "new"): "resolved",
    ("resolve", "acknowledged"): "resolved",
    ("resolve", "dispatched"): "resolved",
    ("resolve", "on_scene"): "resolved",
    ("reopen", "resolved"): "new",
}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("status", INCIDENT_STATUSES)
def test_every_action_from_every_status_is_either_a_move_or_a_reasoned_refusal(action: str, status: str) -> None:
    if (action, status) in LEGAL:
        assert next_status(action, status) == LEGAL[(action, status)]
    else:
        with pytest.raises(Conflict, match=f"cannot {action} an incident that is {status.replace('_', ' ')}"):
            next_status(action, status)


def test_an_unknown_action_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown action 'escalate'"):
        next_status("escalate", "new")


@pytest.mark.parametrize(("phone", "shown"), [
    ("13812345678", "138****5678"), ("+1 212-555-0100", "121****0100"), ("5550100", "5****0"), ("12", "****"),
    (None, None), (float("nan"), None), ("", None),
])
def test_phones_are_masked_keeping_few_digits(phone: str | None, shown: str | None) -> None:
    assert mask_phone(phone) == shown


def test_unit_kinds_come_from_the_category_then_its_domain_then_all() -> None:
    assert unit_kinds_for("fire", "public_safety") == ("fire",)
    assert unit_kinds_for("made_up", "gas") == ("fire", "utility")
    assert unit_kinds_for("made_up", None) == UNIT_KINDS
