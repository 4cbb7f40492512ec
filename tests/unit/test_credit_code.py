"""The Unified Social Credit Code (GB 32100-2015) that keys every participant."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batterytrace.events.credit_code import (
    ALPHABET,
    EXAMPLE_CREDIT_CODE,
    WEIGHTS,
    credit_code_check_character,
    parse_credit_code,
)
from batterytrace.events.errors import InvalidCreditCode, InvalidInput

DIGITS = "0123456789"


def refusal(text: str) -> str:
    with pytest.raises(InvalidCreditCode) as caught:
        parse_credit_code(text)
    assert isinstance(caught.value, InvalidInput)
    return str(caught.value)


def test_the_alphabet_and_weights_are_those_of_gb_32100() -> None:
    assert ALPHABET == "0123456789ABCDEFGHJKLMNPQRTUWXY"
    assert len(ALPHABET) == 31 and not set("IOZSV") & set(ALPHABET)
    assert WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_the_example_code_is_valid() -> None:
    assert EXAMPLE_CREDIT_CODE == "91110000600037341L"
    assert credit_code_check_character("91110000600037341") == "L"
    assert parse_credit_code("91110000600037341L") == "91110000600037341L"


@pytest.mark.parametrize("typed", ["91110000600037341l", " 91110000600037341L\n", "\t91110000600037341l "])
def test_lower_case_and_surrounding_white_space_are_normalised(typed: str) -> None:
    assert parse_credit_code(typed) == EXAMPLE_CREDIT_CODE


@pytest.mark.parametrize(
    ("text", "length"),
    [("91110000600037341", 17), ("91110000600037341L0", 19), ("", 0), ("9111 0000600037341L", 19)],
)
def test_a_code_of_the_wrong_length_is_refused(text: str, length: int) -> None:
    message = refusal(text)
    assert f"has {length} characters; it must have 18, e.g. {EXAMPLE_CREDIT_CODE}" in message


@pytest.mark.parametrize("char", ["I", "O", "Z", "S", "V", "-", "ß", "Ａ"])
@pytest.mark.parametrize("position", [1, 2, 9, 17, 18])
def test_characters_outside_the_alphabet_are_refused(char: str, position: int) -> None:
    text = EXAMPLE_CREDIT_CODE[: position - 1] + char + EXAMPLE_CREDIT_CODE[position:]
    message = refusal(text)
    assert f"character {char!r} at position {position} is not allowed" in message
    assert "without I, O, Z, S, V" in message


def test_a_ligature_is_refused_not_folded_into_two_letters() -> None:
    # "\ufb00".upper() is "FF": 17 typed characters must not become another enterprise's code.
    valid = "91110000FF0037341" + credit_code_check_character("91110000FF0037341")
    typed = valid.replace("FF", "\ufb00")
    assert len(typed) == 17
    with pytest.raises(InvalidCreditCode, match="has 17 characters"):
        parse_credit_code(typed)


def test_lower_case_letters_outside_the_alphabet_are_refused_as_their_capitals() -> None:
    assert "character 'I' at position 9" in refusal("91110000i00037341L")


def test_positions_3_to_8_must_be_the_division_code_digits() -> None:
    message = refusal("9111A000600037341L")
    assert "positions 3-8 must be the 6-digit administrative division code, got '11A000'" in message


@pytest.mark.parametrize("wrong", sorted(set(ALPHABET) - {"L"}))
def test_a_wrong_check_character_is_refused_naming_the_expected_one(wrong: str) -> None:
    message = refusal("91110000600037341" + wrong)
    assert f"fails its check character: expected 'L' at position 18, got {wrong!r}" in message
    assert "override" in message


def test_a_regulator_override_accepts_a_code_that_fails_its_check() -> None:
    assert parse_credit_code("91110000600037341A", allow_bad_check=True) == "91110000600037341A"


def test_the_override_does_not_excuse_a_malformed_code() -> None:
    with pytest.raises(InvalidCreditCode, match="has 17 characters"):
        parse_credit_code("91110000600037341", allow_bad_check=True)
    with pytest.raises(InvalidCreditCode, match="character 'O' at position 18"):
        parse_credit_code("91110000600037341O", allow_bad_check=True)


# ------------------------------------------------------------------------------- properties
first_17 = st.builds(
    lambda head, division, organisation: head + division + organisation,
    st.text(alphabet=ALPHABET, min_size=2, max_size=2),
    st.text(alphabet=DIGITS, min_size=6, max_size=6),
    st.text(alphabet=ALPHABET, min_size=9, max_size=9),
)


@settings(max_examples=200, deadline=None)
@given(first17=first_17, other=st.sampled_from(ALPHABET))
def test_the_computed_check_character_and_no_other_completes_a_code(first17: str, other: str) -> None:
    check = credit_code_check_character(first17)
    assert parse_credit_code(first17 + check) == first17 + check

    if other != check:
        with pytest.raises(InvalidCreditCode) as caught:
            parse_credit_code(first17 + other)
        assert f"expected {check!r} at position 18, got {other!r}" in str(caught.value)
        assert parse_credit_code(first17 + other, allow_bad_check=True) == first17 + other


@settings(max_examples=200, deadline=None)
@given(first17=first_17, position=st.integers(0, 16), shift=st.integers(1, 30))
def test_any_single_mistyped_character_is_caught(first17: str, position: int, shift: int) -> None:
    # 31 is prime and no weight is 0 mod 31, so one substituted character always changes the sum.
    code = first17 + credit_code_check_character(first17)
    typo = ALPHABET[(ALPHABET.index(code[position]) + shift) % 31]
    mistyped = code[:position] + typo + code[position + 1 :]
    with pytest.raises(InvalidCreditCode):
        parse_credit_code(mistyped)
