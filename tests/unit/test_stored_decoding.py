"""The rebuild's JSON parsing reads every stored state as ``json`` (the library's mapper) does,
including what orjson alone would read otherwise (integers beyond 64 bits) or refuse (NaN)."""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from batterytrace.projections.stored_decoding import parse_stored_state

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(values)
def test_states_parse_as_json_parses_them(value: object) -> None:
    stored = json.dumps({"v": value}, ensure_ascii=False)
    for given_as in (stored.encode(), stored, memoryview(stored.encode())):
        parsed = parse_stored_state(given_as)
        assert parsed == json.loads(stored)
        assert repr(parsed) == repr(json.loads(stored))  # 1 and 1.0, -0.0 and 0.0 apart


def test_integers_beyond_64_bits_stay_whole_and_nan_is_read() -> None:
    whole = 123456789012345678901234567890
    assert parse_stored_state(b'{"n": %d}' % whole) == {"n": whole}
    assert parse_stored_state(b'{"n": -9223372036854775809}') == {"n": -9223372036854775809}
    assert math.isnan(parse_stored_state(b'{"x": NaN}')["x"])
