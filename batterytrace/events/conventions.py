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

# Reporting deadlines in working days (2018 traceability rules, domain.md "Events and reporting
# deadlines"), keyed by (who reports, what happened): the role in which the participant reported
# and the reporting situation (an event name, or ``Reinstalled`` for an installation after a
# removal: a repair or replacement). ``any`` is the row for a reporter whose roles have no row of
# their own. How a report finds its row: ``batterytrace.events.deadlines``. Every row can be
# changed with BATTERYTRACE_DEADLINES.
ANY_ROLE = "any"
REPORTING_DEADLINES = MappingProxyType(
    {
        # battery manufacturer's production data: not confirmed by the sources, configurable
        ("manufacturer", "Produced"): 15,
        ("manufacturer", "Delivered"): 15,  # like production data (not confirmed either)
        # "second-life product leaves the cascade-use enterprise": cascade-use enterprise, 15
        ("cascade_user", "Produced"): 15,
        ("cascade_user", "CascadeReused"): 15,
        # "vehicle leaves the factory with its battery": vehicle maker, 15
        ("vehicle_maker", "Installed"): 15,
        # "battery repaired or replaced": vehicle maker (repairers report to it), 30
        ("vehicle_maker", "Removed"): 30,
        ("vehicle_maker", "Reinstalled"): 30,
        # "vehicle scrapped; battery removed and handed over": dismantler, 15 (the scrapping
        # record itself, VehicleScrapped, is the first report of that situation: domain.md
        # "the dismantler uploads within 15 working days the VIN, scrapping date, pack code")
        ("dismantler", "VehicleScrapped"): 15,
        ("dismantler", "Retired"): 15,
        ("dismantler", "HandedOver"): 15,
        # Battery swapping: the sources give no deadline of its own; a swap is the operator's sale
        # and service of a battery in a vehicle, so the vehicle maker's "vehicle leaves the
        # factory with its battery" row (15) applies to both halves of a swap.
        ("swap_operator", "SwappedOut"): 15,
        ("swap_operator", "SwappedIn"): 15,
        # "battery taken into / handed out of an outlet": vehicle maker (its outlets report), 30
        ("outlet_operator", "Collected"): 30,
        ("outlet_operator", "HandedOver"): 30,
        # "batteries received; recycling finished": recycler, 30
        ("recycler", "Recycled"): 30,
        # Anyone else (no row for any of its roles): the deadline of the same event above, the
        # values every reporter had before deadlines were per role.
        (ANY_ROLE, "Produced"): 15,
        (ANY_ROLE, "Delivered"): 15,
        (ANY_ROLE, "Installed"): 15,
        (ANY_ROLE, "Reinstalled"): 30,
        (ANY_ROLE, "Removed"): 30,
        (ANY_ROLE, "SwappedOut"): 15,
        (ANY_ROLE, "SwappedIn"): 15,
        (ANY_ROLE, "VehicleScrapped"): 15,
        (ANY_ROLE, "Retired"): 15,
        (ANY_ROLE, "Collected"): 30,
        (ANY_ROLE, "HandedOver"): 30,
        (ANY_ROLE, "CascadeReused"): 15,
        (ANY_ROLE, "Recycled"): 30,
    }
)

# Recycling service outlets' storage capacity by kind (the outlet conditions, domain.md "Recycling
# service outlets"), in kg. A central storage point stores at least 30 t: below it registration is
# refused (the point is a collection-type outlet registered under the wrong kind). A collection-type
# outlet stores "in principle" (原则上) at most about 5 t: above it registration is accepted with a
# warning. Why one bound refuses and the other warns: ``batterytrace.events.collection_point``.
CENTRAL_STORAGE_MIN_KG = 30_000.0
COLLECTION_GUIDE_MAX_KG = 5_000.0

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
