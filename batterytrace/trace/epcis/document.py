"""An EPCIS 2.0 JSON-LD document, written as a stream of JSON text chunks in constant memory.

The event list is written first and the header last (JSON object members have no order): the
header's master data (the names, divisions and coordinates of the places, the names of the
parties) is given once per document, for what the events named, and a stream does not know that
before it has written them. What is kept meanwhile is the set of ids named, bounded by the
number of places and participants, not of events.

The JSON is written by orjson (a C encoder, several times as fast as ``json`` on a whole store),
compact; what it cannot write (an integer beyond 64 bits) falls back to ``json``, so the
document's values are those ``json`` would write.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import orjson

from batterytrace.events.collection_point import CollectionPoint, parse_collection_point_id
from batterytrace.events.credit_code import parse_credit_code
from batterytrace.events.epcis_mapping import IdKind
from batterytrace.events.errors import DomainError, NotFound
from batterytrace.events.participant import Participant
from batterytrace.projections.event_data import plain
from batterytrace.trace.epcis.events import MDA_NAME, EventWriter, References
from batterytrace.trace.epcis.identifiers import Identifiers

GS1_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
SCHEMA_VERSION = "2.0"
LOCATION_VOCABULARY = "urn:epcglobal:epcis:vtype:BusinessLocation"
PARTY_VOCABULARY = "urn:epcglobal:epcis:vtype:SourceDest"
MDA = "urn:epcglobal:cbv:mda#"
MEDIA_TYPE = "application/ld+json"

MasterData = Callable[[References], list[dict[str, Any]]]
LOAD_TOGETHER = 500  # places or parties read in one statement for the master data


# The header's master-data members, named by the EPCIS 2.0.1 JSON schema but missing from GS1's
# context (which has ``vocabularyList`` only): without these a JSON-LD processor drops the master
# data silently. Defined in GS1's namespace, as the schema names them.
MASTER_DATA_TERMS = {
    "epcisMasterData": "epcis:epcisMasterData",
    "vocabularyElementList": {"@id": "epcis:vocabularyElementList", "@container": "@set"},
    "attributes": {"@id": "epcis:attributes", "@container": "@set"},
    "attribute": "epcis:attribute",
}


def context(ids: Identifiers) -> list[Any]:
    """GS1's context, the master-data terms it lacks and the service's own prefix (extension
    fields, own terms)."""
    return [GS1_CONTEXT, {"bt": ids.vocabulary, **MASTER_DATA_TERMS}]


BATCH = 500  # events per chunk of the document


def document_chunks(
    ids: Identifiers,
    seen: Iterable[Any],
    *,
    master_data: MasterData,
    created: datetime,
    on_event: Callable[[], None] | None = None,
) -> Iterator[str]:
    """The document as JSON text chunks: the opening, the events ``BATCH`` at a time, the
    closing. Each event is encoded as soon as it is built: what waits for its chunk is its text,
    which the garbage collector does not track (500 events' dicts waiting would be promoted to
    its oldest generation, and the full collections that sets off took a tenth of an export)."""
    writer = EventWriter(ids)
    yield opening(ids, created)
    separator = b""
    batch: list[bytes] = []
    event = writer.event
    for item in seen:
        batch.append(event_json(event(item)))
        if on_event is not None:
            on_event()
        if len(batch) == BATCH:
            yield (separator + b",".join(batch)).decode()
            separator, batch = b",", []
    if batch:
        yield (separator + b",".join(batch)).decode()
    yield closing(master_data, writer.references)


def opening(ids: Identifiers, created: datetime) -> str:
    """The document's text up to its first event (the event list opened)."""
    head = {
        "@context": context(ids),
        "type": "EPCISDocument",
        "schemaVersion": SCHEMA_VERSION,
        "creationDate": plain(created),
    }
    return to_json(head)[:-1] + ',"epcisBody":{"eventList":['


def closing(master_data: MasterData, references: References) -> str:
    """The document's text after its last event: the list closed, the header with the master
    data of what the events named (``references``)."""
    header = {"epcisMasterData": {"vocabularyList": master_data(references)}}
    return ']},"epcisHeader":' + to_json(header) + "}"


def event_json(event: dict[str, Any]) -> bytes:
    """One event's JSON text, UTF-8 (as ``to_json`` writes it)."""
    try:
        return orjson.dumps(event)
    except (orjson.JSONEncodeError, TypeError):
        return to_json(event).encode()


def to_json(value: Any) -> str:
    """Compact JSON text of ``value`` (orjson; ``json`` for what orjson refuses)."""
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def store_master_data(app: Any, ids: Identifiers) -> MasterData:
    """Master data read from the event store's participants and collection points."""

    def build(references: References) -> list[dict[str, Any]]:
        vocabularies = []
        points = sorted(references.points)
        known_points = _loaded(app, points, parse_collection_point_id, CollectionPoint)
        places = [_point(app, ids, point, known_points.get(point)) for point in points]
        places += [
            {
                "id": ids.uri(IdKind.STATION, label, holder=operator),
                "attributes": [
                    {"id": MDA_NAME, "attribute": label},
                    {"id": f"{ids.vocabulary}division_code", "attribute": division},
                    {"id": f"{ids.vocabulary}operator", "attribute": ids.uri(IdKind.PARTY, operator)},
                ],
            }
            for (operator, label), division in sorted(references.stations.items())
        ]
        if places:
            vocabularies.append({"type": LOCATION_VOCABULARY, "vocabularyElementList": places})
        party_ids = sorted(references.parties)
        known_parties = _loaded(app, party_ids, _participant_stream, Participant)
        parties = [_party(app, ids, party, known_parties.get(party)) for party in party_ids]
        if parties:
            vocabularies.append({"type": PARTY_VOCABULARY, "vocabularyElementList": parties})
        return vocabularies

    return build


def _attributes(ids: Identifiers, **values: Any) -> list[dict[str, Any]]:
    """Master-data attributes: CBV's where it has one (name, address, latitude, longitude), the
    service's own otherwise; empty values left out."""
    cbv = {"name": "name", "address": "streetAddressOne", "latitude": "latitude", "longitude": "longitude"}
    return [
        {"id": MDA + cbv[key] if key in cbv else f"{ids.vocabulary}{key}", "attribute": value}
        for key, value in values.items()
        if value is not None
    ]


def _loaded(app: Any, named: list[str], stream_of: Callable[[str], str], kind: type) -> dict[str, Any]:
    """The aggregates of ``kind`` the ids in ``named`` name, read ``LOAD_TOGETHER`` streams at a
    time (``app.load_together``): one read per chunk, not one per place or party, which cost
    an export on PostgreSQL a sixth of its time. An id not found so (malformed, not recorded,
    of another kind) is left out, for ``_point``/``_party`` to read alone as before."""
    load_together = getattr(app, "load_together", None)
    streams: dict[str, str] = {}
    for name in named:
        try:
            streams[name] = stream_of(name)
        except DomainError:
            continue
    if load_together is None or not streams:
        return {}
    found: dict[str, Any] = {}
    asked = list(streams.items())
    for start in range(0, len(asked), LOAD_TOGETHER):
        part = asked[start : start + LOAD_TOGETHER]
        together = load_together(*(stream for _, stream in part))
        for name, stream in part:
            aggregate = together.get(stream)
            if isinstance(aggregate, kind):
                found[name] = aggregate
    return found


def _participant_stream(party_id: str) -> str:
    return parse_credit_code(party_id, allow_bad_check=True)


def _point(app: Any, ids: Identifiers, point_id: str, point: Any = None) -> dict[str, Any]:
    """A place's master data; ``point`` the collection point if read already."""
    uri = ids.uri(IdKind.POINT, point_id)
    if point is None:
        try:
            point = app.collection_point(point_id)
        except NotFound:
            return {"id": uri}
    return {
        "id": uri,
        "attributes": _attributes(
            ids,
            name=point.name,
            name_en=getattr(point, "name_en", None),
            address=point.address,
            division_code=point.division_code,
            latitude=point.latitude,
            longitude=point.longitude,
        ),
    }


def _party(app: Any, ids: Identifiers, party_id: str, participant: Any = None) -> dict[str, Any]:
    """A party's master data; ``participant`` the participant if read already."""
    uri = ids.uri(IdKind.PARTY, party_id)
    if participant is None:
        try:
            participant = app.participant(party_id)
        except NotFound:
            return {"id": uri}
    return {
        "id": uri,
        "attributes": _attributes(ids, name=participant.name, name_en=getattr(participant, "name_en", None)),
    }
