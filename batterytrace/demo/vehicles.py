"""The demo's battery swapping and vehicle scrapping: a swap operator's pool and scrapped vehicles.

**Swapping.** The swap operator (``swap-1``) takes new packs of one swappable model delivered by
their manufacturer into its stations' stock, then swaps them in and out of a few vehicles that a
vehicle maker first fitted with packs of the same model: each swap puts a stock pack into the
vehicle and leaves the vehicle's pack at the station, for the next vehicle. At the end one pack,
worn out, is retired from the stock.

**Scrapping.** Dismantlers take in scrapped vehicles with their packs (``VehicleScrapped``) and
only then take the packs out and retire them: one is handed over to a whitelisted recycler well
within the dismantler's deadline; one is retired and left with the dismantler long past it (the
``scrapped_not_handed_over`` finding of the compliance report); one vehicle arrived two days ago
and still holds its pack.

These stories run after the ordinary lives, on their own random stream and labels (battery
codes, VINs and times), so the lives the seed gives are not moved by them; they are written in
the last days of the demo's history (before ``today``), through the same domain commands as users'
requests, and saved as one batch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime

from batterytrace.demo.cast import DemoCast
from batterytrace.demo.parts import Labels, PackModel, day_of
from batterytrace.demo.reports import ReportClock
from batterytrace.events.battery import Battery, ProductionSpec
from batterytrace.events.battery_vehicles import scrap_vehicle, swap
from batterytrace.events.participant import Activity, Participant

# (station label, division code): the operator's stations, by the labels its staff use.
SWAP_STATIONS = (
    ("YH-440304-03", "440304"),  # Futian, Shenzhen
    ("YH-440305-01", "440305"),  # Nanshan, Shenzhen
    ("YH-440106-02", "440106"),  # Tianhe, Guangzhou
    ("YH-310115-05", "310115"),  # Pudong, Shanghai
)
SWAP_VEHICLES = 4  # vehicles a vehicle maker fitted with a swappable pack
SWAP_STOCK = 3  # new packs delivered to the operator before its first swap
SWAPS = 10
SCRAPPED_VEHICLES = 3  # handed over in time, left with the dismantler, just arrived
# Every pack these stories make: the generator counts them among the demo's batteries.
STORY_PACKS = SWAP_VEHICLES + SWAP_STOCK + SCRAPPED_VEHICLES


@dataclass
class VehicleStories:
    """Writes the stories into ``batch``; ``examples`` names a battery for each (see keys)."""

    cast: DemoCast
    models: list[PackModel]
    grants: list[tuple[Participant, Activity, int]]
    last_day: int  # the day before today: every real-world time lies before today
    reports: ReportClock
    seed: int
    batch: list[Battery] = field(default_factory=list)
    examples: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.seed}/vehicles")
        self.labels = Labels(self.rng, self.cast.wmi)
        self.today = date.fromordinal(self.last_day + 1)

    def write(self) -> list[Battery]:
        self._swapping()
        self._scrapping()
        return self.batch

    # ----------------------------------------------------------------------------- swapping
    def _swapping(self) -> None:
        rng, last = self.rng, self.last_day
        operator = self.cast.by_key["swap-1"]
        vehicle_maker = self.cast.by_key["vehicle-maker-1"]
        model = rng.choice(self.models)
        vehicles: dict[str, Battery] = {}
        for _ in range(SWAP_VEHICLES):
            pack = self._pack(model, rng.randint(last - 420, last - 400))
            install = last - rng.randint(330, 360)
            vehicles[self._install(pack, vehicle_maker, install)] = pack
        stock: list[Battery] = []
        for _ in range(SWAP_STOCK):
            pack = self._pack(model, rng.randint(last - 300, last - 280))
            self._deliver(pack, operator, last - 260)
            stock.append(pack)
        day = last - 240
        for _ in range(SWAPS):
            day += rng.randint(10, 22)
            vin = rng.choice(sorted(vehicles))
            removed, installed = vehicles[vin], stock.pop(0)
            station, division_code = rng.choice(SWAP_STATIONS)
            when = self.labels.at(day)
            self._act(when, removed, installed)
            swap(
                removed,
                installed,
                actor=operator,
                vin=vin,
                station=station,
                division_code=division_code,
                occurred_at=when,
            )
            vehicles[vin] = installed
            stock.append(removed)
        self.examples["swapped_in"] = installed.code
        worn = stock.pop(0)
        when = self.labels.at(max(day, day_of(worn.last_occurred_at)) + 3)
        self._act(when, worn)
        worn.retire(
            actor=operator,
            reason="capacity below 80%, withdrawn from swap service",
            state_of_health_pct=round(rng.uniform(74, 79), 1),
            occurred_at=when,
        )
        self.examples["retired_from_swap_stock"] = worn.code
        self.examples["swap_stock"] = stock[0].code

    # ---------------------------------------------------------------------------- scrapping
    def _scrapping(self) -> None:
        """(scrapped this many days ago, days until retired, days until handed over)."""
        last = self.last_day
        plans = (
            ("scrapped_and_handed_over", 120, 2, 9),
            ("scrapped_not_handed_over", 70, 4, None),
            ("in_scrapped_vehicle", 2, None, None),
        )
        dismantlers = self.cast.role("dismantler")
        for (example, ago, retire, hand_over), dismantler in zip(plans, dismantlers, strict=False):
            model = self.rng.choice(self.models)
            vehicle_maker = self.rng.choice(self.cast.role("vehicle-maker"))
            install = last - ago - self.rng.randint(1500, 2000)
            pack = self._pack(model, install - self.rng.randint(20, 60))
            vin = self._install(pack, vehicle_maker, install)
            scrapped = self.labels.at(last - ago)
            self._act(scrapped, pack)
            scrap_vehicle([pack], actor=dismantler, vin=vin, scrapped_on=None, occurred_at=scrapped)
            if retire is not None:
                when = self.labels.at(last - ago + retire)
                self._act(when, pack)
                pack.retire(
                    actor=dismantler,
                    reason="vehicle scrapped",
                    state_of_health_pct=round(self.rng.uniform(60, 75), 1),
                    occurred_at=when,
                )
            if hand_over is not None:
                self._hand_over(pack, dismantler, last - ago + hand_over)
            self.examples[example] = pack.code

    def _hand_over(self, pack: Battery, dismantler: Participant, day: int) -> None:
        recyclers = [
            p for p, activity, since in self.grants if activity == Activity.RECYCLING and since <= day
        ]
        when = self.labels.at(day)
        self._act(when, pack)
        pack.hand_over(
            actor=dismantler,
            receiver=self.rng.choice(recyclers),
            activity=Activity.RECYCLING,
            occurred_at=when,
        )

    # ------------------------------------------------------------------------------ helpers
    def _pack(self, model: PackModel, day: int) -> Battery:
        spec = ProductionSpec(
            code=self.labels.code(model.manufacturer_code, "P", model.battery_type, model.spec_code, day),
            rated_capacity_ah=model.capacity_ah,
            nominal_voltage_v=model.voltage_v,
            energy_kwh=model.energy_kwh,
            mass_kg=round(model.energy_kwh * model.kg_per_kwh, 1),
            occurred_at=self.labels.at(day),
        )
        assert spec.occurred_at is not None
        self.reports.report(spec.occurred_at)
        pack = Battery.produce(spec, actor=model.maker, code_owner_id=model.maker.id, today=self.today)
        self.batch.append(pack)
        return pack

    def _install(self, pack: Battery, vehicle_maker: Participant, day: int) -> str:
        """Delivered to ``vehicle_maker`` and installed in a new vehicle of its make: its VIN."""
        self._deliver(pack, vehicle_maker, day - 5)
        vin = self.labels.vin(vehicle_maker, day)
        when = self.labels.at(day)
        self._act(when, pack)
        pack.install(actor=vehicle_maker, vin=vin, occurred_at=when)
        return vin

    def _deliver(self, pack: Battery, receiver: Participant, day: int) -> None:
        when = self.labels.at(max(day, day_of(pack.last_occurred_at) + 1))
        self._act(when, pack)
        pack.deliver(actor=self.cast.by_id[pack.manufacturer_id], receiver=receiver, occurred_at=when)

    def _act(self, when: datetime, *batteries: Battery) -> None:
        """Set when the next command's report reaches the platform (``ReportClock``)."""
        self.reports.report(when, *batteries)
