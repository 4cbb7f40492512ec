"""Chinese administrative divisions (GB/T 2260) at province and prefecture level.

Events name places by their 6-digit division code (where a collection point is, where a battery
was dismantled). Checking the code against a table catches typos before they become a phantom
place, and lets reports roll up by prefecture or province. The table is a CSV shipped inside the
package and read with the standard library only, so the service carries no third-party dependency
for it and the data changes only when someone regenerates and reviews it (data/README.md says
how, where it comes from and which conventions it follows).

Only province and prefecture rows are shipped: a county-level code is accepted when its province
and its prefecture are known, without checking the county itself.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

__all__ = [
    "Division",
    "check_division_code",
    "division",
    "prefecture_of",
    "prefectures",
    "province_of",
    "provinces",
]

# Beijing, Tianjin, Shanghai, Chongqing: each is one prefecture, xx0100, whatever its districts.
MUNICIPALITIES = frozenset({"11", "12", "31", "50"})


@dataclass(frozen=True)
class Division:
    """One province or prefecture row of the table; ``name_en`` is empty for prefectures."""

    code: str
    name: str
    name_en: str
    level: str  # "province" or "prefecture"
    province_code: str  # 6 digits, e.g. "440000"
    latitude: float
    longitude: float


@lru_cache(maxsize=1)
def _table() -> dict[str, Division]:
    """Read the packaged CSV once; every lookup after that is a dictionary access."""
    path = files("batterytrace.events") / "data" / "divisions.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return {
            row["code"]: Division(
                code=row["code"],
                name=row["name"],
                name_en=row["name_en"],
                level=row["level"],
                province_code=row["province_code"],
                latitude=float(row["latitude"]),
                longitude=float(row["longitude"]),
            )
            for row in csv.DictReader(handle)
        }


def _is_code(code: object) -> bool:
    """Six ASCII digits; ``str.isdigit`` alone would let full-width and other digits through."""
    return isinstance(code, str) and len(code) == 6 and code.isascii() and code.isdigit()


def provinces() -> list[Division]:
    """The 31 mainland provincial-level divisions, sorted by code."""
    return sorted((d for d in _table().values() if d.level == "province"), key=lambda d: d.code)


def prefectures(province_code: str | None = None) -> list[Division]:
    """Prefecture rows sorted by code, all of them or those of one province ("44" or "440000").

    An unknown province is refused rather than answered with an empty list, which would hide a typo.
    """
    rows = sorted((d for d in _table().values() if d.level == "prefecture"), key=lambda d: d.code)
    if province_code is None:
        return rows
    prefix = province_code[:2]
    if province_of(prefix + "0000") is None or province_code not in (prefix, prefix + "0000"):
        raise ValueError(
            f"unknown province {province_code!r}: give a mainland provincial code such as '44' or '440000'"
        )
    return [d for d in rows if d.province_code[:2] == prefix]


def division(code: str) -> Division | None:
    """The province or prefecture row with exactly this code, or None."""
    return _table().get(code) if _is_code(code) else None


def province_of(code: str) -> Division | None:
    """The province that a 6-digit code belongs to (its first two digits), or None."""
    return _table().get(code[:2] + "0000") if _is_code(code) else None


def prefecture_of(code: str) -> Division | None:
    """The prefecture row that contains a 6-digit prefecture, county or district code, or None.

    Tried in order: the first four digits + "00" (440305 -> 440300); the code itself, for
    county-level units that the province administers directly (429004 Xiantao); and for a
    municipality its single prefecture xx0100 (500229, a Chongqing county, -> 500100).
    """
    if not _is_code(code) or code[2:] == "0000":
        return None
    table = _table()
    for candidate in (code[:4] + "00", code):
        found = table.get(candidate)
        if found is not None and found.level == "prefecture":
            return found
    return table.get(code[:2] + "0100") if code[:2] in MUNICIPALITIES else None


def check_division_code(code: str) -> str:
    """Return the code without surrounding blanks, or raise ValueError saying what is wrong.

    Province, prefecture and county-level codes are accepted; a county-level code only needs a
    known province and prefecture, because the county-level table is not shipped.
    """
    text = code.strip() if isinstance(code, str) else code
    if not _is_code(text):
        got = repr(code) if isinstance(code, str) else f"{code!r} ({type(code).__name__}, not str)"
        raise ValueError(f"administrative division code must be 6 digits (GB/T 2260), e.g. 110105; got {got}")
    province = province_of(text)
    if province is None:
        raise ValueError(
            f"unknown province '{text[:2]}' in division code '{text}': the first two digits must "
            "be one of the 31 mainland provincial codes (11 Beijing … 65 Xinjiang)"
        )
    if text[2:] != "0000" and prefecture_of(text) is None:
        example = prefectures(province.code)[0]
        raise ValueError(
            f"unknown prefecture '{text[:4]}' in division code '{text}': digits 3-4 must name a "
            f"prefecture of {province.name_en} ({province.code}), "
            f"e.g. {example.code} {example.name}"
        )
    return text
