"""The demo's EU battery passports: every model's data, and readings of some batteries in service.

Without a model's data a battery's passport answers 404, so the demo posts the data of every
model its makers produced: the pack models (``parts.pack_models``) and the second-life products'
models the cascade-use enterprises made. The bodies are validated by the API's own body models
(``ModelData``, ``ReadingsReport``) and written with the same checks a caller of
``POST /api/v1/models`` and ``POST /api/v1/batteries/{code}/readings`` meets: a model by the
domain's ``BatteryModel.post`` as the owner of its manufacturer code, readings by the holder the
battery names, checked by ``service.check_readings`` (what ``report_readings`` runs).

Speed, as in the rest of the demo: one write per model or report (about 140 in a 2,000-battery
demo) cost about a second, a third of the whole demo; so the models go in one transaction and
each batch's readings in the batch's own (``PassportCandidates.note``, while its batteries are in
memory). Which batteries report is drawn from a random stream of each battery's own
(``{seed}/readings/{code}``): about one in ``READINGS_ONE_IN`` in service. The first battery in
service by code always reports (through ``report_readings``, at the end, if its batch did not), so
the demo's passport example (``examples["passport"]``) is the battery ``examples_from_views`` finds
again on a second start, and its passport shows the performance aspect.

Readings are measured in the last weeks before the application's clock and recorded shortly after
(``ReportClock``), so the same seed and clock give the same store.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from batterytrace.demo.cast import DemoCast
from batterytrace.demo.examples import PASSPORT_EXAMPLE
from batterytrace.demo.parts import PackModel
from batterytrace.demo.passport_data import ModelSpec, model_body
from batterytrace.demo.reports import ReportClock
from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import Battery
from batterytrace.events.battery_model import BatteryModel, model_code_of
from batterytrace.events.battery_readings import BatteryReadings
from batterytrace.events.lifecycle import State
from batterytrace.events.participant import Participant
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.passport.model_data import ModelData, ReadingsReport
from batterytrace.trace.passport.service import check_readings, report_readings

__all__ = ["PASSPORT_EXAMPLE", "PassportCandidates", "post_passports"]

READINGS_ONE_IN = 8  # batteries in service that report readings: about one in this many
MODELS_POSTED_DAYS_AGO = 90  # models are posted (recorded) this long before the clock's day
MEASURED_DAYS_AGO = (1, 21)  # readings are measured this many days before the clock's now
DAILY_CYCLES = {"B": (0.25, 0.6), "E": (0.2, 0.5)}  # full cycles a day in a vehicle
FADE_PER_CYCLE = {"B": 0.004, "E": 0.008}  # % of certified energy lost per full cycle
FADE_PER_YEAR = {"B": 0.8, "E": 1.2}  # calendar ageing, % a year
NEGATIVE_EVENTS = (
    "深度放电至0% SoC / deep discharge to 0 % SoC",
    "充电时电芯过温告警 / cell over-temperature alarm while charging",
    "底部碰撞，外壳检查无损伤 / underbody impact, housing inspected, no damage",
)


@dataclass(frozen=True)
class InService:
    """What the readings of one battery in service are drawn from."""

    code: str
    holder_id: str
    battery_type: str
    capacity_ah: float
    energy_kwh: float
    produced_at: datetime
    since: datetime  # its latest event: put into service (or back into it)


@dataclass
class PassportCandidates:
    """Watches each batch before it is saved: second-life models, and readings of batteries in
    service, made while the batch's batteries are in memory and saved in the batch's transaction."""

    seed: int
    second_life_models: dict[str, ModelSpec] = field(default_factory=dict)
    first_in_service: InService | None = None
    reported: set[str] = field(default_factory=set)

    def note(
        self, batch: list[Battery], app: BatteryTrace, cast: DemoCast, reports: ReportClock
    ) -> list[BatteryReadings]:
        """The readings streams of the batch's reporting batteries (to save with the batch)."""
        streams = []
        for battery in batch:
            if battery.is_second_life:
                self._second_life_model(battery, cast)
            if battery.state != State.INSTALLED or battery.level != "pack" or battery.responsible_id is None:
                continue
            found = None  # made only for a battery that needs it (most are neither)
            if self.first_in_service is None or battery.code < self.first_in_service.code:
                found = self.first_in_service = in_service(battery)
            if random.Random(f"{self.seed}/readings/{battery.code}").randrange(READINGS_ONE_IN) == 0:
                found = found or in_service(battery)
                streams.append(self._readings(app, battery, cast.by_id[found.holder_id], found, reports))
        return streams

    def _readings(
        self, app: BatteryTrace, battery: Battery, holder: Participant, found: InService, reports: ReportClock
    ) -> BatteryReadings:
        """The holder's report, checked as ``report_readings`` checks it, recorded shortly after."""
        report = _readings(found, app.clock(), self.seed)
        moment = check_readings(app, battery, holder, report.occurred_at)
        previous = reports.current
        reports.at(moment + timedelta(minutes=5 + len(self.reported) % 55))
        stream = BatteryReadings(code=battery.code)
        stream.report(report.readings(), actor_id=holder.id, occurred_at=moment, request_id=report.request_id)
        reports.current = previous
        self.reported.add(battery.code)
        return stream

    def _second_life_model(self, product: Battery, cast: DemoCast) -> None:
        code = model_code_of(product.code)
        if code in self.second_life_models:
            return
        maker = cast.by_id[product.manufacturer_id]
        key = next(k for k, p in cast.by_key.items() if p.id == maker.id)
        self.second_life_models[code] = ModelSpec(
            maker_key=key,
            model_code=code,
            battery_type=product.battery_type,
            capacity_ah=product.rated_capacity_ah,
            voltage_v=product.nominal_voltage_v,
            energy_kwh=product.energy_kwh,
            kg_per_kwh=round(product.mass_kg / product.energy_kwh, 2),
            second_life=True,
            telecom=code.endswith("T1"),
        )


def in_service(battery: Battery) -> InService:
    assert battery.responsible_id is not None
    return InService(
        code=battery.code,
        holder_id=battery.responsible_id,
        battery_type=battery.battery_type,
        capacity_ah=battery.rated_capacity_ah,
        energy_kwh=battery.energy_kwh,
        produced_at=battery.produced_at,
        since=battery.last_occurred_at,
    )


def pack_spec(model: PackModel, cast: DemoCast) -> ModelSpec:
    key = next(k for k, p in cast.by_key.items() if p.id == model.maker.id)
    return ModelSpec(
        maker_key=key,
        model_code=f"{model.manufacturer_code}P{model.battery_type}{model.spec_code}",
        battery_type=model.battery_type,
        capacity_ah=model.capacity_ah,
        voltage_v=model.voltage_v,
        energy_kwh=model.energy_kwh,
        kg_per_kwh=model.kg_per_kwh,
    )


def post_passports(
    app: BatteryTrace,
    cast: DemoCast,
    pack_models: list[PackModel],
    candidates: PassportCandidates,
    reports: ReportClock,
) -> tuple[int, str | None]:
    """Post every model's data (one transaction), and readings of the first battery in service
    if its batch did not report them; returns the events recorded and the passport example."""
    specs = [pack_spec(model, cast) for model in pack_models]
    specs += [candidates.second_life_models[code] for code in sorted(candidates.second_life_models)]
    now = app.clock()
    posted = datetime.combine(
        now.astimezone(CHINA_STANDARD_TIME).date() - timedelta(days=MODELS_POSTED_DAYS_AGO),
        time(9, 0),
        tzinfo=CHINA_STANDARD_TIME,
    )
    owners = {code: app.code_owner(code) for code in sorted({spec.model_code[:3] for spec in specs})}
    models = []
    for number, spec in enumerate(specs):
        reports.at(posted + timedelta(minutes=number))
        body = ModelData.model_validate(model_body(spec, candidates.seed))
        models.append(
            BatteryModel.post(
                model_code=body.model_code,
                data=body.data(),
                actor=cast.by_key[spec.maker_key],
                code_owner_id=owners[spec.model_code[:3]],
            )
        )
    events = len(app.commit(*models).events)
    first = candidates.first_in_service
    if first is None:
        return events, None
    if first.code not in candidates.reported:
        report = _readings(first, now, candidates.seed)
        assert report.occurred_at is not None
        reports.report(report.occurred_at)
        result = report_readings(
            app,
            actor_id=first.holder_id,
            code=first.code,
            readings=report.readings(),
            occurred_at=report.occurred_at,
            request_id=report.request_id,
        )
        events += len(result.events)
    return events, first.code


def _readings(battery: InService, now: datetime, seed: int) -> ReadingsReport:
    """Plausible battery-management readings for a battery in service: ageing by full cycles and
    by the calendar, throughput from cycles, the rest small and seeded."""
    rng = random.Random(f"{seed}/readings/{battery.code}/values")
    measured = now - timedelta(days=rng.uniform(*MEASURED_DAYS_AGO))
    measured = max(measured, battery.since + timedelta(hours=1))
    measured = (
        min(measured, now - timedelta(minutes=10)).astimezone(CHINA_STANDARD_TIME).replace(microsecond=0)
    )
    days = max(0.0, (measured - battery.produced_at).total_seconds() / 86_400)
    kind = battery.battery_type if battery.battery_type in DAILY_CYCLES else "E"
    cycles = round(days * rng.uniform(*DAILY_CYCLES[kind]))
    fade = min(35.0, cycles * FADE_PER_CYCLE[kind] + days / 365 * FADE_PER_YEAR[kind])
    soce = round(100.0 - fade, 1)
    capacity_fade = round(fade * rng.uniform(0.9, 1.05), 1)
    happened = (measured - timedelta(days=rng.randint(3, 200))).date().isoformat()
    negative = [f"{rng.choice(NEGATIVE_EVENTS)}, {happened}"]
    return ReadingsReport.model_validate(
        {
            "state_of_certified_energy_pct": soce,
            "capacity_fade_pct": capacity_fade,
            "remaining_capacity_ah": round(battery.capacity_ah * (1 - capacity_fade / 100), 1),
            "remaining_energy_kwh": round(battery.energy_kwh * soce / 100, 1),
            "state_of_charge_pct": round(rng.uniform(20.0, 95.0), 1),
            "full_cycles": cycles,
            "energy_throughput_kwh": round(cycles * battery.energy_kwh * 0.97, 1),
            "capacity_throughput_ah": round(cycles * battery.capacity_ah * 0.98, 1),
            "time_extreme_high_temp_h": round(days * rng.uniform(0.0, 0.12), 1),
            "time_extreme_low_temp_h": round(days * rng.uniform(0.0, 0.5), 1),
            "time_extreme_high_temp_charging_h": round(days * rng.uniform(0.0, 0.01), 1),
            "time_extreme_low_temp_charging_h": round(days * rng.uniform(0.0, 0.03), 1),
            "power_fade_pct": round(fade * rng.uniform(0.5, 0.8), 1),
            "round_trip_efficiency_fade_pct": round(fade * rng.uniform(0.1, 0.2), 1),
            "remaining_round_trip_efficiency_pct": round(95.0 - fade * 0.15, 1),
            "current_self_discharge_rate_pct": round(rng.uniform(3.0, 4.0), 1),  # above any initial (1.5-3)
            "internal_resistance_increase_pct": round(fade * rng.uniform(1.5, 2.5), 1),
            "remaining_power_capability": [
                {"at_soc_pct": 80, "power_w": round(battery.energy_kwh * 1000 * (1 - fade / 100) * 1.8)}
            ],
            "negative_events": negative if rng.random() < 0.1 else [],
            "occurred_at": measured.isoformat(),
            "request_id": f"bms-{battery.code}-{measured.date().isoformat()}",
        }
    )
