"""Production files to try the importer with (README, tests and benchmarks use the same rows).

Rows are generated lazily so that a file of millions of rows costs no memory to write.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from batterytrace.events.battery_code import make_battery_code

COLUMNS = ("code", "rated_capacity_ah", "nominal_voltage_v", "energy_kwh", "mass_kg", "chemistry")


def production_rows(
    manufacturer_code: str, count: int, *, seed: int = 1, first_day: date = date(2024, 1, 1)
) -> Iterator[dict[str, Any]]:
    """``count`` distinct valid pack productions under ``manufacturer_code``: serials run within
    each production day (GB/T 34014 positions 18-24), days advance every 100,000 packs."""
    rng = random.Random(seed)
    for index in range(count):
        day = first_day + timedelta(days=index // 100_000)
        battery_type = rng.choice("BBBE")
        capacity = rng.choice((105, 150, 173, 206, 280))
        voltage = rng.choice((320.0, 350.4, 384.0))
        energy = round(capacity * voltage / 1000, 1)
        yield {
            "code": make_battery_code(
                manufacturer_code,
                "P",
                battery_type,
                f"{rng.randrange(100):02d}",
                "0A1B2C3",
                day,
                index % 100_000,
            ),
            "rated_capacity_ah": capacity,
            "nominal_voltage_v": voltage,
            "energy_kwh": energy,
            "mass_kg": round(energy * 6.2, 1),
            "chemistry": battery_type,
        }


def write_production_file(
    path: Path, manufacturer_code: str, count: int, *, seed: int = 1, first_day: date = date(2024, 1, 1)
) -> Path:
    """Write a CSV (``.csv``) or JSON-lines (any other suffix) production file."""
    rows = production_rows(manufacturer_code, count, seed=seed, first_day=first_day)
    with path.open("w", newline="", encoding="utf-8") as out:
        if path.suffix == ".csv":
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        else:
            for row in rows:
                out.write(json.dumps(row) + "\n")
    return path
