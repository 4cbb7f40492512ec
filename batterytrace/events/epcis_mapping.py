"""Each battery event as a GS1 EPCIS 2.0 event: one table a reader can check against the CBV.

EPCIS says *what* happened to *which* objects, *when*, *where* and *why* (event type, action,
business step, disposition, read point, parties); the Core Business Vocabulary (CBV 2.0) names the
business steps and dispositions. Where no CBV term fits, the term is the service's own, written
``OWN + "retiring"`` here and published under ``{BATTERYTRACE_PUBLIC_URL}/voc/bizStep/retiring``
(and ``/voc/disposition/…``): retirement is not ``decommissioning``, because the battery's code
lives on after it (it is collected, handed over, reused, recycled under the same code).

How the objects of an EPCIS event are taken from a battery event's fields:

- the battery itself is the event's object (``epcList``, ``childEPCs`` or ``inputEPCList``);
- ``parent`` names the AssociationEvent's parent, the first of its links whose field is set; the
  ``HOLDER_BEFORE`` link is the battery's holder before the event (a removal names no vehicle:
  the vehicle is the one the battery was in);
- ``output`` is a TransformationEvent's output object, ``output_quantities`` a field holding
  ``{material: kg}`` given as output quantities in ``KGM`` of the class ``/voc/material/{name}``;
- ``place`` is the read point and business location; ``sources``/``destinations`` the parties;
- ``sensors`` are measurements taken at the event (a sensor report: CBV measurement type, UN/CEFACT
  unit: ``KGM`` kilogram, ``P1`` percent); ``ilmd`` the facts fixed when the battery was made;
- every other field is an extension under the service's prefix (``bt:reason``), so that nothing
  an event records is lost and a document captured back records the same event
  (``tests/unit/test_event_catalogue.py`` checks that every field of every event has a place).

One more extension names no fact of the event: ``bt:ledgerLeaf``, ``{"bt:index": n, "bt:sha256":
hex}``, the leaf the tamper-evidence ledger logged for the event (its index in the Merkle tree and
``SHA-256(0x00 || record)`` of its canonical record, ``events/ledger_record.py``), so that whoever
holds the event can ask for its inclusion proof in a signed checkpoint and recompute the leaf from
the record. An event not logged yet has none; capture ignores it (the receiving store logs the
event anew, under its own leaf).

The identifiers are HTTP URIs of the resolver (a GB/T 34014 code does not fit a GS1 key: AI 21 is
at most 20 characters): ``/b/{code}``, ``/loc/{point}``, ``/party/{credit code}``; the kinds of
identifier are ``IdKind``. Pure data: ``trace/epcis/`` builds and reads documents with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType

OWN = "bt:"  # a term of the service's own vocabulary (no CBV term fits)
PREFIX = "bt"  # the JSON-LD prefix of the service's own vocabulary and extension fields

# Fields every battery event carries, each with its own place in every EPCIS event: who acted
# (``bt:actor``), eventTime, the client's request id (not exported: it is the client's; a captured
# event takes its EPCIS eventID as request id) and the late-correction flag (``bt:late_correction``).
COMMON_FIELDS = ("actor_id", "occurred_at", "request_id", "late_correction")
# The library's bookkeeping: the battery (its code is the event's object), the event's place in
# its stream (the eventID) and when it was recorded (recordTime).
BOOKKEEPING = ("originator_id", "originator_version", "timestamp", "originator_topic")
OBJECT_FIELD = "code"  # Produced names its battery once more
# The event's leaf in the ledger (see above): an extension of every exported event once logged.
LEDGER_LEAF = OWN + "ledgerLeaf"


class IdKind(StrEnum):
    """What an identifier names, and the resolver path it lives under."""

    BATTERY = "b"
    VEHICLE = "vehicle"  # by VIN; hidden from callers who may not know it (disclosure.py)
    SITE = "site"  # a second-life product's site of use: /site/{holder}/{label}
    POINT = "loc"  # a collection point
    STATION = "station"  # a swap operator's station: /loc/{operator}/{label}
    PARTY = "party"  # a participant, by credit code
    HOLDER_BEFORE = "holder_before"  # the vehicle or site holding the battery before the event


@dataclass(frozen=True)
class Link:
    """An identifier taken from one field of the event."""

    field: str
    kind: IdKind


@dataclass(frozen=True)
class Sensor:
    """A measurement taken at the event: the field holding it, CBV type and UN/CEFACT unit."""

    field: str
    measurement: str
    uom: str


@dataclass(frozen=True)
class EpcisEvent:
    """How one battery event reads as an EPCIS event."""

    event_type: str
    action: str | None  # ADD, OBSERVE, DELETE; a TransformationEvent has none
    biz_step: str
    disposition: str | None
    parent: tuple[Link, ...] = ()
    output: Link | None = None
    output_quantities: str | None = None
    place: Link | None = None
    sources: tuple[tuple[str, Link], ...] = ()
    destinations: tuple[tuple[str, Link], ...] = ()
    sensors: tuple[Sensor, ...] = ()
    ilmd: tuple[str | Link, ...] = ()
    # Fields whose value is an identifier, given as such in their extension (a party, a point …).
    linked_extensions: tuple[Link, ...] = ()

    @cached_property
    def standard_fields(self) -> frozenset[str]:
        """The event fields this mapping puts in a standard EPCIS slot."""
        links = [*self.parent, *(link for _, link in (*self.sources, *self.destinations))]
        if self.output:
            links.append(self.output)
        if self.place:
            links.append(self.place)
        named = {link.field for link in links if link.kind != IdKind.HOLDER_BEFORE}
        named.update(sensor.field for sensor in self.sensors)
        named.update(item.field if isinstance(item, Link) else item for item in self.ilmd)
        if self.output_quantities:
            named.add(self.output_quantities)
        return frozenset(named)


_BY_ACTOR = Link("actor_id", IdKind.PARTY)
_VEHICLE = Link("vin", IdKind.VEHICLE)
_STATION = Link("station", IdKind.STATION)

MAPPING: MappingProxyType[str, EpcisEvent] = MappingProxyType(
    {
        # CBV commissioning: "associating an instance-level identifier with a specific object";
        # active: "commissioned … and may now be used". The ratings are lot/instance master data.
        "Produced": EpcisEvent(
            "ObjectEvent",
            "ADD",
            "commissioning",
            "active",
            ilmd=(
                "manufacturer_code",
                "level",
                "battery_type",
                "rated_capacity_ah",
                "nominal_voltage_v",
                "energy_kwh",
                "mass_kg",
                "production_date",
                Link("components", IdKind.BATTERY),
                Link("derived_from", IdKind.BATTERY),
            ),
            linked_extensions=(Link("manufacturer_id", IdKind.PARTY),),
        ),
        # CBV assembling: "combining components into a higher-level assembly"; the pack is the
        # parent (AssociationEvent: the pack is not a container the module could leave again).
        "AssembledInto": EpcisEvent(
            "AssociationEvent", "ADD", "assembling", None, parent=(Link("pack_code", IdKind.BATTERY),)
        ),
        # CBV shipping with in_transit: a new battery passes from its maker to a vehicle maker or
        # swap operator (owning and possessing party change).
        "Delivered": EpcisEvent(
            "ObjectEvent",
            "OBSERVE",
            "shipping",
            "in_transit",
            sources=(("owning_party", _BY_ACTOR),),
            destinations=(("owning_party", Link("receiver_id", IdKind.PARTY)),),
        ),
        # CBV installing: "an object is put into a composite object"; the vehicle (or a
        # second-life product's site) is the parent.
        "Installed": EpcisEvent(
            "AssociationEvent",
            "ADD",
            "installing",
            "active",
            parent=(_VEHICLE, Link("site", IdKind.SITE)),
        ),
        # CBV removing: "an object is taken out of a composite object"; unavailable: "not
        # available for use" until reinstalled.
        "Removed": EpcisEvent(
            "AssociationEvent",
            "DELETE",
            "removing",
            "unavailable",
            parent=(Link("holder", IdKind.HOLDER_BEFORE),),
        ),
        # A swap: removing out of the vehicle at the station, into the operator's stock (available
        # for the next vehicle) …
        "SwappedOut": EpcisEvent(
            "AssociationEvent",
            "DELETE",
            "removing",
            "available",
            parent=(_VEHICLE,),
            place=_STATION,
            linked_extensions=(Link("operator_id", IdKind.PARTY),),
        ),
        # … and installing from the stock into the vehicle.
        "SwappedIn": EpcisEvent(
            "AssociationEvent",
            "ADD",
            "installing",
            "active",
            parent=(_VEHICLE,),
            place=_STATION,
            linked_extensions=(Link("operator_id", IdKind.PARTY),),
        ),
        # No CBV step: the vehicle is scrapped, the battery still in it; the dismantler becomes
        # the party that answers for it (owning party), the battery is out of use.
        "VehicleScrapped": EpcisEvent(
            "ObjectEvent",
            "OBSERVE",
            OWN + "scrapping",
            "unavailable",
            destinations=(("owning_party", Link("dismantler_id", IdKind.PARTY)),),
            linked_extensions=(_VEHICLE,),
        ),
        # No CBV step: decommissioning would end the code, which lives on (collected, handed over,
        # reused, recycled). State of health (percent) is a sensor report of the retirement.
        "Retired": EpcisEvent(
            "ObjectEvent",
            "OBSERVE",
            OWN + "retiring",
            OWN + "retired",
            sensors=(Sensor("state_of_health_pct", "Dimensionless", "P1"),),
        ),
        # CBV collecting: "picking up and collecting objects for disposal or recycling";
        # returned: "object has been sent back". The outlet is read point and business location,
        # the weighing a sensor report.
        "Collected": EpcisEvent(
            "ObjectEvent",
            "OBSERVE",
            "collecting",
            "returned",
            place=Link("collection_point_id", IdKind.POINT),
            sensors=(Sensor("mass_kg", "Mass", "KGM"),),
            linked_extensions=(Link("operator_id", IdKind.PARTY), Link("source_vin", IdKind.VEHICLE)),
        ),
        # CBV shipping: from the holder to a recycler or cascade-use enterprise (owning party
        # changes); the outlet it leaves, if any, is the read point.
        "HandedOver": EpcisEvent(
            "ObjectEvent",
            "OBSERVE",
            "shipping",
            "in_transit",
            place=Link("from_collection_point_id", IdKind.POINT),
            sources=(("owning_party", _BY_ACTOR),),
            destinations=(("owning_party", Link("receiver_id", IdKind.PARTY)),),
        ),
        # Transformation: the retired original is input, the second-life product output (the
        # product's id is the transformationID, joining the events of its several originals).
        # No CBV step for repurposing.
        "CascadeReused": EpcisEvent(
            "TransformationEvent",
            None,
            OWN + "repurposing",
            "active",
            output=Link("product_code", IdKind.BATTERY),
            linked_extensions=(Link("enterprise_id", IdKind.PARTY),),
        ),
        # CBV destroying: "rendering an object unusable"; destroyed. The recovered Li, Ni, Co, Mn
        # are output quantities.
        "Recycled": EpcisEvent(
            "TransformationEvent",
            None,
            "destroying",
            "destroyed",
            output_quantities="recovered_kg",
            linked_extensions=(Link("recycler_id", IdKind.PARTY),),
        ),
    }
)

# Battery events deliberately not exported, each with the reason (none so far).
NOT_EXPORTED: MappingProxyType[str, str] = MappingProxyType({})


def mapping_of(event_name: str) -> EpcisEvent:
    """The EPCIS reading of a battery event by name; KeyError for an unmapped one."""
    return MAPPING[event_name]
