"""EPCIS test helpers: the vendored GS1 schema and context (``tests/data/epcis``, see its README),
a validator with the URI format checks live, and documents written from a store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

from batterytrace.events.epcis_mapping import LEDGER_LEAF
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.epcis.document import GS1_CONTEXT, document_chunks, store_master_data
from batterytrace.trace.epcis.identifiers import Identifiers
from batterytrace.trace.epcis.source import logged_events

DATA = Path(__file__).parents[1] / "data" / "epcis"
# Where documents name GS1's context, and the vendored copy each of these URLs serves.
CONTEXT_URLS = (
    GS1_CONTEXT,
    "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
    "https://ref.gs1.org/standards/epcis/2.0.1/epcis-context.jsonld",
)


@cache
def validator() -> Draft7Validator:
    """The EPCIS 2.0.1 schema with its format checks on (``rfc3987`` installed checks ``uri``)."""
    schema = json.loads((DATA / "epcis-json-schema.json").read_text("utf-8"))
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def schema_errors(document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message[:200]}"
        for error in validator().iter_errors(document)
    ]


def export(app: BatteryTrace, codes: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """The operator's document of ``codes`` (default: every battery), as parsed JSON."""
    ids = Identifiers(app.settings.public_url)
    chunks = document_chunks(
        ids,
        (positioned.seen for positioned in logged_events(app, None, codes=codes)),
        master_data=store_master_data(app, ids),
        created=datetime.now(UTC),
    )
    return json.loads("".join(chunks))


def without_times_of_recording(document: dict[str, Any]) -> dict[str, Any]:
    """A document without what differs when the same events are recorded again elsewhere: when
    the document was made, when each event was recorded, and so the ledger leaf each was logged
    under (its record holds the time of recording; another store logs it anew)."""
    copy = json.loads(json.dumps(document))
    copy.pop("creationDate", None)
    for event in copy["epcisBody"]["eventList"]:
        event.pop("recordTime", None)
        event.pop(LEDGER_LEAF, None)
    return copy


def compact_values(value: Any) -> int:
    """Scalar values of a compact JSON-LD document (not its context)."""
    if isinstance(value, dict):
        return sum(compact_values(v) for k, v in value.items() if k != "@context")
    if isinstance(value, list):
        return sum(compact_values(v) for v in value)
    return 1


def expanded_values(value: Any) -> int:
    """Values, ids and node types of an expanded JSON-LD document: one per compact scalar kept."""
    if isinstance(value, dict):
        count = 0
        for key, item in value.items():
            if key in ("@value", "@id"):
                count += 1
            elif key == "@type":
                count += 0 if "@value" in value else len(item)
            else:
                count += expanded_values(item)
        return count
    if isinstance(value, list):
        return sum(expanded_values(v) for v in value)
    return 0


def context_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """pyld's document loader, answering GS1's context from the vendored file, never the network."""
    if url not in CONTEXT_URLS:
        raise AssertionError(f"the test tried to load {url} from the network")
    document = json.loads((DATA / "epcis-context.jsonld").read_text("utf-8"))
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": document,
    }
