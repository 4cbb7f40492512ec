"""Chinese administrative divisions (GB/T 2260): provinces, prefectures and counties.

Events name places by their 6-digit division code (where a collection point is, where a battery
was dismantled). Checking the code against a table catches typos before they become a phantom
place, and lets reports roll up by prefecture or province. The table is a CSV shipped inside the
package and read with the standard library only, so the service carries no third-party dependency
for it and the data changes only when someone regenerates and reviews it (data/README.md says
how, where it comes from and which conventions it follows).

County-level rows (districts, counties, county-level cities, banners) are shipped too, so a
county code that does not exist (440399) is refused rather than filed under its prefecture. Reading
the table still waits for the first lookup: importing this module reads no file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

__all__ = [
    "Division",
    "check_division_code",
    "counties",
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
    """One row of the table; ``name_en`` is given for provinces only (no source has the others).

    A county row's coordinates are its own where the source has them, else its prefecture's (the
    CSV's ``coordinates`` column says which; data/README.md counts them)."""

    code: str
    name: str
    name_en: str
    level: str  # "province", "prefecture" or "county"
    province_code: str  # 6 digits, e.g. "440000"
    latitude: float
    longitude: float


@lru_cache(maxsize=1)
def _table() -> dict[str, Division]:
    """Read the packaged CSV once; every lookup after that is a dictionary access.

    ``csv.reader`` with the columns looked up by name once, not ``DictReader``: a dictionary per
    row doubled the time of this first read (about 3,200 rows since counties are shipped).
    """
    path = files("batterytrace.events") / "data" / "divisions.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle)
        header = next(rows)
        code, name, name_en, level, province, latitude, longitude = (
            header.index(column)
            for column in ("code", "name", "name_en", "level", "province_code", "latitude", "longitude")
        )
        return {
            row[code]: Division(
                code=row[code],
                name=row[name],
                name_en=row[name_en],
                level=row[level],
                province_code=row[province],
                latitude=float(row[latitude]),
                longitude=float(row[longitude]),
            )
            for row in rows
        }


@lru_cache(maxsize=1)
def _by_level() -> dict[str, tuple[Division, ...]]:
    """The rows of each level sorted by code, built once, so listing prefectures does not walk
    the three thousand county rows each time."""
    levels: dict[str, list[Division]] = {"province": [], "prefecture": [], "county": []}
    for row in _table().values():
        levels[row.level].append(row)
    return {level: tuple(sorted(rows, key=lambda d: d.code)) for level, rows in levels.items()}


@lru_cache(maxsize=1)
def _counties_by_prefecture() -> dict[str, tuple[Division, ...]]:
    """Prefecture code -> its county rows, sorted by code (Chongqing's 5002xx under 500100)."""
    grouped: dict[str, list[Division]] = {}
    for county in _by_level()["county"]:
        prefecture = prefecture_of(county.code)
        assert prefecture is not None, county  # the extraction script guarantees a parent row
        grouped.setdefault(prefecture.code, []).append(county)
    return {code: tuple(rows) for code, rows in grouped.items()}


def _is_code(code: object) -> bool:
    """Six ASCII digits; ``str.isdigit`` alone would let full-width and other digits through."""
    return isinstance(code, str) and len(code) == 6 and code.isascii() and code.isdigit()


def provinces() -> list[Division]:
    """The 31 mainland provincial-level divisions, sorted by code."""
    return list(_by_level()["province"])


def prefectures(province_code: str | None = None) -> list[Division]:
    """Prefecture rows sorted by code, all of them or those of one province ("44" or "440000").

    An unknown province is refused rather than answered with an empty list, which would hide a typo.
    """
    rows = list(_by_level()["prefecture"])
    if province_code is None:
        return rows
    prefix = province_code[:2]
    if province_of(prefix + "0000") is None or province_code not in (prefix, prefix + "0000"):
        raise ValueError(
            f"unknown province {province_code!r}: give a mainland provincial code such as '44' or '440000'"
        )
    return [d for d in rows if d.province_code[:2] == prefix]


def counties(prefecture_code: str) -> list[Division]:
    """The county-level rows of one prefecture ("440300"), sorted by code; empty for a
    prefecture-level city without counties (东莞 441900) or a county-level unit that its
    province administers directly (仙桃 429004).

    An unknown prefecture is refused rather than answered with an empty list, which would hide a typo.
    """
    found = division(prefecture_code)
    if found is None or found.level != "prefecture":
        raise ValueError(
            f"unknown prefecture {prefecture_code!r}: give a 6-digit prefecture code such as '440300'"
        )
    return list(_counties_by_prefecture().get(found.code, ()))


def division(code: str) -> Division | None:
    """The province, prefecture or county row with exactly this code, or None."""
    return _table().get(code) if _is_code(code) else None


def province_of(code: str) -> Division | None:
    """The province that a 6-digit code belongs to (its first two digits), or None."""
    return _table().get(code[:2] + "0000") if _is_code(code) else None


def prefecture_of(code: str) -> Division | None:
    """The prefecture row that contains a 6-digit prefecture, county or district code, or None.

    The county itself need not be listed: events recorded before counties were checked still roll
    up to their prefecture. Tried in order: the first four digits + "00" (440305 -> 440300); the
    code itself, for county-level units that the province administers directly (429004 Xiantao);
    and for a municipality its single prefecture xx0100 (500229, a Chongqing county, -> 500100).
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

    Province and prefecture codes are accepted when listed (a prefecture-level code also when it
    maps to a listed prefecture, as Chongqing's old 500200 does); a county-level code only when the
    county itself is listed.
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
    if text[2:] == "0000":
        return text
    prefecture = prefecture_of(text)
    if prefecture is None:
        example = prefectures(province.code)[0]
        raise ValueError(
            f"unknown prefecture '{text[:4]}' in division code '{text}': digits 3-4 must name a "
            f"prefecture of {province.name_en} ({province.code}), "
            f"e.g. {example.code} {example.name}"
        )
    if text[4:] != "00" and division(text) is None:
        raise ValueError(_unknown_county(text, prefecture))
    return text


def _unknown_county(code: str, prefecture: Division) -> str:
    """Why a county-level code is refused, with codes that would be accepted instead."""
    known = counties(prefecture.code)
    instead = f"its prefecture's own code {prefecture.code} if the county is not known"
    if not known:
        return (
            f"unknown county-level division '{code}': {prefecture.name} ({prefecture.code}) has no "
            f"counties or districts; use {prefecture.code}"
        )
    return (
        f"unknown county-level division '{code}': no county or district of {prefecture.name} "
        f"({prefecture.code}) has this code; use one of its {len(known)} county-level codes, e.g. "
        f"{known[0].code} {known[0].name}, or {instead}"
    )
