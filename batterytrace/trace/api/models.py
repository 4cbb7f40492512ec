"""What the routes share: the problem-details shape, what every write answers with, and the
facts a maker declares about a battery (a production and a cascade-use product alike).

Route modules import from here, never from each other (the FastAPI full-stack template's
``models.py``): each route module stays a leaf.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import EXAMPLE_CODE
from batterytrace.events.commands import Reporting
from batterytrace.events.participant import Participant
from batterytrace.trace.application import BatteryTrace, WriteResult
from batterytrace.trace.presenters import battery_summary
from batterytrace.trace.production_rows import MAX_CHEMISTRY_LENGTH, MAX_LEVEL_LENGTH, MAX_REQUEST_ID_LENGTH


class Problem(BaseModel):
    """An RFC 9457 problem detail, as every refusal is answered."""

    type: str = Field(examples=["/problems/lifecycle-violation"])
    title: str = Field(examples=["Conflict"])
    status: int = Field(examples=[409])
    detail: str = Field(
        examples=[f"battery {EXAMPLE_CODE} is collected: cannot install; allowed now: hand over"]
    )
    segment: str | None = Field(None, description="For an invalid battery code: the segment that is wrong.")
    errors: list[dict[str, str]] | None = Field(
        None, description="For an invalid request: each field that is wrong and why."
    )
    code: str | None = Field(
        None,
        description="A stable key of what is wrong, for clients that say it in their own words "
        "(the pages translate it); absent where only `detail` says it.",
        examples=["battery.not_holder"],
    )
    params: dict[str, Any] | None = Field(
        None,
        description="The values `code`'s message needs (battery code, state, action …).",
        examples=[{"code": EXAMPLE_CODE, "action": "hand over"}],
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems a route can answer with."""
    meaning = {
        400: "The body cannot be read.",
        401: "No valid API key.",
        403: "The caller's participant may not do this (role, code owner, holder, operator).",
        404: "The battery, participant or collection point is not registered.",
        409: "The battery's state or history does not allow this now, or the code is taken.",
        413: "The body is over the configured size.",
        415: "The body's content type is not accepted.",
        422: "A field is missing or malformed; `errors` names each field, `segment` the code's part.",
        503: "The store is unavailable; retry later (see Retry-After).",
    }
    return {
        status: {
            "model": Problem,
            "description": meaning[status],
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


class BatteryHolder(BaseModel):
    kind: str | None = Field(description="manufacturer, pack, vehicle, site, enterprise, collection_point …")
    id: str | None = Field(description="VIN, site, credit code, pack code or collection point id.")
    responsible_id: str | None = Field(description="The participant answerable for the battery now.")


class BatterySummary(BaseModel):
    """What a battery is and where it stands now."""

    code: str = Field(examples=[EXAMPLE_CODE])
    level: str = Field(examples=["pack"])
    battery_type: str = Field(examples=["B"])
    chemistry: str = Field(examples=["lithium iron phosphate"])
    manufacturer_id: str
    manufacturer_code: str = Field(examples=["3CA"])
    production_date: str = Field(examples=["2024-07-15"])
    rated_capacity_ah: float
    nominal_voltage_v: float
    energy_kwh: float
    mass_kg: float
    state: str = Field(examples=["produced"])
    holder: BatteryHolder
    vin: str | None
    second_life: bool
    flags: list[str]
    version: int
    last_occurred_at: str | None


class WriteResponse(BaseModel):
    """What a write did."""

    events: list[str] = Field(
        description="Recorded events as 'stream:EventName'; empty for a replayed request.",
        examples=[[f"{EXAMPLE_CODE}:Produced"]],
    )
    notification_id: int | None = Field(
        description="Position of the write's last event in the store's notification log (for a replay, "
        "the store head, which includes the original write). Pass it as `?after=` to a query to read "
        "your own write.",
        examples=[1042],
    )
    replayed: bool = Field(
        description="True when the same request had already been applied: nothing new was recorded.",
        examples=[False],
    )


class BatteryWriteResponse(WriteResponse):
    battery: BatterySummary = Field(description="The battery as it stands after the write.")


def write_fields(service: BatteryTrace, result: WriteResult) -> dict[str, Any]:
    """``events``, ``notification_id`` and ``replayed`` of a write; a replay reports the store head."""
    position = result.notification_id
    if position is None and result.replayed:
        position = service.recorder.max_notification_id() or 0
    return {"events": list(result.events), "notification_id": position, "replayed": result.replayed}


def battery_write(
    service: BatteryTrace, result: WriteResult, code: str, caller: Participant
) -> dict[str, Any]:
    """A write's answer with the battery as the write left it (from what it saved: no second read
    of the store), the VIN only for a caller that may see it."""
    battery = result.battery(code)
    shown = battery_summary(battery, show_vin=caller.is_regulator or caller.id in battery.vin_known_to)
    return {**write_fields(service, result), "battery": shown}


class ProductFacts(BaseModel):
    """What a maker declares about a battery, besides its code."""

    model_config = ConfigDict(extra="forbid")

    rated_capacity_ah: float = Field(gt=0, description="Rated capacity, Ah.", examples=[150])
    nominal_voltage_v: float = Field(gt=0, description="Nominal voltage, V.", examples=[100])
    energy_kwh: float = Field(
        gt=0, description="Rated energy, kWh (within 20% of capacity × voltage).", examples=[15]
    )
    mass_kg: float = Field(gt=0, description="Mass, kg.", examples=[110])
    level: str | None = Field(
        None,
        max_length=MAX_LEVEL_LENGTH,
        description="pack, module or cell; must match the code.",
        examples=["pack"],
    )
    chemistry: str | None = Field(
        None,
        max_length=MAX_CHEMISTRY_LENGTH,
        description="Must match the code's battery type (e.g. LFP).",
        examples=["LFP"],
    )
    production_date: date | None = Field(
        None, description="Must match the code's date characters.", examples=["2024-07-15"]
    )
    occurred_at: datetime | None = Field(
        None,
        description="When it was made (ISO 8601; no zone = China Standard Time); default: the start "
        "of the code's production date.",
        examples=["2024-07-15T08:30:00+08:00"],
    )
    request_id: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_REQUEST_ID_LENGTH,
        description="Client's id for this request.",
        examples=["prod-001"],
    )

    def spec(self, code: str, components: list[str]) -> ProductionSpec:
        return ProductionSpec(
            code=code,
            rated_capacity_ah=self.rated_capacity_ah,
            nominal_voltage_v=self.nominal_voltage_v,
            energy_kwh=self.energy_kwh,
            mass_kg=self.mass_kg,
            level=self.level,
            chemistry=self.chemistry,
            production_date=self.production_date,
            components=tuple(components),
            occurred_at=self.occurred_at,
            request_id=self.request_id,
        )


# ------------------------------------------------------------------------ hand-overs' receiver
EXAMPLE_RECEIVER = "91110000600037341L"


class ReceiverFields(BaseModel):
    """Whom batteries are handed over to, and for what: one hand-over's body and a batch's."""

    receiver_id: str = Field(
        min_length=1,
        max_length=40,
        description="Credit code of the receiving recycler or cascade-use enterprise.",
        examples=[EXAMPLE_RECEIVER],
    )
    activity: Literal["recycling", "cascade_use"] = Field(
        description="What the receiver will do; its whitelist status for it is checked."
    )


# --------------------------------------------------------------- every lifecycle write's report
class LifecycleFields(BaseModel):
    """When and how a lifecycle event is reported."""

    model_config = ConfigDict(extra="forbid")

    occurred_at: datetime | None = Field(
        None,
        description="When it happened in the real world (ISO 8601; no zone = China Standard Time); "
        "default: now. Never in the future.",
        examples=["2026-05-20T10:00:00+08:00"],
    )
    late_correction: bool = Field(
        False,
        description="Set when the event really happened before the battery's previous event (a late "
        "report); otherwise such a date is refused.",
    )
    request_id: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Client's id for this request: the same id sent again is answered, not recorded twice.",
        examples=["req-7f3a"],
    )

    def reporting(self) -> Reporting:
        return Reporting(
            occurred_at=self.occurred_at, request_id=self.request_id, late_correction=self.late_correction
        )


# -------------------------------------------------------------------------- a key, shown once
class IssuedKey(BaseModel):
    key_id: str
    participant_id: str
    token: str = Field(description="The bearer token, shown this once; only its hash is stored.")


def issued_key(issued: Any) -> dict[str, Any]:
    return {"key_id": issued.key_id, "participant_id": issued.participant_id, "token": issued.token}
