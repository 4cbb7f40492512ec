"""The Unified Social Credit Code (GB 32100-2015) that identifies every enterprise.

It is the stream key of a participant, so a mistyped code would create a phantom enterprise; the
check character catches almost every typo. Some early codes fail the check; those are accepted only
when a regulator says so explicitly (``allow_bad_check=True``), never silently.
"""

from __future__ import annotations

from batterytrace.events.errors import InvalidCreditCode

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
EXAMPLE_CREDIT_CODE = "91110000600037341L"


def credit_code_check_character(first17: str) -> str:
    """The 18th character for the first 17 (used by tests and the demo generator)."""
    total = sum(ALPHABET.index(char) * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def parse_credit_code(text: str, *, allow_bad_check: bool = False) -> str:
    """Return the normalised code or raise ``InvalidCreditCode`` saying what is wrong."""
    code = "".join(char.upper() if char.isascii() else char for char in text.strip())
    if len(code) != 18:
        raise InvalidCreditCode(
            f"unified social credit code {code!r} has {len(code)} characters; it must have 18, "
            f"e.g. {EXAMPLE_CREDIT_CODE}"
        )
    for position, char in enumerate(code, start=1):
        if char not in ALPHABET:
            raise InvalidCreditCode(
                f"unified social credit code {code!r}: character {char!r} at position {position} "
                "is not allowed; use digits and capital letters without I, O, Z, S, V"
            )
    if not code[2:8].isdigit():
        raise InvalidCreditCode(
            f"unified social credit code {code!r}: positions 3-8 must be the 6-digit administrative "
            f"division code, got {code[2:8]!r}"
        )
    expected = credit_code_check_character(code[:17])
    if code[17] != expected and not allow_bad_check:
        raise InvalidCreditCode(
            f"unified social credit code {code!r} fails its check character: expected "
            f"{expected!r} at position 18, got {code[17]!r}; check for a typo (a regulator may "
            "register a known early code that fails the check with an explicit override)"
        )
    return code
