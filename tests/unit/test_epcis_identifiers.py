"""EPCIS identifiers and the reverse reading of the mapping, without a store: every identifier
reads back as what it names, a foreign one is refused, eventIDs are stable per (battery, version),
and EPCIS events that share a business step are told apart by what only one of them names."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batterytrace.events.epcis_mapping import IdKind
from batterytrace.events.errors import InvalidInput
from batterytrace.trace.epcis.identifiers import Identifiers, name_based_uuid
from batterytrace.trace.epcis.reading import EventReader

IDS = Identifiers("https://trace.example.cn/")
CODE = "3CAPB120A1B2C3R7F0000123"


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (IdKind.BATTERY, CODE),
        (IdKind.VEHICLE, "LSVAU2180N2183294"),
        (IdKind.POINT, "CP-110105-0001"),
        (IdKind.PARTY, "91360700MA3500006R"),
        (IdKind.STATION, "Futian 03/B"),
        (IdKind.SITE, "长沙 基站 17"),
    ],
)
def test_an_identifier_reads_back_as_what_it_names(kind: IdKind, value: str) -> None:
    uri = IDS.uri(kind, value, holder="91440300MA5F000093")
    assert uri.startswith("https://trace.example.cn/") and " " not in uri
    assert IDS.value(kind, uri) == value


@pytest.mark.parametrize(
    "uri", ["urn:epc:id:sgtin:4012345.011111.9876", CODE, f"https://other.example/b/{CODE}", 42]
)
def test_a_foreign_identifier_is_refused(uri: object) -> None:
    with pytest.raises(InvalidInput, match="is not a battery identifier of this service"):
        IDS.value(IdKind.BATTERY, uri)  # type: ignore[arg-type]


def test_an_event_id_is_stable_and_unique_per_battery_and_version() -> None:
    assert IDS.event_id(CODE, 3) == Identifiers("https://trace.example.cn").event_id(CODE, 3)
    assert len({IDS.event_id(CODE, 1), IDS.event_id(CODE, 2), IDS.event_id(CODE[:-1] + "4", 1)}) == 3
    assert IDS.event_id(CODE, 1).startswith("urn:uuid:")


@pytest.mark.parametrize(
    ("event", "name"),
    [
        ({"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "shipping"}, "Delivered"),
        (
            {"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "shipping", "bt:activity": "recycling"},
            "HandedOver",
        ),
        ({"type": "AssociationEvent", "action": "ADD", "bizStep": "installing"}, "Installed"),
        ({"type": "AssociationEvent", "action": "DELETE", "bizStep": "removing"}, "Removed"),
        (
            {
                "type": "ObjectEvent",
                "action": "OBSERVE",
                "bizStep": "https://trace.example.cn/voc/bizStep/retiring",
            },
            "Retired",
        ),
        ({"type": "ObjectEvent", "action": "OBSERVE", "bizStep": "bt:retiring"}, "Retired"),
    ],
)
def test_events_sharing_a_step_are_told_apart(event: dict[str, object], name: str) -> None:
    assert EventReader(IDS).which(event) == name


def test_a_swap_is_not_captured_one_battery_at_a_time() -> None:
    swap_in = {"type": "AssociationEvent", "action": "ADD", "bizStep": "installing", "readPoint": {"id": "x"}}
    with pytest.raises(InvalidInput, match="SwappedIn is not captured from EPCIS: a swap is recorded as one"):
        EventReader(IDS).which(swap_in)


@given(st.text(max_size=200))
def test_the_name_based_uuid_is_uuid5s(name: str) -> None:
    """The eventID's UUID, built without a ``UUID`` object, is the standard library's uuid5."""
    assert name_based_uuid(name) == str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def test_event_ids_are_uuid5_of_the_battery_url_and_version() -> None:
    expected = uuid.uuid5(uuid.NAMESPACE_URL, f"https://trace.example.cn/b/{CODE}#7")
    assert IDS.event_id(CODE, 7) == f"urn:uuid:{expected}"
