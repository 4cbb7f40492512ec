"""The passport's writes and reads on the application: model data, readings, who reads what.

Functions over ``BatteryTrace`` (like ``trace/keys.py``) rather than methods on it: the
application stays the one way into the store, these only load and save through it. A model and a
battery's readings are aggregates of their own, read by id (one short stream each) rather than
from a view.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from eventsourcing.application import AggregateNotFoundError

from batterytrace.events.battery import Battery
from batterytrace.events.battery_model import BatteryModel, model_stream_id, parse_model_code
from batterytrace.events.battery_readings import BatteryReadings, Readings, readings_stream_id
from batterytrace.events.errors import (
    ChronologyViolation,
    ConcurrentWrite,
    LifecycleViolation,
    NotAuthorised,
    NotFound,
)
from batterytrace.events.lifecycle import DEAD_ENDS
from batterytrace.events.participant import Participant
from batterytrace.events.passport_access import Tier
from batterytrace.trace.epcis.source import disclosure

if TYPE_CHECKING:
    from batterytrace.trace.application import BatteryTrace, WriteResult


def _get(app: BatteryTrace, stream_id: str) -> Any | None:
    try:
        return app.repository.get(stream_id)
    except AggregateNotFoundError:
        return None


def battery_model(app: BatteryTrace, model_code: str) -> BatteryModel | None:
    found = _get(app, model_stream_id(parse_model_code(model_code)))
    return found if isinstance(found, BatteryModel) else None


def require_model(app: BatteryTrace, model_code: str) -> BatteryModel:
    model = battery_model(app, model_code)
    if model is None:
        code = parse_model_code(model_code)
        raise NotFound(
            f"no passport data has been posted for battery model {code}; its manufacturer posts it "
            "(POST /api/v1/models, or 'batterytrace models add FILE')",
            key="not_found.model",
            params={"id": code},
        )
    return model


def readings_of(app: BatteryTrace, code: str) -> BatteryReadings | None:
    found = _get(app, readings_stream_id(code))
    return found if isinstance(found, BatteryReadings) else None


def post_model(app: BatteryTrace, *, actor_id: str, model_code: str, data: dict[str, Any]) -> WriteResult:
    """Post (or replace) a model's data, by the owner of its manufacturer code; the same data
    again is answered as a replay."""
    actor = app.participant(actor_id)
    code = parse_model_code(model_code)
    owner = app.code_owner(code[:3])
    model = battery_model(app, code)
    if model is None:
        model = BatteryModel.post(model_code=code, data=data, actor=actor, code_owner_id=owner)
    else:
        model.replace(data=data, actor=actor, code_owner_id=owner)
    try:
        return app.commit(model)
    except ConcurrentWrite:
        stored = require_model(app, code)
        if stored.data == data:
            return app.commit(stored)  # a concurrent replay of the same post
        raise


def report_readings(
    app: BatteryTrace,
    *,
    actor_id: str,
    code: str,
    readings: Readings,
    occurred_at: datetime | None = None,
    request_id: str | None = None,
) -> WriteResult:
    """Record readings of a battery by its current holder (``Battery.responsible_id``)."""
    actor = app.participant(actor_id)
    battery = app.battery(code)
    moment = check_readings(app, battery, actor, occurred_at)
    stream = readings_of(app, battery.code) or BatteryReadings(code=battery.code)
    stream.report(readings, actor_id=actor.id, occurred_at=moment, request_id=request_id)
    return app.commit(stream)


def check_readings(
    app: BatteryTrace, battery: Battery, actor: Participant, occurred_at: datetime | None
) -> datetime:
    """When readings of ``battery`` by ``actor`` were measured, once checked: the battery still
    lives, ``actor`` holds it, the moment is not in the future nor before the battery was made.
    Apart from ``report_readings`` so that a writer holding the battery already (the demo, which
    saves many readings in one transaction) meets the same checks."""
    if battery.state in DEAD_ENDS:
        raise LifecycleViolation(
            battery.code,
            str(battery.state),
            "report readings",
            f"{DEAD_ENDS[battery.state]}; it reports no readings of its own",
        )
    if actor.id != battery.responsible_id:
        raise NotAuthorised(
            f"{actor.name} ({actor.id}) cannot report readings of battery {battery.code}: you do not "
            "hold it; only the enterprise holding a battery reports its readings",
            detail=f"held by {battery.responsible_id}",
            key="battery.not_holder",
            params={"code": battery.code, "action": "report readings"},
        )
    moment = app.when(occurred_at)
    if moment < battery.produced_at:
        raise ChronologyViolation(
            f"readings measured at {moment.isoformat()} are older than battery {battery.code} itself "
            f"(produced {battery.produced_at.isoformat()}); fix the time"
        )
    return moment


def reader_tier(
    app: BatteryTrace, code: str, caller: Participant | None, history: list[Any] | None = None
) -> Tier:
    """The passport tier of ``caller`` for battery ``code``: authorities for a regulator,
    legitimate interest for a participant involved with the battery (its maker, a holder, one
    that acted on it or received it: ``disclosure.py``), public for anyone else. ``history``: the
    battery's events, when the caller has read them already."""
    if caller is None:
        return Tier.PUBLIC
    if caller.is_regulator:
        return Tier.AUTHORITIES
    involved = disclosure(caller, history if history is not None else app.history(code)).involved
    return Tier.LEGITIMATE_INTEREST if involved else Tier.PUBLIC
