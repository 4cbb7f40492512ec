"""Every convention batterytrace follows where the sources are unclear, in one place (domain.md).

Change a convention here and everything that depends on it follows: code parsing, deadlines,
compliance thresholds.
"""

from __future__ import annotations

from datetime import date
from types import MappingProxyType

# GB/T 34014 position 4.
PRODUCT_TYPES = MappingProxyType({"P": "pack", "M": "module", "C": "cell"})

# GB/T 34014 position 5. B and E are confirmed by the sources; the rest follow the commonly cited table.
BATTERY_TYPES = MappingProxyType(
    {
        "A": "nickel-metal hydride",
        "B": "lithium iron phosphate",
        "C": "lithium manganese oxide",
        "D": "lithium cobalt oxide",
        "E": "ternary (NCM/NCA)",
        "F": "supercapacitor",
        "G": "lithium titanate",
        "Z": "other",
    }
)

# Common abbreviations accepted for a declared chemistry, mapped to the battery-type letter.
CHEMISTRY_ALIASES = MappingProxyType(
    {
        "NIMH": "A",
        "LFP": "B",
        "LMO": "C",
        "LCO": "D",
        "NCM": "E",
        "NMC": "E",
        "NCA": "E",
        "TERNARY": "E",
        "LTO": "G",
    }
)

# Year character: the VIN model-year table (A=2010 … Y=2030 skipping I, O, Q, U, Z), then 1..9 = 2031..2039.
_YEAR_LETTERS = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXY" if c not in "IOQUZ"]
YEAR_CHARACTERS = MappingProxyType(
    {
        **{letter: 2010 + i for i, letter in enumerate(_YEAR_LETTERS)},
        **{str(d): 2030 + d for d in range(1, 10)},
    }
)

# Month character: 1..9 then A, B, C for October to December (sources agree).
MONTH_CHARACTERS = MappingProxyType({**{str(m): m for m in range(1, 10)}, "A": 10, "B": 11, "C": 12})

# Day character: 1..9, then the 22 letters A..Y without I, O, Q for days 10..31.
_DAY_LETTERS = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXY" if c not in "IOQ"]
DAY_CHARACTERS = MappingProxyType(
    {**{str(d): d for d in range(1, 10)}, **{letter: 10 + i for i, letter in enumerate(_DAY_LETTERS)}}
)

# Reporting deadlines in working days (2018 traceability rules), keyed by the event that starts the clock.
# The battery manufacturer's own deadline is not confirmed; it is configurable like the others.
REPORTING_DEADLINE_WORKING_DAYS = MappingProxyType(
    {
        "Produced": 15,
        "Delivered": 15,  # like production data: configurable, no deadline confirmed (domain.md)
        "Installed": 15,
        "Removed": 30,
        "Retired": 15,
        "Collected": 30,
        "HandedOver": 30,
        "CascadeReused": 15,
        "Recycled": 30,
    }
)

# A retired battery that nobody in the formal channel has taken in within this many days is overdue.
OVERDUE_AFTER_DAYS = 90

# Materials a recycler must report at least (kg recovered).
REQUIRED_RECOVERED_MATERIALS = ("Li", "Ni", "Co", "Mn")

# Nothing traced happened before this day: the code's year characters begin at A = 2010. An event
# dated earlier is a typing mistake (year 0001 or 1970 from an empty field), refused at once rather
# than stored and carried into deadlines and reports.
EARLIEST_EVENT_DATE = date(2010, 1, 1)

# Upper limits of declared measurements. They are far beyond any real product (the largest traction
# packs hold about 1 MWh, containerised second-life storage a few MWh, a collection point stores
# some hundred tonnes) and exist to catch unit mistakes and numbers that would overflow the sums in
# the regulator's reports.
MEASUREMENT_LIMITS = MappingProxyType(
    {
        "rated_capacity_ah": 100_000.0,
        "nominal_voltage_v": 10_000.0,
        "energy_kwh": 100_000.0,
        "mass_kg": 1_000_000.0,
        "capacity_kg": 100_000_000.0,
    }
)
