"""A battery's dynamic passport readings: what its holder's battery management system reports.

The EU battery passport carries, besides the model's data and the battery's life, values that
change while the battery is used (Regulation (EU) 2023/1542 Annex VII part A for EV batteries; the
Battery Pass ``PerformanceAndDurability`` aspect's ``batteryCondition``): state of certified energy
(the state of health), capacity fade, remaining capacity and energy, state of charge, full cycles,
energy and capacity throughput, time spent at extreme temperatures, power and round-trip
efficiency fade, self-discharge, internal resistance increase, remaining power capability and
negative events. The battery's **current holder** reports them; a report carries every value the
aspect requires, measured at one moment, so a passport never mixes a value with nothing.

Why a stream of its own (``READINGS-{code}``) and not an event in the battery's stream: a battery
reports readings again and again for years, while every lifecycle command loads the battery's
whole stream; and a reading changes neither the battery's state nor its holder, which every
battery event does (``custody.CONSEQUENCES``: each event leads to a state), so the battery's
views and its EPCIS document are left as they are. The holder is checked against the battery
loaded beside it (``trace/passport/service.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from eventsourcing.domain import event

from batterytrace.events.base import TraceAggregate
from batterytrace.events.errors import InvalidInput

# Every number a report carries, with its plausible range (units in the names). Percentages are
# 0-100; an internal resistance may grow beyond 100 % of its initial value.
READING_LIMITS = MappingProxyType(
    {
        "state_of_certified_energy_pct": (0.0, 100.0),
        "capacity_fade_pct": (0.0, 100.0),
        "remaining_capacity_ah": (0.0, 100_000.0),
        "remaining_energy_kwh": (0.0, 100_000.0),
        "state_of_charge_pct": (0.0, 100.0),
        "full_cycles": (0.0, 1_000_000.0),
        "energy_throughput_kwh": (0.0, 1_000_000_000.0),
        "capacity_throughput_ah": (0.0, 10_000_000_000.0),
        "time_extreme_high_temp_h": (0.0, 1_000_000.0),
        "time_extreme_low_temp_h": (0.0, 1_000_000.0),
        "time_extreme_high_temp_charging_h": (0.0, 1_000_000.0),
        "time_extreme_low_temp_charging_h": (0.0, 1_000_000.0),
        "power_fade_pct": (0.0, 100.0),
        "round_trip_efficiency_fade_pct": (0.0, 100.0),
        "remaining_round_trip_efficiency_pct": (0.0, 100.0),
        "current_self_discharge_rate_pct": (0.0, 100.0),
        "internal_resistance_increase_pct": (0.0, 1000.0),
    }
)
MAX_NEGATIVE_EVENTS = 20  # per report
MAX_NEGATIVE_EVENT_LENGTH = 200
MAX_POWER_POINTS = 10
KEPT_NEGATIVE_EVENTS = 100  # the passport lists the latest ones


def readings_stream_id(code: str) -> str:
    return f"READINGS-{code}"


@dataclass(frozen=True)
class Readings:
    """One report's values (``READING_LIMITS``), the remaining power capability as (state of
    charge %, power W) points, and negative events (deep discharge, overcharge, accident …)."""

    values: dict[str, float]
    remaining_power_capability: tuple[tuple[float, float], ...] = ()
    negative_events: tuple[str, ...] = ()

    def checked(self) -> Readings:
        """The same readings, refused with the field's name when one is missing or implausible."""
        missing = [name for name in READING_LIMITS if name not in self.values]
        unknown = [name for name in self.values if name not in READING_LIMITS]
        if missing or unknown:
            raise InvalidInput(
                "readings need every value of the passport's battery condition"
                + (f"; missing: {', '.join(missing)}" if missing else "")
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
        values = {name: _in_range(name, self.values[name]) for name in READING_LIMITS}
        if len(self.remaining_power_capability) > MAX_POWER_POINTS:
            raise InvalidInput(f"at most {MAX_POWER_POINTS} remaining power capability points")
        points = tuple(
            (_in_range("at_soc_pct", soc, (0.0, 100.0)), _in_range("power_w", power, (0.0, 1e7)))
            for soc, power in self.remaining_power_capability
        )
        if len(self.negative_events) > MAX_NEGATIVE_EVENTS:
            raise InvalidInput(f"at most {MAX_NEGATIVE_EVENTS} negative events in one report")
        events = tuple(text.strip() for text in self.negative_events)
        if any(not text or len(text) > MAX_NEGATIVE_EVENT_LENGTH for text in events):
            raise InvalidInput(f"a negative event is a text of 1-{MAX_NEGATIVE_EVENT_LENGTH} characters")
        return Readings(values, points, events)


def _in_range(name: str, value: Any, limits: tuple[float, float] | None = None) -> float:
    low, high = limits or READING_LIMITS[name]
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise InvalidInput(f"{name} must be between {low:g} and {high:g}, got {value!r}")
    return number


class BatteryReadings(TraceAggregate):
    """The readings reported for one battery: the latest values, and its negative events."""

    @staticmethod
    def create_id(code: str, **_: object) -> str:
        return readings_stream_id(code)

    @event("Opened")
    def __init__(self, *, code: str) -> None:
        self.code = code
        self.latest: dict[str, float] = {}
        self.remaining_power_capability: list[list[float]] = []
        self.negative_events: list[dict[str, str]] = []
        self.measured_at: datetime | None = None
        self.reported_by: str | None = None
        self.reports = 0
        self.request_ids: set[tuple[str, str]] = set()

    def report(
        self, readings: Readings, *, actor_id: str, occurred_at: datetime, request_id: str | None = None
    ) -> bool:
        """Record a report by the battery's holder (checked by the caller, who loaded the battery).
        A report measured before the latest one is refused: the passport shows the latest state.
        Returns False for a request id this actor has sent before (answered, not recorded twice)."""
        if request_id and (actor_id, request_id) in self.request_ids:
            return False
        checked = readings.checked()
        if self.measured_at is not None and occurred_at < self.measured_at:
            raise InvalidInput(
                f"these readings were measured at {occurred_at.isoformat()}, before the latest ones "
                f"({self.measured_at.isoformat()}); report readings in the order they were measured"
            )
        self._reported(
            values=checked.values,
            remaining_power_capability=[list(point) for point in checked.remaining_power_capability],
            negative_events=list(checked.negative_events),
            actor_id=actor_id,
            occurred_at=occurred_at,
            request_id=request_id,
        )
        return True

    @event("Reported")
    def _reported(
        self,
        values: dict[str, float],
        remaining_power_capability: list[list[float]],
        negative_events: list[str],
        actor_id: str,
        occurred_at: datetime,
        request_id: str | None,
    ) -> None:
        self.latest = dict(values)
        self.remaining_power_capability = [list(point) for point in remaining_power_capability]
        moment = occurred_at.isoformat()
        self.negative_events = [
            *self.negative_events,
            *({"negativeEvent": text, "at": moment} for text in negative_events),
        ][-KEPT_NEGATIVE_EVENTS:]
        self.measured_at = occurred_at
        self.reported_by = actor_id
        self.reports += 1
        if request_id:
            self.request_ids.add((actor_id, request_id))
