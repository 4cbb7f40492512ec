"""Energy and mass in the views: stored as whole watt-hours and grams, shown as kWh and kg.

Events carry kWh and kg as the user typed them (floats). Summing floats gives answers that depend
on the order of the sum (a monthly 87.14 kWh became 87.14000000000001 after a rebuild whose
batches fell differently), and shows digits nobody entered (254.50000000000003). The views
therefore turn each quantity into an integer number of thousandths (Wh, g), rounded half up,
before adding it: integer sums are exact in Python, SQLite and PostgreSQL alike, whatever the
order. Reports turn the sum back into kWh and kg with at most three decimals, the precision the
views keep (a declared 60.0004 kWh counts as 60 kWh).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

THOUSANDTHS = 1000

# A stored column (thousandths) and the name and unit reports show it with.
DISPLAY_NAMES = {
    "produced_wh": "produced_kwh",
    "recovered_li_g": "recovered_li_kg",
    "recovered_ni_g": "recovered_ni_kg",
    "recovered_co_g": "recovered_co_kg",
    "recovered_mn_g": "recovered_mn_kg",
    "recovered_total_g": "recovered_total_kg",
    "collected_g": "collected_kg",
    "collected_wh": "collected_kwh",
    "on_hand_g": "on_hand_kg",
    "handed_over_g": "handed_over_kg",
    "mass_g": "mass_kg",
    "energy_wh": "energy_kwh",
}


def thousandths(value: float | int | str | None) -> int:
    """kWh as Wh, kg as g: the value times 1000, rounded half up to a whole number. The decimal
    text of the float (``repr``) is what is rounded, so 0.0005 kg is 1 g, as typed. A float's
    answer is kept (``_FLOATS``): the views convert every battery's energy and mass, and the
    same few declared values come again and again, while a ``Decimal`` costs microseconds."""
    if type(value) is float:
        known = _FLOATS.get(value)
        if known is None:
            known = _rounded(repr(value))
            if len(_FLOATS) >= _FLOATS_KEPT:
                _FLOATS.clear()
            _FLOATS[value] = known
        return known
    if value is None:
        return 0
    return _rounded(repr(value) if isinstance(value, float) else str(value))


def _rounded(decimal_text: str) -> int:
    return int((Decimal(decimal_text) * THOUSANDTHS).to_integral_value(ROUND_HALF_UP))


# Floats by their thousandths (equal floats have the same ``repr`` but for 0.0 and -0.0, which
# both give 0; a NaN or an infinity raises before it is kept). Bounded: cleared when full.
_FLOATS: dict[float, int] = {}
_FLOATS_KEPT = 65_536


def in_units(stored: int | None) -> float | None:
    """Wh as kWh, g as kg: a float that prints with at most three decimals (87.14, not
    87.14000000000001), since the nearest float to n/1000 prints as that decimal."""
    return None if stored is None else int(stored) / THOUSANDTHS


def display_row(row: dict[str, Any]) -> dict[str, Any]:
    """A view row with its stored thousandths shown as kWh and kg, in the same column order."""
    return {
        DISPLAY_NAMES.get(key, key): in_units(value) if key in DISPLAY_NAMES else value
        for key, value in row.items()
    }
