"""The demo's catalogue and labels: pack models, codes, VINs, times, regions, recovered metals.

Kept apart from the life writer so that the numbers a reviewer may want to question (capacities,
kg per kWh, recoverable metal shares) sit together, each with the reason for its value.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from itertools import accumulate
from operator import mul

from batterytrace.demo.cast import POPULATION, DemoCast
from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import Battery
from batterytrace.events.battery_code import encode_production_date
from batterytrace.events.conventions import YEAR_CHARACTERS
from batterytrace.events.participant import Activity, Participant
from batterytrace.events.regions import Division, prefectures

FIRST_PRODUCTION = date(2017, 1, 1)
FIRST_PRODUCTION_DAY = FIRST_PRODUCTION.toordinal()
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
_TRACE_COUNT = float(len(TRACE_CHARACTERS))  # what ``Random.choices`` multiplies by
_VIN_COUNT = float(len(VIN_CHARACTERS))
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

    @cached_property  # read for every pack made of the model
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
    if len(vin) != len(VIN_WEIGHTS):
        raise ValueError(f"a VIN has {len(VIN_WEIGHTS)} characters, {vin!r} has {len(vin)}")
    total = sum(map(mul, map(VIN_VALUES.__getitem__, vin), VIN_WEIGHTS))  # no generator: run per VIN
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
    is bounded by the calendar, not by the number of batteries (so are the per-day caches).

    Run for every battery, so they spend no more than the labels need: each draws the same random
    numbers in the same order as the plain ``Random`` calls noted beside it (the same seed must
    give the same codes), and what depends on the day only is worked out once per day."""

    rng: random.Random
    wmi: dict[str, str]  # vehicle maker id -> world manufacturer identifier
    serials: dict[tuple[str, int], int] = field(default_factory=dict)
    vin_serials: dict[str, int] = field(default_factory=dict)
    code_dates: dict[int, str] = field(default_factory=dict)  # day -> production date characters
    vin_years: dict[int, str] = field(default_factory=dict)  # day -> model-year character
    calendar: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # day -> (y, m, d)

    def code(self, maker_code: str, level: str, kind: str, spec: str, day: int) -> str:
        """A GB/T 34014 code; checked where every code is, when ``Battery.produce`` parses it."""
        key = (maker_code, day)
        serial = self.serials.get(key)
        if serial is None:  # other lines made packs that day too: start anywhere
            serial = self.rng.randint(0, 4000)
        serial = self.serials[key] = serial + 1
        random = self.rng.random  # rng.choices(TRACE_CHARACTERS, k=7): one random() a character
        trace = "".join([TRACE_CHARACTERS[int(random() * _TRACE_COUNT)] for _ in range(7)])
        produced = self.code_dates.get(day)
        if produced is None:
            produced = self.code_dates[day] = encode_production_date(date.fromordinal(day))
        return f"{maker_code}{level}{kind}{spec}{trace}{produced}{serial:07d}"

    def vin(self, vehicle_maker: Participant, day: int) -> str:
        serial = self.vin_serials[vehicle_maker.id] = self.vin_serials.get(vehicle_maker.id, 0) + 1
        year = self.vin_years.get(day)
        if year is None:
            year = self.vin_years[day] = VIN_YEAR[date.fromordinal(day).year]
        random = self.rng.random  # rng.choices(VIN_CHARACTERS, k=5)
        descriptor = "".join([VIN_CHARACTERS[int(random() * _VIN_COUNT)] for _ in range(5)])
        vin = f"{self.wmi[vehicle_maker.id]}{descriptor}0{year}A{serial % 1_000_000:06d}"
        return vin[:8] + vin_check_digit(vin) + vin[9:]

    def at(self, day: int, hour: int | None = None) -> datetime:
        """A working-hours moment of a day, China Standard Time."""
        ymd = self.calendar.get(day)
        if ymd is None:
            moment = date.fromordinal(day)
            ymd = self.calendar[day] = (moment.year, moment.month, moment.day)
        randint = self.rng.randint
        return datetime(
            *ymd, hour if hour is not None else randint(8, 17), randint(0, 59), tzinfo=CHINA_STANDARD_TIME
        )


def day_of(moment: datetime) -> int:
    """The day number (ordinal) of a moment in China Standard Time."""
    return moment.astimezone(CHINA_STANDARD_TIME).date().toordinal()
