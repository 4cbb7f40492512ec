"""Whole battery lives for the demo, built in memory with the domain's own commands.

Every step (produce, deliver, install, remove, take in a scrapped vehicle, retire, collect, hand
over, cascade-reuse, recycle) goes through the ``Battery`` command that users' requests go
through, so the demo cannot hold a history the platform would refuse. Nothing is read back from
the store: the writer keeps the batteries of the current batch and hands them over for one
``save``; what it keeps beyond a batch is bounded by the calendar (serial counters per maker code
and day), not by the battery count.

Each life is planned before it is played: the final stage is drawn first, then dates that leave
room for the steps that stage needs, so real-world times never run backwards or into the future.

Each command runs after ``ReportClock.report`` has set when its report reaches the platform (a
short delay after the event, within its deadline), so that the events' recording times are as
simulated as their real-world times; the caller runs the writer under ``recording_clock``.

About 460 lines: a life's plan and its playing belong together (each stage's dates are drawn for
the steps that stage needs); the cast, the parts and vehicles, and the swap and scrapping stories
are modules of their own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import accumulate

from batterytrace.demo.cast import DemoCast, DemoPoints
from batterytrace.demo.parts import (
    FIRST_PRODUCTION_DAY,
    Labels,
    PackModel,
    RegionSampler,
    day_of,
    grants,
    pack_models,
    recovered_materials,
)
from batterytrace.demo.reports import LATE_REPORT_DAYS, ReportClock
from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import Battery, ProductionSpec
from batterytrace.events.battery_vehicles import scrap_vehicle
from batterytrace.events.conventions import OVERDUE_AFTER_DAYS
from batterytrace.events.lifecycle import State
from batterytrace.events.participant import Activity, Participant
from batterytrace.events.regions import Division, division

# Final stage of a first-life pack: weights for LFP (B) and NCM (E). Cascade use takes mostly
# LFP (long cycle life, safe); NCM goes to recycling for its nickel and cobalt.
STAGES = {
    "produced": (5, 5), "installed": (33, 38), "removed": (4, 4), "retired": (4, 4),
    "overdue": (1, 1), "collected": (4, 4), "handed_over": (4, 5), "recycled": (25, 36),
    "cascade_reused": (20, 3),
}  # fmt: skip
CHAINED = ("collected", "handed_over", "recycled", "cascade_reused")  # stages after retirement
# Drawn for every pack: ``rng.choices(names, cum_weights=...)`` draws exactly what
# ``rng.choices(names, weights)`` does (it accumulates the weights first), so accumulate them once.
STAGE_NAMES = tuple(STAGES)
STAGE_CUM_WEIGHTS = {
    kind: list(accumulate(w[column] for w in STAGES.values())) for column, kind in enumerate(("B", "E"))
}

VEHICLE_SHARE = (35, 10, 20, 15, 20)  # vehicle-maker-1 … vehicle-maker-5
VEHICLE_CUM_SHARE = list(accumulate(VEHICLE_SHARE))
NON_COMPLIANT_SHARE = 0.03  # recycling handovers that go to a non-whitelisted workshop
DELIVERY_LEAD_DAYS = 5  # a new pack reaches the vehicle maker this long before it is installed
DELIVERY_TIME = time(10, 0)  # delivered mid-morning (no random draw: see LifeWriter._deliver)
SCRAPPED_BEFORE_RETIRED = timedelta(days=3)  # a scrapped vehicle's pack comes out 3 days later


@dataclass(frozen=True)
class Twist:
    """What a planted case changes in an otherwise ordinary life."""

    point_id: str | None = None  # collect here whatever the room (over-capacity outlet)
    heavy: bool = False  # the heaviest pack model
    lfp: bool = False
    modules: bool = False
    non_compliant: bool | None = None  # None: drawn (3 % of recycling handovers); else forced
    backwards: bool = False  # collection reported as a late correction dated before retirement
    reported_late: bool = False  # the life's last event (a collection) reported past its deadline


NO_TWIST = Twist()


class LifeWriter:
    """Plays battery lives into the current batch; ``flush`` hands the batch over for saving."""

    def __init__(
        self, rng: random.Random, cast: DemoCast, points: DemoPoints, today: date, reports: ReportClock
    ) -> None:
        self.rng, self.cast, self.points, self.today, self.reports = rng, cast, points, today, reports
        self.last_day = today.toordinal() - 1  # every real-world time lies before today
        self.models, self.model_weights = pack_models(rng, cast)
        self.model_cum_weights = list(accumulate(self.model_weights))
        self.heaviest = max(self.models, key=lambda m: m.energy_kwh * m.kg_per_kwh)
        self.lfp_models = [m for m in self.models if m.battery_type == "B"]
        self.vehicle_makers = cast.role("vehicle-maker")
        self.dismantlers = cast.role("dismantler")
        self.informal = cast.role("informal")
        self.grants = grants(cast)
        # Whitelist lookups of every disposal, worked out once: the first grant of an activity, and
        # who holds one on a day (in ``grants`` order, the order ``rng.choice`` picks from).
        self.first_grant = {
            activity: min(d for _, a, d in self.grants if a == activity)
            for activity in (Activity.RECYCLING, Activity.CASCADE_USE)
        }
        self.whitelisted: dict[tuple[Activity, int], list[Participant]] = {}
        self.regions = RegionSampler()
        self.batch: list[Battery] = []
        self.pools: dict[tuple[str, str], list[Battery]] = {}
        self.pool_sizes: dict[tuple[str, str], int] = {}
        self.labels = Labels(rng, cast.wmi)
        self.examples: dict[str, str] = {}
        self.packs = self.modules = self.products = 0

    # --------------------------------------------------------------------------- a first life
    def pack(self, stage: str | None = None, twist: Twist = NO_TWIST) -> Battery:
        """One pack-level battery from production to ``stage`` (drawn when not given)."""
        rng = self.rng
        model = self._model(twist)
        stage = stage or rng.choices(STAGE_NAMES, cum_weights=STAGE_CUM_WEIGHTS[model.battery_type])[0]
        mass = round(model.energy_kwh * model.kg_per_kwh * rng.uniform(0.98, 1.02), 1)
        point_id = twist.point_id
        region = _division_of(self.points, point_id) if point_id else self.regions(rng)
        if stage == "collected" and point_id is None:
            point_id = self.points.with_room(rng, region.code, mass)
            if point_id is None:
                stage = "recycled"  # every outlet nearby is full: it went on to a recycler
        collect = stage == "collected" or (stage in CHAINED and rng.random() < 0.7)
        days = self._schedule(stage, collect, LATE_REPORT_DAYS[1] + 1 if twist.reported_late else 0)
        battery = self._produce(model, days["produce"], mass, twist.modules)
        self.packs += 1
        if "install" not in days:
            return battery
        vehicle_maker = rng.choices(self.vehicle_makers, cum_weights=VEHICLE_CUM_SHARE)[0]
        self._first_life(battery, vehicle_maker, days)
        if stage == "removed":
            self._remove(battery, vehicle_maker, "repair", self.labels.at(days["remove"]))
        if "retire" not in days:
            return battery
        holder = self._retire(battery, vehicle_maker, days["retire"])
        if collect:
            point_id = point_id or self.points.any(self.rng, region.code)
            late = twist.reported_late and stage == "collected"  # its last event: nothing waits
            holder = self._collect(battery, point_id, days, twist.backwards, late)
            if stage == "collected":
                self.points.hold(point_id, battery.mass_kg)
        if "hand_over" in days:
            self._dispose(battery, holder, stage, days, twist.non_compliant)
        return battery

    def _schedule(self, stage: str, collect: bool, quiet_days: int = 0) -> dict[str, int]:
        """Day numbers (ordinals) of each step, leaving room for the steps the stage needs (and,
        for a chained stage, ``quiet_days`` after the last step: a report still to come)."""
        rng, last = self.rng, self.last_day
        start = FIRST_PRODUCTION_DAY
        install_gap = rng.randint(10, 120)
        if stage == "produced":
            return {"produce": rng.randint(last - 150, last - 30)}
        if stage == "installed":
            produce = rng.randint(start, last - max(30, install_gap))
            days = {"produce": produce, "install": produce + install_gap}
            return self._repair(days, last)
        if stage == "removed":
            remove = rng.randint(last - 60, last)
            produce = rng.randint(start, remove - 30 - install_gap)
            days = {"produce": produce, "install": produce + install_gap, "remove": remove}
            return self._repair(days, remove)
        after = {"collect": rng.randint(1, 45)} if collect else {}
        if stage in ("handed_over", "recycled", "cascade_reused"):
            after["hand_over"] = rng.randint(5, 90)
        if stage == "recycled":
            after["recycle"] = rng.randint(10, 120)
        if stage == "retired":
            low, high = last - OVERDUE_AFTER_DAYS + 10, last
        elif stage == "overdue":
            low, high = last - 700, last - OVERDUE_AFTER_DAYS - 5
        else:
            low, high = start, last - sum(after.values()) - quiet_days
        produce = rng.randint(start, high - 365 - install_gap)
        install = produce + install_gap
        days = {"produce": produce, "install": install}
        days["retire"] = day = rng.randint(max(low, install + 365), high)
        for step, gap in after.items():
            days[step] = day = day + gap
        return self._repair(days, days["retire"])

    def _repair(self, days: dict[str, int], until: int) -> dict[str, int]:
        """One in eight vehicles has its pack out for repair once and put back."""
        install = days["install"]
        if until - install >= 120 and self.rng.random() < 0.125:
            days["repair"] = self.rng.randint(install + 30, until - 40)
            days["reinstall"] = days["repair"] + self.rng.randint(3, 20)
        return days

    def _first_life(self, battery: Battery, vehicle_maker: Participant, days: dict[str, int]) -> None:
        vin = self.labels.vin(vehicle_maker, days["install"])
        self._deliver(battery, vehicle_maker, days)
        self._install(battery, vehicle_maker, vin, self.labels.at(days["install"]))
        if "repair" in days:
            self._remove(battery, vehicle_maker, "repair", self.labels.at(days["repair"]))
            self._install(battery, vehicle_maker, vin, self.labels.at(days["reinstall"]))

    def _deliver(self, battery: Battery, vehicle_maker: Participant, days: dict[str, int]) -> None:
        """The manufacturer delivers the new pack to the vehicle maker, which may then install it.

        A few days before the installation (never before production: packs are installed at
        least 10 days after they are made), at a fixed hour: no draw from the lives' random
        stream, so the lives are the ones the same seed gave before deliveries were recorded."""
        if battery.responsible_id == vehicle_maker.id:
            return  # a vehicle maker installing its own pack holds it already
        day = max(days["produce"] + 1, days["install"] - DELIVERY_LEAD_DAYS)
        when = datetime.combine(date.fromordinal(day), DELIVERY_TIME, tzinfo=CHINA_STANDARD_TIME)
        manufacturer = self.cast.by_id[battery.manufacturer_id]
        self.reports.report(when, battery)
        battery.deliver(actor=manufacturer, receiver=vehicle_maker, occurred_at=when)

    def _install(self, battery: Battery, vehicle_maker: Participant, vin: str, when: datetime) -> None:
        self.reports.report(when, battery)
        battery.install(actor=vehicle_maker, vin=vin, occurred_at=when)

    def _remove(self, battery: Battery, actor: Participant, reason: str, when: datetime) -> None:
        self.reports.report(when, battery)
        battery.remove(actor=actor, reason=reason, occurred_at=when)

    def _retire(self, battery: Battery, vehicle_maker: Participant, day: int) -> Participant:
        """A scrapped vehicle's pack is retired by the dismantler that took the vehicle in; a worn
        pack replaced by the vehicle maker's service network is removed and retired by the vehicle
        maker."""
        health = round(self.rng.uniform(62, 80), 1)
        if self.rng.random() < 0.4:
            self._remove(battery, vehicle_maker, "replacement", self.labels.at(day, 9))
            when = self.labels.at(day, 11)
            self.reports.report(when, battery)
            battery.retire(
                actor=vehicle_maker,
                reason="capacity below 80%, replaced under warranty",
                state_of_health_pct=health,
                occurred_at=when,
            )
            return vehicle_maker
        dismantler = self.rng.choice(self.dismantlers)
        when = self.labels.at(day)
        # The vehicle reached the dismantler a few days before the pack came out; a fixed lead,
        # no draw, so the lives are the ones the same seed gave before scrapping was recorded.
        scrapped = when - SCRAPPED_BEFORE_RETIRED
        self.reports.report(scrapped, battery)
        assert battery.vin is not None  # retired here only from a vehicle
        scrap_vehicle([battery], actor=dismantler, vin=battery.vin, scrapped_on=None, occurred_at=scrapped)
        self.reports.report(when, battery)
        battery.retire(
            actor=dismantler, reason="vehicle scrapped", state_of_health_pct=health, occurred_at=when
        )
        return dismantler

    def _collect(
        self,
        battery: Battery,
        point_id: str,
        days: dict[str, int],
        backwards: bool = False,
        reported_late: bool = False,
    ) -> Participant:
        """``backwards``: the outlet's scan predates the retirement paperwork and is reported
        afterwards as a late correction; ``reported_late``: reported long after its deadline."""
        point = self.points.by_id[point_id]
        operator = self.cast.by_id[point.operator_id]
        day = days["collect"]
        if backwards:
            day = days["retire"] - self.rng.randint(3, 12)
        when = self.labels.at(day)
        condition = self.rng.choice(("intact", "intact", "intact", "damaged casing"))
        self.reports.report(when, battery, late=reported_late)
        battery.collect(
            actor=operator,
            collection_point=point,
            occurred_at=when,
            condition=condition,
            late_correction=backwards,
        )
        return operator

    def _dispose(
        self,
        battery: Battery,
        holder: Participant,
        stage: str,
        days: dict[str, int],
        informal: bool | None,
    ) -> None:
        """Hand the battery to a recycler or cascade-use enterprise, then recycle it.

        Nobody is whitelisted before the first batch: a handover dated earlier waits for it.
        ``informal`` forces (True) or rules out (False) a non-whitelisted recycler; None draws.
        """
        rng, day = self.rng, days["hand_over"]
        activity = Activity.CASCADE_USE if stage == "cascade_reused" else Activity.RECYCLING
        first_grant = self.first_grant[activity]
        shift = first_grant - day + rng.randint(0, 30) if day < first_grant else 0
        day += shift
        if informal is None:
            informal = activity == Activity.RECYCLING and rng.random() < NON_COMPLIANT_SHARE
        receivers = self.informal if informal else self._whitelisted(activity, day)
        receiver = rng.choice(receivers)
        when = self.labels.at(day)
        self.reports.report(when, battery)
        battery.hand_over(actor=holder, receiver=receiver, activity=activity, occurred_at=when)
        if stage == "cascade_reused":
            self._pool(receiver, battery)
        elif stage == "recycled" and not informal:  # an informal workshop reports nothing more
            recovered = recovered_materials(rng, battery)
            when = self.labels.at(days["recycle"] + shift)
            self.reports.report(when, battery)
            battery.recycle(actor=receiver, recovered_kg=recovered, occurred_at=when)

    # ---------------------------------------------------------------------------- second life
    def _pool(self, enterprise: Participant, original: Battery) -> None:
        """Retired packs wait at the cascade-use enterprise until a product's worth (1-4)."""
        key = (enterprise.id, original.battery_type)
        pool = self.pools.setdefault(key, [])
        pool.append(original)
        if len(pool) >= self.pool_sizes.setdefault(key, self.rng.randint(1, 4)):
            self._second_life(enterprise, pool)
            self.pools[key], self.pool_sizes[key] = [], self.rng.randint(1, 4)

    def _second_life(self, enterprise: Participant, originals: list[Battery]) -> None:
        """A second-life product with a new code under the enterprise's own manufacturer code,
        made the way ``BatteryTrace.cascade_reuse`` makes it."""
        rng = self.rng
        ready = max(day_of(o.last_occurred_at) for o in originals)
        day = min(self.last_day, ready + rng.randint(7, 60))
        telecom = "9TW" in enterprise.manufacturer_codes or rng.random() < 0.2  # the tower company
        voltage = 51.2 if telecom else 768.0
        energy = sum(o.energy_kwh for o in originals) * rng.uniform(0.70, 0.85)
        capacity = round(energy * 1000 / voltage, 1)
        code = self.labels.code(
            enterprise.manufacturer_codes[0], "P", originals[0].battery_type,
            "T1" if telecom else "S1", day,
        )  # fmt: skip
        spec = ProductionSpec(
            code=code,
            rated_capacity_ah=capacity,
            nominal_voltage_v=voltage,
            energy_kwh=round(capacity * voltage / 1000, 1),
            mass_kg=round(sum(o.mass_kg for o in originals) * 1.06, 1),
            occurred_at=self.labels.at(day),
        )
        assert spec.occurred_at is not None
        self.reports.report(spec.occurred_at, *originals)  # one report makes and links them
        product = Battery.produce(
            spec, actor=enterprise, code_owner_id=enterprise.id, originals=originals,
            today=self.today,
        )  # fmt: skip
        for original in originals:
            original.cascade_reuse(product, actor=enterprise)
        self.batch.append(product)
        self.products += 1
        self.examples.setdefault("second_life_product", product.code)
        self._second_life_use(enterprise, product, day, telecom)

    def _second_life_use(self, enterprise: Participant, product: Battery, day: int, telecom: bool) -> None:
        """Most products go to a site; a few have already ended their second life too."""
        rng, last = self.rng, self.last_day
        install = day + rng.randint(5, 45)
        if rng.random() >= 0.8 or install > last:
            return
        place = self.regions(rng)
        site = f"{place.name}{'5G基站' if telecom else '储能电站'}{rng.randint(1, 999)}号"
        when = self.labels.at(install)
        self.reports.report(when, product)
        product.install(
            actor=enterprise,
            site=site,
            application="telecom base station backup" if telecom else "energy storage",
            occurred_at=when,
        )
        gaps = [rng.randint(1, 45), rng.randint(5, 90), rng.randint(10, 120)]
        if rng.random() >= 0.15 or install + 365 > last - sum(gaps):
            return
        retire = rng.randint(install + 365, last - sum(gaps))
        health = round(rng.uniform(45, 60), 1)
        when = self.labels.at(retire)
        self.reports.report(when, product)
        product.retire(
            actor=enterprise,
            reason="second life ended: capacity below 60%",
            state_of_health_pct=health,
            occurred_at=when,
        )
        home = division(enterprise.division_code) or place
        days = {"retire": retire, "collect": retire + gaps[0]}
        days["hand_over"] = days["collect"] + gaps[1]
        days["recycle"] = days["hand_over"] + gaps[2]
        holder = self._collect(product, self.points.any(self.rng, home.code), days)
        self._dispose(product, holder, "recycled", days, informal=None)
        if product.state == State.RECYCLED:
            self.examples.setdefault("second_life_recycled", product.code)

    # ------------------------------------------------------------------------------ batching
    def flush(self) -> list[Battery]:
        """The batch's batteries, after turning waiting originals into products: a product
        and its originals are saved in one transaction, so nothing waits across batches."""
        for (enterprise_id, _), pool in list(self.pools.items()):
            if pool:
                self._second_life(self.cast.by_id[enterprise_id], pool)
        self.pools.clear()
        batch, self.batch = self.batch, []
        self._note_examples(batch)
        return batch

    def _note_examples(self, batch: list[Battery]) -> None:
        wanted = {"cascade-reused": "cascade_reused", "assembled": "module"}
        if all(key in self.examples for key in wanted.values()):
            return
        for battery in batch:
            key = wanted.get(battery.state)
            if key:
                self.examples.setdefault(key, battery.code)

    # ------------------------------------------------------------------------------- helpers
    def _whitelisted(self, activity: Activity, day: int) -> list[Participant]:
        """Who is whitelisted for ``activity`` on ``day``, in ``grants`` order (kept per day:
        bounded by the calendar)."""
        found = self.whitelisted.get((activity, day))
        if found is None:
            found = self.whitelisted[(activity, day)] = [
                p for p, a, d in self.grants if a == activity and d <= day
            ]
        return found

    def _model(self, twist: Twist) -> PackModel:
        if twist.heavy:
            return self.heaviest
        if twist.lfp:
            return self.rng.choice(self.lfp_models)
        return self.rng.choices(self.models, cum_weights=self.model_cum_weights)[0]

    def _produce(self, model: PackModel, day: int, mass: float, with_modules: bool) -> Battery:
        """Produce a pack; 2 % of packs (and planted ones) are recorded with their modules."""
        modules = self._modules(model, day, mass) if with_modules or self.rng.random() < 0.02 else []
        spec = ProductionSpec(
            code=self.labels.code(model.manufacturer_code, "P", model.battery_type, model.spec_code, day),
            rated_capacity_ah=model.capacity_ah,
            nominal_voltage_v=model.voltage_v,
            energy_kwh=model.energy_kwh,
            mass_kg=mass,
            occurred_at=self.labels.at(day),
        )
        assert spec.occurred_at is not None
        self.reports.report(spec.occurred_at, *modules)  # one report makes and links them
        pack = Battery.produce(
            spec, actor=model.maker, code_owner_id=model.maker.id, components=modules,
            today=self.today,
        )  # fmt: skip
        for module in modules:
            module.assemble_into(pack)
        self.batch.append(pack)
        self.batch.extend(modules)
        return pack

    def _modules(self, model: PackModel, day: int, pack_mass: float) -> list[Battery]:
        count = self.rng.choice((4, 6, 8))
        made = max(FIRST_PRODUCTION_DAY, day - self.rng.randint(1, 5))
        modules = []
        for _ in range(count):
            spec = ProductionSpec(
                code=self.labels.code(model.manufacturer_code, "M", model.battery_type, f"M{count}", made),
                rated_capacity_ah=model.capacity_ah,
                nominal_voltage_v=round(model.voltage_v / count, 2),
                energy_kwh=round(model.energy_kwh / count, 2),
                mass_kg=round(pack_mass * 0.85 / count, 1),
                occurred_at=self.labels.at(made),
            )
            assert spec.occurred_at is not None
            self.reports.report(spec.occurred_at)
            modules.append(
                Battery.produce(spec, actor=model.maker, code_owner_id=model.maker.id, today=self.today)
            )
        self.modules += count
        return modules


def _division_of(points: DemoPoints, point_id: str) -> Division:
    found = division(points.by_id[point_id].division_code)
    assert found is not None, point_id
    return found
