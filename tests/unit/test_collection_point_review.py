"""The review rule of a collection point, told by its aggregate alone (no store, no app).

Public pages send owners to collection points, so a point an operator registers for itself is
pending review until a regulator approves it; a regulator's own registration is approved at once.
Streams recorded before review existed (their Registered event has no ``approved``) must still
load: registered by someone other than the operator means by a regulator, hence approved.
"""

from __future__ import annotations

from typing import Any

import pytest

from batterytrace.events.collection_point import CollectionPoint, Review, review_at_registration
from batterytrace.events.errors import NotAuthorised
from batterytrace.events.participant import Participant
from batterytrace.projections.network_view import _point_row
from tests.utils.cast import NationalCast

CAST = NationalCast()


@pytest.fixture
def regulator() -> Participant:
    return Participant.register(
        credit_code=CAST.regulator, name="MIIT traceability", roles=["regulator"], registered_by=None
    )


@pytest.fixture
def operator(regulator: Participant) -> Participant:
    return Participant.register(
        credit_code=CAST.outlet_operator,
        name="Beijing Green Outlets",
        roles=["outlet_operator"],
        registered_by=regulator,
    )


def point(operator: Participant, by: Participant) -> CollectionPoint:
    return CollectionPoint.register(
        point_id="cp-110105-0009",
        operator=operator,
        name="Chaoyang collection outlet",
        kind="collection",
        capacity_kg=5000,
        address="1 Battery Road",
        division_code="110105",
        by=by,
    )


def names(aggregate: CollectionPoint) -> list[str]:
    return [type(e).__name__ for e in aggregate.collect_events()]


def test_a_point_its_operator_registers_is_pending_until_a_regulator_approves_it(
    regulator: Participant, operator: Participant
) -> None:
    own = point(operator, by=operator)
    assert own.review == Review.PENDING and not own.is_approved and own.reviewed_by is None
    own.approve(by=regulator, note="  site visited  ")
    assert own.review == Review.APPROVED and own.reviewed_by == regulator.id
    events = own.collect_events()
    assert [type(e).__name__ for e in events] == ["Registered", "Approved"]
    assert events[0].approved is False
    assert (events[1].approved_by, events[1].note) == (regulator.id, "site visited")


def test_a_point_a_regulator_registers_is_approved_at_registration(
    regulator: Participant, operator: Participant
) -> None:
    registered = point(operator, by=regulator)
    assert registered.is_approved and registered.reviewed_by == regulator.id
    [event] = registered.collect_events()
    assert event.approved is True


def test_only_a_regulator_approves_and_approving_again_records_nothing(
    regulator: Participant, operator: Participant
) -> None:
    own = point(operator, by=operator)
    names(own)
    with pytest.raises(NotAuthorised, match="needs the role regulator"):
        own.approve(by=operator)
    assert not own.is_approved and names(own) == []
    own.approve(by=regulator)
    own.approve(by=regulator)
    assert names(own) == ["Approved"]


@pytest.mark.parametrize(
    ("registered_by", "review"), [(CAST.regulator, Review.APPROVED), (CAST.outlet_operator, Review.PENDING)]
)
def test_a_stream_recorded_before_review_existed_still_loads(
    registered_by: str, review: Review, regulator: Participant, operator: Participant
) -> None:
    """The stored Registered event of an older release has no ``approved`` field: the point and
    its network-view row are rebuilt from it all the same, approved when a regulator registered it."""
    [new] = point(operator, by=regulator).collect_events()
    state: dict[str, Any] = {k: v for k, v in vars(new).items() if k != "approved"}
    state["registered_by"] = registered_by
    old = object.__new__(type(new))
    object.__setattr__(old, "__dict__", state)  # as the library's mapper decodes a stored event
    rebuilt = old.mutate(None)
    assert isinstance(rebuilt, CollectionPoint) and rebuilt.review == review
    assert review_at_registration(None, registered_by=registered_by, operator_id=operator.id) == review
    assert _point_row(old)["review"] == review.value  # the network view, rebuilt from old streams
