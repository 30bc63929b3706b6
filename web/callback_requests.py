"""Which registered Dash callback a ``/_dash-update-component`` request runs — found the way Dash finds it.

Dash runs ``callback_map[body["output"]]`` and hands that function the values of the body's
``inputs`` and ``state`` *by position*. The ids the body declares (``outputs`` and the ids next
to each input value) are whatever the client wrote: Dash does not compare them with the
registration. Access must therefore be judged from the registration that ``output`` names, and
a body whose declared ids differ from it is forged (the browser's renderer always sends exactly
the registered ids, with pattern-matching ones filled in).

:func:`resolve` returns the registered callback as a :class:`CallbackCall`, or raises
:class:`ForgedCallback` with the reason. Pure: it reads the app's callback map and the body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from dash.dependencies import ALL, ALLSMALLER, Wildcard

_MULTI_WILDCARDS = (ALL, ALLSMALLER)  # the request carries a list of components; MATCH: one
_SCALAR_ID_VALUES = (str, int, float, bool)


class ForgedCallback(ValueError):
    """A callback request that names no server callback or does not match the one it names."""


@dataclass(frozen=True)
class Dependency:
    """One registered output, input or state: a component id (dict ids may hold wildcards) and a property."""

    component_id: str | Mapping[str, Any]
    prop: str

    @property
    def name(self) -> str:
        """The id that says which page the component belongs to: the id itself, or a dict id's ``type``."""
        if isinstance(self.component_id, str):
            return self.component_id
        kind = self.component_id.get("type")
        return kind if isinstance(kind, str) else ""

    @property
    def multi(self) -> bool:
        """True when the request carries a list of components for it (ALL / ALLSMALLER)."""
        return isinstance(self.component_id, Mapping) and any(
            isinstance(value, Wildcard) and value in _MULTI_WILDCARDS for value in self.component_id.values())

    def matches(self, declared: Any) -> bool:
        """True if ``declared`` (one entry of a request's outputs/inputs/state) is this dependency."""
        if self.multi:
            return isinstance(declared, list) and all(self._matches_one(item) for item in declared)
        return self._matches_one(declared)

    def _matches_one(self, declared: Any) -> bool:
        if not isinstance(declared, dict):
            return False
        prop = declared.get("property")
        # An output registered with allow_duplicate=True is keyed "prop@<hash>".
        if not isinstance(prop, str) or (prop != self.prop and prop.partition("@")[0] != self.prop):
            return False
        return _id_matches(self.component_id, declared.get("id"))


@dataclass(frozen=True)
class CallbackCall:
    """The registered callback a request runs, with the values it passes to it."""

    key: str
    outputs: tuple[Dependency, ...]
    inputs: tuple[Dependency, ...]
    state: tuple[Dependency, ...]
    # The request's values in registered order (inputs, then state); a list for ALL/ALLSMALLER.
    values: tuple[Any, ...]

    def value_of(self, component_id: str, prop: str) -> Any:
        """The value the callback receives for the registered (non-pattern) ``component_id.prop``; None if absent."""
        for dependency, value in zip((*self.inputs, *self.state), self.values, strict=True):
            if dependency.component_id == component_id and dependency.prop == prop:
                return value
        return None


def resolve(callback_map: Mapping[str, Mapping[str, Any]], body: Any) -> CallbackCall:
    """The server callback ``body`` runs, checked against its registration (:class:`ForgedCallback` if not)."""
    if not isinstance(body, dict):
        raise ForgedCallback("the request is not a JSON object")
    key = body.get("output")
    if not isinstance(key, str):
        raise ForgedCallback("the request names no callback")
    spec = callback_map.get(key)
    if spec is None or "callback" not in spec:  # clientside callbacks have no server function
        raise ForgedCallback("the request names no server callback")
    outputs, inputs, state = registration(spec)
    _check_outputs(outputs, body.get("outputs"), single=not isinstance(spec.get("output"), (list, tuple)),
                   no_output=bool(spec.get("no_output")))
    declared_inputs = _check_list("inputs", inputs, body.get("inputs", []))
    declared_state = _check_list("state", state, body.get("state", []))
    values = tuple(_value(item) for item in (*declared_inputs, *declared_state))
    return CallbackCall(key=key, outputs=outputs, inputs=inputs, state=state, values=values)


class Registration(NamedTuple):
    outputs: tuple[Dependency, ...]
    inputs: tuple[Dependency, ...]
    state: tuple[Dependency, ...]


def registration(spec: Mapping[str, Any]) -> Registration:
    """The registered outputs, inputs and state of one entry of Dash's callback map."""
    output = spec.get("output")
    items = [] if spec.get("no_output") or output is None else output if isinstance(output, (list, tuple)) else [output]
    outputs = tuple(_dependency({"id": item.component_id_str(), "property": item.component_property})
                    for item in items)
    return Registration(outputs, tuple(_dependency(item) for item in spec.get("inputs", ())),
                        tuple(_dependency(item) for item in spec.get("state", ())))


def _dependency(item: Mapping[str, Any]) -> Dependency:
    """A registered dependency from Dash's ``{"id": …, "property": …}`` (dict ids are JSON, wildcards ``["ALL"]``)."""
    component_id = item["id"]
    if isinstance(component_id, str) and component_id.startswith("{"):
        parsed = json.loads(component_id)
        component_id = {key: _wildcard(value) for key, value in parsed.items()}
    return Dependency(component_id, item["property"])


def _wildcard(value: Any) -> Any:
    """A serialised wildcard (``["ALL"]``: arrays are no valid id values) as its :class:`Wildcard`, else ``value``."""
    if isinstance(value, list) and len(value) == 1 and value[0] in Wildcard.__members__:
        return Wildcard[value[0]]
    return value


def _check_outputs(outputs: tuple[Dependency, ...], declared: Any, *, single: bool, no_output: bool) -> None:
    if no_output:
        if declared not in (None, []):
            raise ForgedCallback("the callback writes no outputs, the request declares some")
        return
    if single:
        if not outputs[0].matches(declared):
            raise ForgedCallback("the declared output is not the callback's registered output")
        return
    _check_list("outputs", outputs, declared)


def _check_list(group: str, registered: Sequence[Dependency], declared: Any) -> list[Any]:
    if not isinstance(declared, list) or len(declared) != len(registered):
        raise ForgedCallback(f"the request's {group} are not the callback's registered {group}")
    for position, (dependency, item) in enumerate(zip(registered, declared, strict=True)):
        if not dependency.matches(item):
            raise ForgedCallback(f"{group}[{position}] is not the callback's registered {dependency.name!r}"
                                 f".{dependency.prop}")
    return declared


def _id_matches(registered: str | Mapping[str, Any], declared: Any) -> bool:
    if isinstance(registered, str):
        return declared == registered
    if not isinstance(declared, dict) or set(declared) != set(registered):
        return False
    for key, value in registered.items():
        if isinstance(value, Wildcard):
            if not isinstance(declared[key], _SCALAR_ID_VALUES):
                return False
        elif declared[key] != value:
            return False
    return True


def _value(item: Any) -> Any:
    if isinstance(item, list):
        return [entry.get("value") for entry in item]
    return item.get("value")
