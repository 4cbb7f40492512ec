"""A battery's evidence file, and its offline check with nothing but the log's public key.

Why one file: in a dispute each party must be able to check, without access to the platform,
that the history it is shown is the one that was recorded. The file holds the battery's canonical
records (ledger_record, v1), the inclusion proof of the last one in a tree of ``tree_size`` leaves,
and the signed checkpoint of that tree. The check: each record is canonical v1 of the same
battery, versions follow each other, each ``prev`` is the previous record's leaf hash (the chain),
the last leaf is in the tree (RFC 9162 inclusion), and the checkpoint is signed by the key.
So one proof anchors every record: changing any record changes every later ``prev``.

A participant that became involved later gets the records from its first involvement on: the
first record's ``prev`` then stands for the earlier ones, anchored the same way. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from batterytrace.events.ledger_merkle import verify_inclusion
from batterytrace.events.ledger_note import Checkpoint, NoteError, Verifier, open_checkpoint
from batterytrace.events.ledger_record import RecordError, leaf_hash, parse_record

EVIDENCE_FORMAT = "batterytrace-evidence/1"
MAX_EVIDENCE_BYTES = 16 * 1024 * 1024
MAX_RECORDS = 10_000
MAX_PROOF_HASHES = 64


class EvidenceError(ValueError):
    """The evidence does not hold: the message says which record or which check failed."""


@dataclass(frozen=True)
class CheckedEvidence:
    aggregate: str
    records: int
    first_version: int
    last_version: int
    checkpoint: Checkpoint


def evidence_document(
    aggregate: str, records: list[tuple[int, bytes]], proof: list[bytes], tree_size: int, checkpoint_note: str
) -> dict[str, Any]:
    """The file's JSON: records as their exact text with their leaf index, the last one's proof."""
    return {
        "format": EVIDENCE_FORMAT,
        "aggregate": aggregate,
        "records": [{"index": index, "record": record.decode()} for index, record in records],
        "proof": {
            "index": records[-1][0],
            "tree_size": tree_size,
            "hashes": [base64.b64encode(h).decode() for h in proof],
        },
        "checkpoint": checkpoint_note,
    }


def check_evidence(data: bytes, verifier: Verifier) -> CheckedEvidence:
    """Check an evidence file; ``EvidenceError`` naming the first thing that does not hold."""
    if len(data) > MAX_EVIDENCE_BYTES:
        raise EvidenceError(f"the file is larger than {MAX_EVIDENCE_BYTES // (1024 * 1024)} MB")
    try:
        document = json.loads(data)
        aggregate = document["aggregate"]
        entries = document["records"]
        proof = document["proof"]
        note = document["checkpoint"]
        if document.get("format") != EVIDENCE_FORMAT:
            raise EvidenceError(f"not a {EVIDENCE_FORMAT} file")
        if not isinstance(entries, list) or not entries or len(entries) > MAX_RECORDS:
            raise EvidenceError(f"the file holds no records, or more than {MAX_RECORDS}")
        records = [entry["record"].encode() for entry in entries]
        index, tree_size = int(proof["index"]), int(proof["tree_size"])
        hashes = proof["hashes"]
        if not isinstance(hashes, list) or len(hashes) > MAX_PROOF_HASHES:
            raise EvidenceError("the inclusion proof is not a list of at most 64 hashes")
        path = [base64.b64decode(h, validate=True) for h in hashes]
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, UnicodeError) as error:
        if isinstance(error, EvidenceError):
            raise
        raise EvidenceError(f"not an evidence file: {type(error).__name__} {error}") from None

    previous_leaf: bytes | None = None
    previous_version: int | None = None
    for position, record in enumerate(records, start=1):
        try:
            fields = parse_record(record)
        except RecordError as error:
            raise EvidenceError(f"record {position}: {error}") from None
        name = f"record {position} ({fields['type']} version {fields['version']})"
        if fields["aggregate"] != aggregate:
            raise EvidenceError(f"{name} is of {fields['aggregate']}, not {aggregate}")
        if previous_version is None:
            if fields["version"] == 1 and fields["prev"] is not None:
                raise EvidenceError(f"{name} is the first of its stream but names a previous record")
        else:
            if fields["version"] != previous_version + 1:
                raise EvidenceError(f"{name} does not follow version {previous_version}: a record is missing")
            if fields["prev"] != previous_leaf.hex():  # type: ignore[union-attr]
                raise EvidenceError(f"{name} does not chain to the record before it: one of them was changed")
        previous_leaf, previous_version = leaf_hash(record), fields["version"]

    try:
        checkpoint = open_checkpoint(note, verifier)
    except NoteError as error:
        raise EvidenceError(f"the checkpoint: {error}") from None
    if checkpoint.size != tree_size:
        raise EvidenceError(f"the proof is for a tree of {tree_size}, the checkpoint of {checkpoint.size}")
    if not verify_inclusion(previous_leaf, index, tree_size, path, checkpoint.root):  # type: ignore[arg-type]
        raise EvidenceError(
            f"the last record (version {previous_version}) is not in the checkpoint's tree at leaf {index}: "
            "a record was changed, or the proof is not this tree's"
        )
    first = parse_record(records[0])["version"]
    return CheckedEvidence(aggregate, len(records), first, previous_version or 0, checkpoint)
