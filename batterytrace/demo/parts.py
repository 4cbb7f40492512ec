"""The demo's catalogue and labels: pack models, codes, VINs, times, regions, recovered metals.

Kept apart from the life writer so that the numbers a reviewer may want to question (capacities,
kg per kWh, recoverable metal shares) sit together, each with the reason for its value.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import accumulate

from batterytrace.demo.cast import POPULATION, DemoCast
from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import Battery
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.conventions import YEAR_CHARACTERS
from batterytrace.events.participant import Activity, Participant
from batterytrace.events.regions import Division, prefectures

FIRST_PRODUCTION = date(2017, 1, 1)
TRACE_CHARACTERS = "0123456789ABCDEFGHJKLMNPRSTUVWXY"  # maker-defined; no I, O, Q, Z to misread
VIN_CHARACTERS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # GB 16735: no I, O, Q
VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7, "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}  # fmt: skip
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_YEAR = {year: char for char, year in YEAR_CHARACTERS.items()}  # the VIN model-year table

# Pack designs: LFP cells are 3.2 V, NCM 3.65 V; 96-120 cells in series give 300-400 V, and
# 150-280 Ah cells 45-110 kWh packs. LFP packs weigh more per kWh than NCM ones.
CELL_VOLTS = {"B": 3.2, "E": 3.65}
SERIES_CELLS = {"B": (96, 104, 108, 120), "E": (96, 100, 108)}
CAPACITIES_AH = {"B": (150, 173, 202, 230, 280), "E": (156, 180, 206, 230)}
KG_PER_KWH = {"B": (6.3, 7.0), "E": (5.4, 6.0)}
LFP_SHARE = 0.55
MARKET_SHARE = (40, 25, 10, 8, 8, 9)  # manufacturer-1 … manufacturer-6

# Recoverable share of a pack's mass (demo assumptions, typical of LFP and NCM523/622 packs):
# LFP has no nickel, cobalt or manganese, so those are reported as 0 kg.
MATERIALS = {
    "B": {"Li": 0.011, "Ni": 0.0, "Co": 0.0, "Mn": 0.0, "Fe": 0.085, "Cu": 0.085, "Al": 0.11},
    "E": {"Li": 0.014, "Ni": 0.075, "Co": 0.025, "Mn": 0.022, "Cu": 0.09, "Al": 0.11},
}


@dataclass(frozen=True)
class PackModel:
    """One filed pack specification of a manufacturer code."""

    maker: Participant
    manufacturer_code: str
    spec_code: str
    battery_type: str
    capacity_ah: float
    voltage_v: float
    kg_per_kwh: float

    @property
    def energy_kwh(self) -> float:
        return round(self.capacity_ah * self.voltage_v / 1000, 1)


def pack_models(rng: random.Random, cast: DemoCast) -> tuple[list[PackModel], list[int]]:
    """Three filed pack specifications per manufacturer code, and each one's market weight."""
    models, weights = [], []
    for maker, share in zip(cast.role("manufacturer"), MARKET_SHARE, strict=True):
        for code in maker.manufacturer_codes:
            for number in range(1, 4):
                kind = "B" if rng.random() < LFP_SHARE else "E"
                cells = rng.choice(SERIES_CELLS[kind])
                models.append(
                    PackModel(
                        maker=maker,
                        manufacturer_code=code,
                        spec_code=f"{kind}{number}",
                        battery_type=kind,
                        capacity_ah=float(rng.choice(CAPACITIES_AH[kind])),
                        voltage_v=round(cells * CELL_VOLTS[kind], 1),
                        kg_per_kwh=round(rng.uniform(*KG_PER_KWH[kind]), 2),
                    )
                )
                weights.append(share)
    return models, weights


def vin_check_digit(vin: str) -> str:
    """Position 9 of a VIN (GB 16735 / ISO 3779 weighting)."""
    total = sum(VIN_VALUES[c] * w for c, w in zip(vin, VIN_WEIGHTS, strict=True))
    return "X" if total % 11 == 10 else str(total % 11)


def recovered_materials(rng: random.Random, battery: Battery) -> dict[str, float]:
    """Masses recovered by a recycler, consistent with the chemistry (no Co, Ni, Mn in LFP)."""
    efficiency = rng.uniform(0.85, 0.96)
    shares = MATERIALS.get(battery.battery_type, MATERIALS["E"])
    return {name: round(battery.mass_kg * share * efficiency, 2) for name, share in shares.items()}


def grants(cast: DemoCast) -> list[tuple[Participant, Activity, int]]:
    """Who is whitelisted for what from which day (the demo revokes nothing), as day numbers:
    choosing a receiver is then a comparison, not a walk through whitelist history."""
    return [
        (participant, Activity(period.activity), period.granted_on.toordinal())
        for participant in cast.by_key.values()
        for period in participant.whitelist_periods()
    ]


class RegionSampler:
    """Where a vehicle is registered: a province by population, then one of its prefectures."""

    def __init__(self) -> None:
        by_province: dict[str, list[Division]] = {}
        for prefecture in prefectures():
            by_province.setdefault(prefecture.code[:2], []).append(prefecture)
        self.provinces = list(by_province.values())
        self.cumulative = list(accumulate(POPULATION[code] for code in by_province))

    def __call__(self, rng: random.Random) -> Division:
        index = bisect_right(self.cumulative, rng.random() * self.cumulative[-1])
        return rng.choice(self.provinces[min(index, len(self.provinces) - 1)])


@dataclass
class Labels:
    """Battery codes, VINs and times. Serial counters are per maker code and day, so memory
    is bounded by the calendar, not by the number of batteries."""

    rng: random.Random
    wmi: dict[str, str]  # vehicle maker id -> world manufacturer identifier
    serials: dict[tuple[str, int], int] = field(default_factory=dict)
    vin_serials: dict[str, int] = field(default_factory=dict)

    def code(self, maker_code: str, level: str, kind: str, spec: str, day: int) -> str:
        key = (maker_code, day)
        if key not in self.serials:  # other lines made packs that day too: start anywhere
            self.serials[key] = self.rng.randint(0, 4000)
        serial = self.serials[key] = self.serials[key] + 1
        trace = "".join(self.rng.choices(TRACE_CHARACTERS, k=7))
        return make_battery_code(maker_code, level, kind, spec, trace, date.fromordinal(day), serial)

    def vin(self, vehicle_maker: Participant, day: int) -> str:
        serial = self.vin_serials[vehicle_maker.id] = self.vin_serials.get(vehicle_maker.id, 0) + 1
        year = VIN_YEAR[date.fromordinal(day).year]
        descriptor = "".join(self.rng.choices(VIN_CHARACTERS, k=5))
        vin = f"{self.wmi[vehicle_maker.id]}{descriptor}0{year}A{serial % 1_000_000:06d}"
        return vin[:8] + vin_check_digit(vin) + vin[9:]

    def at(self, day: int, hour: int | None = None) -> datetime:
        """A working-hours moment of a day, China Standard Time."""
        moment = date.fromordinal(day)
        return datetime(
            moment.year, moment.month, moment.day,
            hour if hour is not None else self.rng.randint(8, 17), self.rng.randint(0, 59),
            tzinfo=CHINA_STANDARD_TIME,
        )  # fmt: skip


def day_of(moment: datetime) -> int:
    """The day number (ordinal) of a moment in China Standard Time."""
    return moment.astimezone(CHINA_STANDARD_TIME).date().toordinal()
