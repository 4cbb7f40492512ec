"""Registration rules taken from conventions.py: the seat division of a participant is checked as a
collection point's is, and the outlet capacity bounds (30 t central storage, about 5 t for a
collection-type outlet) live in the one table of conventions that the refusal and warning quote.
"""

from __future__ import annotations

import re

import pytest

from batterytrace.events import collection_point, conventions
from batterytrace.events.errors import InvalidInput
from batterytrace.events.participant import Participant
from tests.utils.cast import NationalCast

CAST = NationalCast()


def regulator() -> Participant:
    return Participant.register(
        credit_code=CAST.regulator, name="MIIT traceability", roles=["regulator"], registered_by=None
    )


def recycler_seated_in(division_code: str | None) -> Participant:
    return Participant.register(
        credit_code=CAST.recycler,
        name="Ganzhou Recycling",
        roles=["recycler"],
        division_code=division_code,
        registered_by=regulator(),
    )


def test_a_participant_seated_in_a_listed_county_is_registered_with_its_code() -> None:
    assert recycler_seated_in(" 360702 ").division_code == "360702"
    assert recycler_seated_in("360700").division_code == "360700"  # a prefecture
    assert recycler_seated_in(None).division_code is None
    assert recycler_seated_in("").division_code is None  # an empty form field: no seat given


@pytest.mark.parametrize(
    ("division_code", "says"),
    [
        ("440399", "unknown county-level division '440399'"),
        ("990000", "unknown province '99'"),
        ("3607", "must be 6 digits (GB/T 2260), e.g. 110105"),
    ],
)
def test_a_participant_seated_in_a_division_that_does_not_exist_is_refused(
    division_code: str, says: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(says)):
        recycler_seated_in(division_code)


def test_a_participant_registered_before_the_check_with_an_unknown_division_still_loads() -> None:
    (event,) = recycler_seated_in("360702").collect_events()
    event.__dict__["division_code"] = "440399"  # as an event stored by an earlier release reads back
    replayed = event.mutate(None)
    assert replayed is not None and replayed.division_code == "440399"


def test_the_outlet_capacity_bounds_are_conventions_and_the_rules_quote_them() -> None:
    assert collection_point.CENTRAL_STORAGE_MIN_KG == conventions.CENTRAL_STORAGE_MIN_KG == 30_000
    assert collection_point.COLLECTION_GUIDE_MAX_KG == conventions.COLLECTION_GUIDE_MAX_KG == 5_000
    with pytest.raises(InvalidInput, match=re.escape("at least 30 t; give capacity_kg ≥ 30000")):
        collection_point.require_kind_capacity(collection_point.CollectionPointKind.CENTRAL_STORAGE, 29_999)
    warning = collection_point.capacity_warning("collection", 5_001)
    assert warning is not None and "at most about 5 t" in warning and "(≥ 30000 kg)" in warning
