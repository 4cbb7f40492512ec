"""The GB/T 34014-2017 battery code: parse, validate, explain.

Every pack, module and cell carries a 24-character code; it is the key of the battery's event stream,
so a code is checked once here and every other part of batterytrace trusts a ``BatteryCode``.
The year and day characters follow the conventions in ``conventions.py`` (domain.md: the standard's
tables for them are not confirmed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from batterytrace.events.conventions import (
    BATTERY_TYPES,
    DAY_CHARACTERS,
    MONTH_CHARACTERS,
    PRODUCT_TYPES,
    YEAR_CHARACTERS,
)
from batterytrace.events.errors import InvalidBatteryCode, InvalidInput

CODE_LENGTH = 24
EXAMPLE_CODE = "3CAPB120A1B2C3R7F0000123"
_ALLOWED = re.compile(r"[0-9A-Z]")
_WELL_FORMED = re.compile(r"[0-9A-Z]{24}")

# (first position, last position, segment name) — positions are 1-based as in the standard.
SEGMENTS: tuple[tuple[int, int, str], ...] = (
    (1, 3, "manufacturer code"),
    (4, 4, "product type"),
    (5, 5, "battery type"),
    (6, 7, "specification code"),
    (8, 14, "traceability information"),
    (15, 17, "production date"),
    (18, 24, "serial number"),
)


def _segment_of(position: int) -> str:
    return next(name for first, last, name in SEGMENTS if first <= position <= last)


@dataclass(frozen=True, slots=True)
class BatteryCode:
    """A valid GB/T 34014 code with its segments decoded."""

    code: str
    manufacturer_code: str
    product_type: str
    battery_type: str
    spec_code: str
    trace_code: str
    production_date: date
    serial: str

    @property
    def level(self) -> str:
        """pack, module or cell."""
        return PRODUCT_TYPES[self.product_type]

    @property
    def chemistry(self) -> str:
        return BATTERY_TYPES[self.battery_type]

    def as_dict(self) -> dict[str, str]:
        """The plain form used by the CLI's JSON output and the API."""
        return {
            "code": self.code,
            "manufacturer_code": self.manufacturer_code,
            "product_type": self.product_type,
            "level": self.level,
            "battery_type": self.battery_type,
            "chemistry": self.chemistry,
            "spec_code": self.spec_code,
            "trace_code": self.trace_code,
            "production_date": self.production_date.isoformat(),
            "serial": self.serial,
        }

    def __str__(self) -> str:
        return self.code


def parse_battery_code(text: str, *, today: date | None = None) -> BatteryCode:
    """Parse ``text`` as a GB/T 34014 code, or raise ``InvalidBatteryCode`` naming the bad segment.

    Surrounding white space is ignored and lower case is accepted (scanners and spreadsheets produce
    both); the stored code is always upper case. ``today`` bounds the production date; it defaults to
    the real date and is a parameter so that tests and imports of historical data can pin it.

    Results are memoised (a code is parsed by the importer, then by the aggregate, then by the
    view; the parsed code is immutable, and a refusal is never cached).
    """
    return _parse(text, today or date.today())


@lru_cache(maxsize=16_384)
def _parse(text: str, today: date) -> BatteryCode:
    # Only ASCII is upper-cased: "ß".upper() is "SS" and "ı".upper() is "I", which would turn a
    # mistyped code into another valid one instead of refusing it.
    stripped = text.strip()
    if stripped.isascii():
        code = stripped.upper()
    else:
        code = "".join(char.upper() if char.isascii() else char for char in stripped)
    if len(code) != CODE_LENGTH:
        raise InvalidBatteryCode(
            code,
            "length",
            f"a battery code has {CODE_LENGTH} characters, this one has {len(code)}; example: {EXAMPLE_CODE}",
        )
    bad_positions = () if _WELL_FORMED.fullmatch(code) else enumerate(code)
    for index, char in bad_positions:
        if not _ALLOWED.fullmatch(char):
            position = index + 1
            raise InvalidBatteryCode(
                code,
                _segment_of(position),
                f"character {char!r} at position {position} ({_segment_of(position)}) is not "
                "allowed; use digits 0-9 and capital letters A-Z only",
            )
    product_type, battery_type = code[3], code[4]
    if product_type not in PRODUCT_TYPES:
        raise InvalidBatteryCode(
            code,
            "product type",
            f"product type {product_type!r} at position 4 is unknown; use "
            + ", ".join(f"{k} ({v})" for k, v in PRODUCT_TYPES.items()),
        )
    if battery_type not in BATTERY_TYPES:
        raise InvalidBatteryCode(
            code,
            "battery type",
            f"battery type {battery_type!r} at position 5 is unknown; use "
            + ", ".join(f"{k} ({v})" for k, v in BATTERY_TYPES.items()),
        )
    production_date = _decode_date(code, today)
    serial = code[17:24]
    if not serial.isdigit():
        raise InvalidBatteryCode(
            code,
            "serial number",
            f"serial number {serial!r} (positions 18-24) must be 7 digits, e.g. 0000123",
        )
    return BatteryCode(
        code=code,
        manufacturer_code=code[0:3],
        product_type=product_type,
        battery_type=battery_type,
        spec_code=code[5:7],
        trace_code=code[7:14],
        production_date=production_date,
        serial=serial,
    )


def _decode_date(code: str, today: date) -> date:
    year_char, month_char, day_char = code[14], code[15], code[16]
    if year_char not in YEAR_CHARACTERS:
        raise InvalidBatteryCode(
            code,
            "production date",
            f"year character {year_char!r} at position 15 is not a year; use A=2010 … Y=2030 "
            "(no I, O, Q, U, Z) or 1=2031 … 9=2039",
        )
    if month_char not in MONTH_CHARACTERS:
        raise InvalidBatteryCode(
            code,
            "production date",
            f"month character {month_char!r} at position 16 is not a month; use 1-9, then A, B, C "
            "for October to December",
        )
    if day_char not in DAY_CHARACTERS:
        raise InvalidBatteryCode(
            code,
            "production date",
            f"day character {day_char!r} at position 17 is not a day; use 1-9, then A-Y without "
            "I, O, Q for days 10-31",
        )
    year = YEAR_CHARACTERS[year_char]
    month = MONTH_CHARACTERS[month_char]
    day = DAY_CHARACTERS[day_char]
    try:
        produced_on = date(year, month, day)
    except ValueError:
        raise InvalidBatteryCode(
            code,
            "production date",
            f"production date {year}-{month:02d}-{day:02d} (positions 15-17 "
            f"'{year_char}{month_char}{day_char}') is not a real calendar date",
        ) from None
    if produced_on > today:
        raise InvalidBatteryCode(
            code,
            "production date",
            f"production date {produced_on.isoformat()} (positions 15-17) is in the future "
            f"(today is {today.isoformat()})",
        )
    return produced_on


def encode_production_date(produced_on: date) -> str:
    """The three date characters for ``produced_on`` (used by the demo generator and tests)."""
    if not 2010 <= produced_on.year <= 2039:
        raise InvalidInput(
            f"GB/T 34014 year characters cover 2010-2039; {produced_on.year} cannot be encoded"
        )
    year = {v: k for k, v in YEAR_CHARACTERS.items()}[produced_on.year]
    month = {v: k for k, v in MONTH_CHARACTERS.items()}[produced_on.month]
    day = {v: k for k, v in DAY_CHARACTERS.items()}[produced_on.day]
    return year + month + day


def make_battery_code(
    manufacturer_code: str,
    product_type: str,
    battery_type: str,
    spec_code: str,
    trace_code: str,
    produced_on: date,
    serial: int,
) -> str:
    """Compose a code from its parts and check it, so generated data is always valid."""
    code = (
        f"{manufacturer_code}{product_type}{battery_type}{spec_code}{trace_code}"
        f"{encode_production_date(produced_on)}{serial:07d}"
    )
    return parse_battery_code(code, today=date.max).code
