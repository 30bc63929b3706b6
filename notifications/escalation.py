"""Escalation: not acknowledged in time → the next person or level.

A :class:`Policy` is a list of steps, each a duty role (whoever holds it then, from the rota)
and how many minutes after the first message it is reached if nobody has acknowledged:
duty officer at 0, shift leader at 10, department head at 30. :func:`due_steps` is the whole
rule, pure: given when the first message went, when (if ever) someone acknowledged and which
steps have been sent, which steps are due now. The worker that runs it records each step it
sends, so a restart neither repeats nor skips one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Step:
    role: str
    after_min: int

    def __post_init__(self) -> None:
        if self.after_min < 0:
            raise ValueError("a step cannot come before the first message")


@dataclass(frozen=True)
class Policy:
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("an escalation policy needs at least one step")
        if self.steps[0].after_min != 0:
            raise ValueError("the first step is the first message: after 0 minutes")
        minutes = [step.after_min for step in self.steps]
        if minutes != sorted(minutes) or len(set(minutes)) != len(minutes):
            raise ValueError("steps must come later and later")

    @classmethod
    def of(cls, steps: Sequence[tuple[str, int]]) -> Policy:
        return cls(tuple(Step(role, int(after)) for role, after in steps))


def due_steps(policy: Policy, first_sent: datetime, acknowledged_at: datetime | None, now: datetime,
              sent: Iterable[int] = ()) -> list[int]:
    """The indices of the steps to send now: reached by ``now``, not sent yet, and not after an
    acknowledgement (a step whose time came before the acknowledgement but was not sent, e.g.
    while the worker was down, is no longer needed once someone has acknowledged)."""
    if acknowledged_at is not None and acknowledged_at <= now:
        return []
    done = set(sent)
    return [index for index, step in enumerate(policy.steps)
            if index not in done and first_sent + timedelta(minutes=step.after_min) <= now]


def next_step_at(policy: Policy, first_sent: datetime, sent: Iterable[int]) -> datetime | None:
    """When the next unsent step falls due (None: every step sent)."""
    done = set(sent)
    pending = [first_sent + timedelta(minutes=step.after_min)
               for index, step in enumerate(policy.steps) if index not in done]
    return min(pending, default=None)
