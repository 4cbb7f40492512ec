"""Which reporting deadline a report is held to: per (who reports, what happened), as domain.md
says ("the same hand-over is 15 days for a dismantler, 30 for an outlet").

The 2018 rules give deadlines by situation and reporter, not by event name alone, so a report is
placed in two steps, both from facts the event store holds:

1. **The situation** is the event's name, except that an installation of a battery that had been
   removed is ``Reinstalled`` ("battery repaired or replaced", 30 working days, not the 15 of a
   vehicle leaving the factory).
2. **The reporter's roles** are the roles the acting participant registered with (roles never
   change after registration). Taking a battery in at an outlet, or handing it out of one, is
   reported as that outlet's operator (``outlet_operator``), whatever else the operator is: a
   vehicle maker's own outlets report for it (domain.md).

A participant may hold several roles (a vehicle maker that runs outlets, a dismantler that is
also a recycler). Where more than one of its roles has a row for the situation, the **shortest**
deadline applies: the rules bind the party in each of its capacities, and the stricter reading
never hides a late report behind a second role. Where none has a row, the ``any`` row applies.

The table (``conventions.REPORTING_DEADLINES``) is configuration: ``parse_deadline_overrides``
reads BATTERYTRACE_DEADLINES.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from batterytrace.events.conventions import ANY_ROLE, REPORTING_DEADLINES
from batterytrace.events.lifecycle import State
from batterytrace.events.roles import Role

# The reporting situations: the battery events that start a deadline, and ``Reinstalled``.
SITUATIONS = (
    "Produced",
    "Delivered",
    "Installed",
    "Reinstalled",
    "Removed",
    "SwappedOut",
    "SwappedIn",
    "VehicleScrapped",
    "Retired",
    "Collected",
    "HandedOver",
    "CascadeReused",
    "Recycled",
)
# Battery events no deadline applies to: an assembly is reported with the pack's own production.
# Every other battery event is a situation (tests/unit/test_event_catalogue.py checks both lists).
WITHOUT_DEADLINE = frozenset({"AssembledInto"})
# Roles that report battery events (a regulator never does), and ``any`` for everyone else.
REPORTING_ROLES = (*(role.value for role in Role if role is not Role.REGULATOR), ANY_ROLE)
# Events that happen at an outlet when they carry no ``from_collection_point_id`` field.
_ALWAYS_AT_AN_OUTLET = frozenset({"Collected"})


@dataclass(frozen=True)
class ReportingRule:
    """The deadline one report is held to, and why: the situation and the role it reported in."""

    situation: str
    role: str
    working_days: int


def reporting_situation(event_name: str, previous_state: str | None = None) -> str | None:
    """The situation of a battery event (``Installed`` after a removal is ``Reinstalled``), or
    None for an event no deadline applies to (``WITHOUT_DEADLINE``)."""
    if event_name == "Installed" and previous_state == State.REMOVED:
        return "Reinstalled"
    return event_name if event_name in SITUATIONS else None


def reporting_roles(
    event_name: str, actor_roles: Iterable[str], *, at_an_outlet: bool = False
) -> frozenset[str]:
    """The roles a report is made in: the actor's own, plus ``outlet_operator`` for what happens
    at an outlet (every collection, and a handover out of a collection point)."""
    roles = set(actor_roles)
    if at_an_outlet or event_name in _ALWAYS_AT_AN_OUTLET:
        roles.add(Role.OUTLET_OPERATOR.value)
    return frozenset(roles)


class ReportingDeadlines:
    """The (role, situation) → working days table, with configured rows replacing defaults."""

    def __init__(self, overrides: Mapping[tuple[str, str], int] | None = None) -> None:
        self.table: Mapping[tuple[str, str], int] = MappingProxyType(
            {**REPORTING_DEADLINES, **(overrides or {})}
        )

    def rule(
        self,
        event_name: str,
        actor_roles: Iterable[str] = (),
        *,
        previous_state: str | None = None,
        at_an_outlet: bool = False,
    ) -> ReportingRule | None:
        """The rule a report of ``event_name`` by a participant with ``actor_roles`` is held to;
        None where no deadline applies."""
        situation = reporting_situation(event_name, previous_state)
        if situation is None:
            return None
        candidates = [
            ReportingRule(situation, role, self.table[(role, situation)])
            for role in sorted(reporting_roles(event_name, actor_roles, at_an_outlet=at_an_outlet))
            if (role, situation) in self.table
        ]
        if candidates:
            return min(candidates, key=lambda rule: rule.working_days)
        days = self.table.get((ANY_ROLE, situation))
        return None if days is None else ReportingRule(situation, ANY_ROLE, days)

    def rows(self) -> list[tuple[str, str, int]]:
        """Every row as (role, situation, working days), for README and ``--help`` texts."""
        return sorted((role, situation, days) for (role, situation), days in self.table.items())


DEFAULT_DEADLINES = ReportingDeadlines()

_FORM = "role:Event=days, e.g. dismantler:HandedOver=15,vehicle_maker:Reinstalled=30"


def parse_deadline_overrides(text: str) -> dict[tuple[str, str], int]:
    """Rows of the deadline table from ``role:Event=days`` entries separated by commas, spaces or
    new lines (a setting's value or a file's content); ``#`` starts a comment in a file.

    Raises ValueError naming the first bad entry and the valid roles or events."""
    rows: dict[tuple[str, str], int] = {}
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    for entry in " ".join(lines).replace(",", " ").split():
        key, equals, days = entry.partition("=")
        role, colon, situation = key.partition(":")
        if not (equals and colon):
            raise ValueError(f"entry {entry!r} is not of the form {_FORM}")
        if role not in REPORTING_ROLES:
            raise ValueError(
                f"entry {entry!r} names an unknown role {role!r}; roles: {', '.join(REPORTING_ROLES)}"
            )
        if situation not in SITUATIONS:
            raise ValueError(
                f"entry {entry!r} names an unknown event {situation!r}; events: {', '.join(SITUATIONS)}"
            )
        if not days.isdigit() or not 1 <= int(days) <= 365:
            raise ValueError(
                f"entry {entry!r}: the deadline must be a whole number of working days, 1 to 365"
            )
        rows[(role, situation)] = int(days)
    return rows
