"""Every event of every aggregate, and everything a battery lifecycle event needs elsewhere.

An event is declared once, on its aggregate (``Battery.Retired``), but the platform also needs,
for each battery event: its reporting deadline, its label in both page languages, the fields that
give its participants access, what the lifecycle and reports views do with it, and its state and
holder after (``events/custody.py``). Forgetting one of these fails silently at run time (a report
never late, a label shown raw, a participant losing access, a view row left behind), so this test
enumerates the events from the aggregate classes themselves and names each thing an event lacks.

Each battery event also needs its GS1 EPCIS 2.0 reading (``events/epcis_mapping.py``): an event
type, a business step and a disposition that are CBV terms (the vendored EPCIS 2.0.1 schema's
lists) or the service's own, over fields the event has; or a line in ``NOT_EXPORTED`` saying why not.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import get_topic, resolve_topic

import batterytrace
import batterytrace.events
from batterytrace.events import custody, deadlines, disclosure, epcis_mapping
from batterytrace.events.base import TraceAggregate
from batterytrace.events.battery import Battery
from batterytrace.events.conventions import ANY_ROLE, REPORTING_DEADLINES
from batterytrace.events.lifecycle import State
from batterytrace.projections import lifecycle_view, reports_view

MESSAGES = Path(batterytrace.__file__).parent / "trace" / "pages" / "messages"
LANGUAGES = ("zh", "en")
EPCIS_SCHEMA = Path(__file__).parents[1] / "data" / "epcis" / "epcis-json-schema.json"
# The key the regulator's pages label an event with (regulator-tables.js: RG.label).
EVENT_LABEL = "regulator.event.{name}"


def _aggregates() -> list[type[TraceAggregate]]:
    """Every aggregate class in ``batterytrace.events``, its modules all imported first."""
    for module in pkgutil.iter_modules(batterytrace.events.__path__):
        importlib.import_module(f"batterytrace.events.{module.name}")

    def below(cls: type[TraceAggregate]) -> Iterator[type[TraceAggregate]]:
        for subclass in cls.__subclasses__():
            yield subclass
            yield from below(subclass)

    return sorted(set(below(TraceAggregate)), key=lambda cls: cls.__qualname__)


def events_of(aggregate: type[TraceAggregate]) -> list[type[CanMutateAggregate[str]]]:
    """The events an aggregate records: its nested event classes, without the library's bases
    (``Event``, and ``Created`` where the aggregate names its creation event itself)."""
    bases = {aggregate.Event, aggregate.Created}
    return [
        value
        for value in vars(aggregate).values()
        if isinstance(value, type) and issubclass(value, CanMutateAggregate) and value not in bases
    ]


AGGREGATES = _aggregates()
ALL_EVENTS = [event for aggregate in AGGREGATES for event in events_of(aggregate)]
BATTERY_EVENTS = events_of(Battery)


def _message_keys(part: str, language: str) -> set[str]:
    return set(json.loads((MESSAGES / f"{part}.{language}.json").read_text("utf-8")))


# ------------------------------------------------------------------------ what an event needs
def lacks_deadline(event: type) -> list[str]:
    name = event.__name__
    if name in deadlines.WITHOUT_DEADLINE and name in deadlines.SITUATIONS:
        return ["one answer: it is a reporting situation and in deadlines.WITHOUT_DEADLINE"]
    if name in deadlines.WITHOUT_DEADLINE:
        return []
    if name not in deadlines.SITUATIONS:
        return ["a reporting situation (deadlines.SITUATIONS, or deadlines.WITHOUT_DEADLINE)"]
    if (ANY_ROLE, name) not in REPORTING_DEADLINES:
        return [f"a deadline row ({ANY_ROLE!r}, {name!r}) in conventions.REPORTING_DEADLINES"]
    return []


def lacks_labels(event: type) -> list[str]:
    key = EVENT_LABEL.format(name=event.__name__)
    return [
        f"its label {key!r} in regulator.{language}.json"
        for language in LANGUAGES
        if key not in _message_keys("regulator", language)
    ]


def lacks_participant_fields(event: type) -> list[str]:
    """Every ``…_id`` field either names a participant who then reads the battery (disclosure)
    or is listed as naming something else; the actor is always a participant."""
    known = {"actor_id", *disclosure.PARTICIPANT_FIELDS, *disclosure.OTHER_ID_FIELDS}
    return [
        f"field {field.name!r} in disclosure.PARTICIPANT_FIELDS (or disclosure.OTHER_ID_FIELDS)"
        for field in dataclasses.fields(event)
        if field.name.endswith("_id") and field.name not in known and field.name != "originator_id"
    ]


def lacks_lifecycle_view(event: type) -> list[str]:
    return (
        []
        if lifecycle_view.handles(event)
        else ["a lifecycle view handler (lifecycle_view._row_facts, or STATE_AND_HOLDER_ONLY)"]
    )


def lacks_reports_view(event: type) -> list[str]:
    return (
        []
        if reports_view.handles(event)
        else ["a reports view handler (reports_view._count, or NOT_COUNTED)"]
    )


class _OnlyItsFields(Mapping[str, Any]):
    """An event's fields, refusing to be asked for any field the event does not have."""

    def __init__(self, event: type) -> None:
        self.values = {field.name: f"<{field.name}>" for field in dataclasses.fields(event)}
        self.event = event

    def __getitem__(self, key: str) -> Any:
        if key not in self.values:
            raise LookupError(f"custody of {self.event.__name__} reads {key!r}, a field it lacks")
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def lacks_custody(event: type) -> list[str]:
    if event.__name__ not in custody.CONSEQUENCES:
        return ["its state and holder after (custody.CONSEQUENCES)"]
    try:
        custody.custody_after(event, _OnlyItsFields(event), custody.Custody("before", "before", "before"))
    except LookupError as error:
        return [f"a custody rule over its own fields ({error.args[0]})"]
    return []


@functools.cache
def _cbv_terms(definition: str) -> frozenset[str]:
    """The CBV terms the EPCIS 2.0.1 schema lists for ``bizStep`` or ``disposition``."""
    schema = json.loads(EPCIS_SCHEMA.read_text("utf-8"))
    return frozenset(
        term for choice in schema["definitions"][definition]["anyOf"] for term in choice.get("enum", ())
    )


def lacks_epcis_mapping(event: type) -> list[str]:
    name = event.__name__
    mapped, excused = name in epcis_mapping.MAPPING, name in epcis_mapping.NOT_EXPORTED
    if mapped == excused:
        return ["one answer: an EPCIS reading (epcis_mapping.MAPPING) or a reason in NOT_EXPORTED"]
    if excused:
        return []
    mapping = epcis_mapping.MAPPING[name]
    gaps = [
        f"a CBV or own (bt:) {what} instead of {term!r}"
        for what, term, terms in (
            ("bizStep", mapping.biz_step, _cbv_terms("bizStep")),
            ("disposition", mapping.disposition, _cbv_terms("disposition")),
        )
        if term is not None and term not in terms and not term.startswith(epcis_mapping.OWN)
    ]
    fields = {field.name for field in dataclasses.fields(event)}
    named = {*mapping.standard_fields, *(link.field for link in mapping.linked_extensions)}
    gaps += [
        f"the field {field!r} its EPCIS reading names" for field in sorted(named - fields - {"actor_id"})
    ]
    return gaps


CHECKS: dict[str, Callable[[type], list[str]]] = {
    "deadline": lacks_deadline,
    "labels": lacks_labels,
    "participant fields": lacks_participant_fields,
    "lifecycle view": lacks_lifecycle_view,
    "reports view": lacks_reports_view,
    "custody": lacks_custody,
    "EPCIS mapping": lacks_epcis_mapping,
}


# ------------------------------------------------------------------------------------ tests
def test_the_aggregates_and_their_events_are_found() -> None:
    names = {aggregate.__name__ for aggregate in AGGREGATES}
    assert {"Battery", "Participant", "CollectionPoint", "ApiKey"} <= names
    assert {Battery.Produced, Battery.Retired, Battery.HandedOver} <= set(BATTERY_EVENTS)
    assert Battery.Event not in BATTERY_EVENTS


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda event: event.__qualname__)
def test_a_stored_event_reads_back_as_its_own_class(event: type) -> None:
    """The views tell events apart by class, so a stored event's topic must name that class."""
    assert resolve_topic(get_topic(event)) is event


@pytest.mark.parametrize("event", BATTERY_EVENTS, ids=lambda event: event.__name__)
def test_a_battery_event_is_known_wherever_battery_events_are_read(event: type) -> None:
    missing = [f"{what}: {gap}" for what, check in CHECKS.items() for gap in check(event)]
    assert not missing, f"{event.__qualname__} lacks " + "; ".join(missing)


def test_the_tables_name_no_event_that_does_not_exist() -> None:
    names = {event.__name__ for event in BATTERY_EVENTS}
    listed = {
        *custody.CONSEQUENCES,
        *deadlines.WITHOUT_DEADLINE,
        *epcis_mapping.MAPPING,
        *epcis_mapping.NOT_EXPORTED,
    }
    assert not listed - names, f"no such battery event: {sorted(listed - names)}"
    handled = {*lifecycle_view.STATE_AND_HOLDER_ONLY, *reports_view.NOT_COUNTED}
    assert not handled - set(BATTERY_EVENTS), handled - set(BATTERY_EVENTS)


@pytest.mark.parametrize("state", list(State), ids=lambda state: state.name.lower())
def test_every_state_is_labelled_in_both_languages(state: State) -> None:
    """The regulator's pages key a state with spaces as ``_`` (RG.label); the public and outlet
    pages also turn ``-`` into ``_`` (BT.word)."""
    keys = {
        "regulator": f"regulator.state.{state.value.replace(' ', '_')}",
        "public": f"public.state.{state.value.replace(' ', '_').replace('-', '_')}",
    }
    missing = [
        f"{key} in {part}.{language}.json"
        for part, key in keys.items()
        for language in LANGUAGES
        if key not in _message_keys(part, language)
    ]
    assert not missing, f"state {state.value!r} lacks " + "; ".join(missing)
