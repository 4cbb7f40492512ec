"""The GB/T 34014-2017 battery code: what a valid code says, and why an invalid one is refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batterytrace.events.battery_code import (
    EXAMPLE_CODE,
    SEGMENTS,
    encode_production_date,
    make_battery_code,
    parse_battery_code,
)
from batterytrace.events.conventions import BATTERY_TYPES, PRODUCT_TYPES
from batterytrace.events.errors import InvalidBatteryCode, InvalidInput

TODAY = date(2026, 6, 1)
CODE_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def with_char(code: str, position: int, char: str) -> str:
    """``code`` with the character at 1-based ``position`` replaced."""
    return code[: position - 1] + char + code[position:]


def refusal(text: str, *, today: date = TODAY) -> InvalidBatteryCode:
    with pytest.raises(InvalidBatteryCode) as caught:
        parse_battery_code(text, today=today)
    return caught.value


# ------------------------------------------------------------------------------- valid codes
def test_the_example_code_is_a_lithium_iron_phosphate_pack_made_on_15_july_2024() -> None:
    parsed = parse_battery_code(EXAMPLE_CODE, today=TODAY)

    assert EXAMPLE_CODE == "3CAPB120A1B2C3R7F0000123"
    assert parsed.code == EXAMPLE_CODE
    assert parsed.manufacturer_code == "3CA"
    assert (parsed.product_type, parsed.level) == ("P", "pack")
    assert (parsed.battery_type, parsed.chemistry) == ("B", "lithium iron phosphate")
    assert parsed.spec_code == "12"
    assert parsed.trace_code == "0A1B2C3"
    assert parsed.production_date == date(2024, 7, 15)
    assert parsed.serial == "0000123"
    assert str(parsed) == EXAMPLE_CODE
    assert parsed.as_dict() == {
        "code": EXAMPLE_CODE,
        "manufacturer_code": "3CA",
        "product_type": "P",
        "level": "pack",
        "battery_type": "B",
        "chemistry": "lithium iron phosphate",
        "spec_code": "12",
        "trace_code": "0A1B2C3",
        "production_date": "2024-07-15",
        "serial": "0000123",
    }


@pytest.mark.parametrize(
    "scanned",
    [
        "3capb120a1b2c3r7f0000123",
        "  3CAPB120A1B2C3R7F0000123  ",
        "\t3CaPb120a1B2c3R7f0000123\r\n",
        "\u30003CAPB120A1B2C3R7F0000123\u3000",  # ideographic spaces from a Chinese spreadsheet
    ],
)
def test_lower_case_and_surrounding_white_space_from_scanners_are_normalised(scanned: str) -> None:
    assert parse_battery_code(scanned, today=TODAY).code == EXAMPLE_CODE


@pytest.mark.parametrize(("letter", "level"), sorted(PRODUCT_TYPES.items()))
def test_every_product_type_is_a_level(letter: str, level: str) -> None:
    parsed = parse_battery_code(with_char(EXAMPLE_CODE, 4, letter), today=TODAY)
    assert parsed.level == level


@pytest.mark.parametrize(("letter", "chemistry"), sorted(BATTERY_TYPES.items()))
def test_every_battery_type_is_a_chemistry(letter: str, chemistry: str) -> None:
    parsed = parse_battery_code(with_char(EXAMPLE_CODE, 5, letter), today=TODAY)
    assert parsed.chemistry == chemistry


def test_a_battery_made_today_is_not_in_the_future() -> None:
    assert parse_battery_code(EXAMPLE_CODE, today=date(2024, 7, 15)).production_date == date(2024, 7, 15)


def test_february_29_exists_in_a_leap_year() -> None:
    leap_day = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2024, 2, 29), 1)
    assert leap_day[14:17] == "R2W"
    assert parse_battery_code(leap_day, today=TODAY).production_date == date(2024, 2, 29)


# ---------------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (EXAMPLE_CODE[:-1], ["has 24 characters", "this one has 23", EXAMPLE_CODE]),
        (EXAMPLE_CODE + "4", ["has 24 characters", "this one has 25", EXAMPLE_CODE]),
        ("", ["this one has 0"]),
        ("   ", ["this one has 0"]),
        ("3CAPB120A1B2C3 R7F0000123", ["this one has 25"]),  # inner space is not trimmed
    ],
)
def test_a_code_of_the_wrong_length_is_refused(text: str, fragments: list[str]) -> None:
    error = refusal(text)
    assert error.segment == "length"
    for fragment in fragments:
        assert fragment in str(error)


@pytest.mark.parametrize("position", range(1, 25))
def test_a_dash_anywhere_is_refused_naming_the_segment_it_falls_in(position: int) -> None:
    segment = next(name for first, last, name in SEGMENTS if first <= position <= last)
    error = refusal(with_char(EXAMPLE_CODE, position, "-"))
    assert error.segment == segment
    assert f"character '-' at position {position} ({segment})" in str(error)
    assert "use digits 0-9 and capital letters A-Z only" in str(error)


@pytest.mark.parametrize("char", ["-", "_", ".", "/", "ß", "ı", "Ａ", "１", "Ⅻ", "é"])
def test_characters_outside_ascii_digits_and_letters_are_refused_not_folded(char: str) -> None:
    # "ß".upper() is "SS" and "ı".upper() is "I": a code must never turn into another code.
    error = refusal(with_char(EXAMPLE_CODE, 10, char))
    assert error.segment == "traceability information"
    assert "position 10" in str(error)
    assert repr(char) in str(error)


def test_an_unknown_product_type_is_refused_with_the_known_ones() -> None:
    error = refusal(with_char(EXAMPLE_CODE, 4, "X"))
    assert error.segment == "product type"
    assert "product type 'X' at position 4 is unknown" in str(error)
    assert "P (pack), M (module), C (cell)" in str(error)


def test_an_unknown_battery_type_is_refused_with_the_known_ones() -> None:
    error = refusal(with_char(EXAMPLE_CODE, 5, "H"))
    assert error.segment == "battery type"
    assert "battery type 'H' at position 5 is unknown" in str(error)
    assert "B (lithium iron phosphate)" in str(error)
    assert "E (ternary (NCM/NCA))" in str(error)


@pytest.mark.parametrize("char", ["I", "O", "Q", "U", "Z", "0"])
def test_a_character_that_is_no_year_is_refused(char: str) -> None:
    error = refusal(with_char(EXAMPLE_CODE, 15, char))
    assert error.segment == "production date"
    assert f"year character {char!r} at position 15" in str(error)
    assert "A=2010 … Y=2030" in str(error) and "1=2031 … 9=2039" in str(error)


@pytest.mark.parametrize("char", ["0", "D", "Z"])
def test_a_character_that_is_no_month_is_refused(char: str) -> None:
    error = refusal(with_char(EXAMPLE_CODE, 16, char))
    assert error.segment == "production date"
    assert f"month character {char!r} at position 16" in str(error)
    assert "use 1-9, then A, B, C for October to December" in str(error)


@pytest.mark.parametrize("char", ["0", "I", "O", "Q", "Z"])
def test_a_character_that_is_no_day_is_refused(char: str) -> None:
    error = refusal(with_char(EXAMPLE_CODE, 17, char))
    assert error.segment == "production date"
    assert f"day character {char!r} at position 17" in str(error)
    assert "use 1-9, then A-Y without I, O, Q for days 10-31" in str(error)


@pytest.mark.parametrize(
    ("date_chars", "shown"),
    [
        ("R2X", "2024-02-30"),  # 30 February
        ("P2W", "2023-02-29"),  # 29 February outside a leap year
        ("R4Y", "2024-04-31"),  # 31 April
        ("RBY", "2024-11-31"),  # 31 November
    ],
)
def test_an_impossible_calendar_date_is_refused(date_chars: str, shown: str) -> None:
    error = refusal(EXAMPLE_CODE[:14] + date_chars + EXAMPLE_CODE[17:])
    assert error.segment == "production date"
    assert f"production date {shown} (positions 15-17 '{date_chars}')" in str(error)
    assert "not a real calendar date" in str(error)


def test_a_production_date_after_today_is_refused() -> None:
    error = refusal(EXAMPLE_CODE, today=date(2024, 7, 14))
    assert error.segment == "production date"
    assert "production date 2024-07-15 (positions 15-17) is in the future" in str(error)
    assert "today is 2024-07-14" in str(error)


def test_today_defaults_to_the_real_date() -> None:
    tomorrow = date.today() + timedelta(days=1)
    if tomorrow.year > 2039:  # pragma: no cover - the year table ends in 2039
        pytest.skip("the year table ends in 2039")
    code = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", tomorrow, 1)
    with pytest.raises(InvalidBatteryCode, match="in the future"):
        parse_battery_code(code)


@pytest.mark.parametrize("serial", ["000012A", "ABCDEFG", "00000Z0"])
def test_a_serial_number_that_is_not_seven_digits_is_refused(serial: str) -> None:
    error = refusal(EXAMPLE_CODE[:17] + serial)
    assert error.segment == "serial number"
    assert f"serial number {serial!r} (positions 18-24) must be 7 digits" in str(error)


def test_a_refusal_is_invalid_input_and_keeps_the_normalised_code() -> None:
    error = refusal(" 3capb120a1b2c3r7f000012a ")
    assert isinstance(error, InvalidInput)
    assert error.kind == "invalid-battery-code"
    assert error.code == "3CAPB120A1B2C3R7F000012A"
    assert error.message == str(error)
    assert str(error).startswith("invalid battery code '3CAPB120A1B2C3R7F000012A': ")


# ------------------------------------------------------------------------- the date tables
@pytest.mark.parametrize(
    ("year", "char"),
    [
        (2010, "A"), (2017, "H"), (2018, "J"), (2019, "K"), (2020, "L"), (2021, "M"),
        (2022, "N"), (2023, "P"), (2024, "R"), (2025, "S"), (2026, "T"), (2027, "V"),
        (2028, "W"), (2029, "X"), (2030, "Y"), (2031, "1"), (2035, "5"), (2039, "9"),
    ],
)  # fmt: skip
def test_the_year_character_follows_the_vin_model_year_table(year: int, char: str) -> None:
    assert encode_production_date(date(year, 1, 1))[0] == char


def test_month_and_day_characters() -> None:
    months = [encode_production_date(date(2024, m, 1))[1] for m in range(1, 13)]
    days = [encode_production_date(date(2024, 1, d))[2] for d in range(1, 32)]
    assert "".join(months) == "123456789ABC"
    assert "".join(days) == "123456789ABCDEFGHJKLMNPRSTUVWXY"


def test_every_day_from_2010_to_2039_round_trips_through_a_code() -> None:
    day, last = date(2010, 1, 1), date(2039, 12, 31)
    seen: set[str] = set()
    while day <= last:
        characters = encode_production_date(day)
        code = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", day, 123)
        assert code[14:17] == characters
        assert parse_battery_code(code, today=last).production_date == day
        seen.add(characters)
        day += timedelta(days=1)
    assert len(seen) == (last - date(2010, 1, 1)).days + 1  # no two days share characters


def test_make_battery_code_refuses_parts_that_make_no_valid_code() -> None:
    with pytest.raises(InvalidBatteryCode) as caught:
        make_battery_code("3CA", "X", "B", "12", "0A1B2C3", date(2024, 7, 15), 123)
    assert caught.value.segment == "product type"
    with pytest.raises(InvalidBatteryCode) as caught:
        make_battery_code("3CA", "P", "B", "12", "0A1B2C", date(2024, 7, 15), 123)
    assert caught.value.segment == "length"
    with pytest.raises(InvalidBatteryCode) as caught:
        make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2024, 7, 15), 10_000_000)
    assert caught.value.segment == "length"


def test_make_battery_code_accepts_future_dates_for_generated_data() -> None:
    code = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2039, 12, 31), 0)
    assert code == "3CAPB120A1B2C39CY0000000"


# ------------------------------------------------------------------------------- properties
@settings(max_examples=150, deadline=None)
@given(
    manufacturer=st.text(alphabet=CODE_CHARS, min_size=3, max_size=3),
    product_type=st.sampled_from(sorted(PRODUCT_TYPES)),
    battery_type=st.sampled_from(sorted(BATTERY_TYPES)),
    spec=st.text(alphabet=CODE_CHARS, min_size=2, max_size=2),
    trace=st.text(alphabet=CODE_CHARS, min_size=7, max_size=7),
    produced_on=st.dates(min_value=date(2010, 1, 1), max_value=date(2039, 12, 31)),
    serial=st.integers(min_value=0, max_value=9_999_999),
)
def test_a_made_code_parses_back_into_its_parts(
    manufacturer: str,
    product_type: str,
    battery_type: str,
    spec: str,
    trace: str,
    produced_on: date,
    serial: int,
) -> None:
    code = make_battery_code(manufacturer, product_type, battery_type, spec, trace, produced_on, serial)
    parsed = parse_battery_code(f" {code.lower()} ", today=date(2039, 12, 31))

    assert len(code) == 24
    assert parsed.code == code
    assert parsed.manufacturer_code == manufacturer
    assert parsed.product_type == product_type
    assert parsed.battery_type == battery_type
    assert parsed.spec_code == spec
    assert parsed.trace_code == trace
    assert parsed.production_date == produced_on
    assert int(parsed.serial) == serial
