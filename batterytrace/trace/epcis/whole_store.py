"""The operator's EPCIS export of the whole store (``export epcis`` without codes), over two processes.

Why: the export is CPU-bound Python (each stored event parsed, its EPCIS form built and encoded:
several times what reading it raw costs), and one process uses one core. So the log is cut into
pairs of segments (ranges of positions, about ``SEGMENT`` each); a forked child exports the
second of each pair while this process exports the first, and this process hands them all on in
the log's order: its own as it makes them, the child's as the child gives them. The document is
the one a single process writes (``document.document_chunks`` over ``source.logged_events``),
byte for byte: the events in the store's order, the header's master data of everything they
named (the child tells what its segments named, ``References``, merged here in the same order).

What stays bounded: the child makes one segment ahead (its text, ~0.75 kB an event) and waits
for this process to take it, as one message; this process holds that segment while it hands it
on and the child makes its next one. What a segment changes is cost only: an event that needs
the holder before it (a removal) whose battery's previous event lies before its segment reads
that from the battery's stream, as when the battery has left ``source.KNOWN_BATTERIES``.

The child opens its own application on the same store (its own connections; none of this
process's is used there), is killed when this process ends (``forked_child.end_with``) or
stops reading (a consumer that gives up, an error here), and leaves by ``os._exit`` (no inherited
buffer flushed twice: the document may be going to this process's stdout). Any failure of the
child is raised here, where the document is being written: its own error (its type kept, its
traceback as a note), or ``ExportWorkerFailed`` when it died without a word; never a hang.
Where ``fork`` is missing, with one usable core, for a log shorter than a segment, or with
``BATTERYTRACE_EXPORT_PROCESSES=1``, the export runs in this process alone.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import struct
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from itertools import pairwise
from math import ceil
from multiprocessing.connection import Connection as PipeEnd
from typing import Any

from batterytrace import forked_child
from batterytrace.forked_child import Failure, failure_of, raised_from
from batterytrace.store import ConfigurationError
from batterytrace.trace.epcis.document import BATCH, closing, event_json, opening, store_master_data
from batterytrace.trace.epcis.events import EventWriter, References
from batterytrace.trace.epcis.identifiers import Identifiers
from batterytrace.trace.epcis.source import logged_events
from batterytrace.trace.ledger.leaf_hashes import leaf_reader

PROCESSES_SETTING = "BATTERYTRACE_EXPORT_PROCESSES"
SEGMENT = 20_000  # log positions a process exports at a time (what the child holds: ~15 MB of text)
# the child's part of each pair of segments. Half: what this process does besides its own part
# (the master data, taking the child's segments, each as one message, and handing the document
# on) measured a few percent of its export on a demo store, within the noise; 0.53 left it waiting
CHILD_SHARE = 0.5
# objects allocated between two young collections while exporting (the interpreter's default is
# 700): an export makes ~60 an event, nearly all freed by their count at once, so the default
# collects every ~12 events and a fifth of an export went to the collector, its full collections
# scanning the whole heap; at this many, a few hundred kB of cycles wait at most
COLLECT_AFTER = 50_000
# positions this process's first segment has more than its share: what it exports while the child
# opens its own application and connections (~50 ms on PostgreSQL, its first page and leaves
# read cold; ~10 ms on SQLite), so that neither waits for the other at the first hand-over
HEAD_START = 3_000
POLL_SECONDS = forked_child.POLL_SECONDS
# A segment from the child is one message of records, each its kind, a log position (a chunk's
# last event's) and its length before its body: chunks of text, then what they named (``_END``);
# a failure is a message of its own (``_FAILED`` and the pickled error).
_CHUNK, _END, _FAILED = b"C", b"E", b"F"
_RECORD = struct.Struct("<cqq")

Segment = tuple[int, int | None]  # the positions after the first up to the second (None: the log's end)
Texts = Iterator[tuple[bytes | memoryview, int]]  # chunks of events' JSON text, each with its last position


class ExportWorkerFailed(ConfigurationError):
    """The export's second process failed or died; the message says how and what to do."""

    message_key = None  # the message itself: a command-line refusal


def export_processes() -> int:
    """How many processes the whole store's export uses: ``BATTERYTRACE_EXPORT_PROCESSES`` (1 or
    2), else 2 where this process may use two cores or more and the platform can fork, else 1."""
    return forked_child.processes_from(PROCESSES_SETTING, "an export can use")


def segments(after: int, head: int, size: int = SEGMENT) -> list[Segment]:
    """The log after ``after`` cut into pairs of segments, this process's then the child's (the
    child's ``CHILD_SHARE`` of each pair; this process's first longer by ``HEAD_START``), none
    much longer than ``size`` positions; the last open to what is recorded meanwhile. A log no
    longer than ``size``: one segment."""
    total = head - after
    if total <= size:
        return [(after, None)]
    pair = ceil(total / ceil(total / (2 * size)))
    mine = max(1, round(pair * (1 - CHILD_SHARE)))
    starts = [start + offset for start in range(after, head, pair) for offset in (0, mine)]
    starts = [start for start in starts if start < head]
    if len(starts) > 1:  # the first segment here is longer: the child first opens its connections
        starts[1] = min(starts[1] + min(HEAD_START, mine // 2), (starts[2:] or [head])[0] - 1)
    return [*pairwise(starts), (starts[-1], None)]


def whole_store_chunks(
    app: Any,
    ids: Identifiers,
    *,
    created: datetime,
    after: int = 0,
    advance: Callable[[int], None] | None = None,
    processes: int | None = None,
    segment: int = SEGMENT,
) -> Iterator[str]:
    """The operator's document of every battery event after position ``after`` as JSON text
    chunks (``document_chunks``' document), made by ``processes`` processes (by default
    ``export_processes()``); ``advance`` is called with how many log positions each chunk
    covered (a progress bar)."""
    head = app.recorder.max_notification_id() or 0
    parts = segments(after, head, segment)
    writer = EventWriter(ids)
    master_data = store_master_data(app, ids)
    if len(parts) > 1 and (processes or export_processes()) >= 2:
        leaf_reader(app)  # its engine made (its database driver imported, ~30 ms) once, before the fork
        texts = _in_two(app, writer, parts)
    else:
        texts = _exported(app, writer, after, None)
    with _few_collections():
        yield opening(ids, created)
        first, reached = True, after
        for text, position in texts:
            if not first:
                yield ","  # a chunk of its own: the text is decoded straight from where it lies
            yield str(text, "utf-8")
            first = False
            if advance is not None:
                advance(position - reached)
                reached = position
        yield closing(master_data, writer.references)


@contextmanager
def _few_collections() -> Iterator[None]:
    """The garbage collector's young generation collected every ``COLLECT_AFTER`` allocations,
    not the default 700, while the export runs (set back after, however it ends)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(COLLECT_AFTER, thresholds[0]), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _exported(app: Any, writer: EventWriter, after: int, stop: int | None) -> Texts:
    """The events of one segment as chunks of ``BATCH`` events' text (each with its last event's
    position), built by ``writer``, which notes what they name."""
    batch: list[bytes] = []
    event = writer.event
    position = after
    for position, seen in logged_events(app, None, after=after, stop=stop):
        batch.append(event_json(event(seen)))
        if len(batch) == BATCH:
            yield b",".join(batch), position
            batch = []
    if batch:
        yield b",".join(batch), position


def _in_two(app: Any, writer: EventWriter, parts: list[Segment]) -> Texts:
    """Every segment's chunks in order: the even ones made here, the odd ones by a forked child."""
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    sys.stdout.flush()  # nothing buffered before the fork is the child's to write
    sys.stderr.flush()
    child = context.Process(
        target=_child,
        args=(sending, app, writer.ids, parts[1::2], os.getpid()),
        name="batterytrace-epcis-export",
        daemon=True,
    )
    child.start()
    sending.close()
    try:
        for index, (after, stop) in enumerate(parts):
            if index % 2 == 0:
                yield from _exported(app, writer, after, stop)
            else:
                yield from _received(receiving, child, writer.references)
        child.join(POLL_SECONDS * 4)
    finally:
        forked_child.stop(child)
        receiving.close()


def _received(receiving: PipeEnd, child: Any, references: References) -> Texts:
    """One segment's chunks from the child (one message: taken out of the pipe at once, so the
    child goes on with its next segment while these are handed on), then what it named, added
    to ``references``."""
    message = memoryview(_message(receiving, child))
    if message[:1] == _FAILED:
        raise _failed(pickle.loads(message[1:]))
    offset = 0
    while offset < len(message):
        kind, position, length = _RECORD.unpack_from(message, offset)
        offset += _RECORD.size + length
        body = message[offset - length : offset]
        if kind == _CHUNK:
            yield body, position
        else:
            references.update(pickle.loads(body))


def _message(receiving: PipeEnd, child: Any) -> bytes:
    """The child's next message; ``ExportWorkerFailed`` if it ends without one (never a hang)."""
    return forked_child.next_message(receiving, child, _died, as_bytes=True)


def _child(sending: PipeEnd, app: Any, ids: Identifiers, mine: list[Segment], parent: int) -> None:
    """The child: export its segments on its own application, each made whole then handed over
    as one message (so that it works while the parent makes its own), or tell its error; then
    leave at once."""
    forked_child.end_with(parent)
    gc.freeze()  # what was inherited is never scanned (nor its pages copied by the collector)
    gc.set_threshold(max(COLLECT_AFTER, gc.get_threshold()[0]))
    status = 0
    try:
        own = type(app)(app.settings)  # its own connections to the same store
        try:
            writer = EventWriter(ids)
            for after, stop in mine:
                segment = bytearray()  # its chunks, then what they named: one message
                for text, position in _exported(own, writer, after, stop):
                    segment += _RECORD.pack(_CHUNK, position, len(text))
                    segment += text
                named = pickle.dumps(writer.references)
                segment += _RECORD.pack(_END, 0, len(named))
                segment += named
                writer.references.clear()
                sending.send_bytes(segment)  # waits for the parent to take the previous one
                del segment
        finally:
            own.close()
    except BaseException as error:  # told to the parent, which raises it where the document is written
        status = 1
        with suppress(Exception):  # the parent is gone or stopped reading: nobody to tell
            sending.send_bytes(_FAILED + pickle.dumps(failure_of(error)))
    finally:
        os._exit(status)


def _failed(failure: Failure) -> BaseException:
    """The child's own error (its type kept, so that callers handle it as if raised here), its
    traceback as a note; ``ExportWorkerFailed`` if it could not be pickled."""
    return raised_from(
        failure,
        "the export's second process",
        lambda message, child_traceback: ExportWorkerFailed(
            f"the export's second process failed: {message}; the document is incomplete. Its "
            f"traceback:\n{child_traceback}Retry, or set {PROCESSES_SETTING}=1 to export in one process"
        ),
    )


def _died(child: Any) -> ExportWorkerFailed:
    child.join(POLL_SECONDS * 4)  # its end seen on the pipe before its exit: wait for its code
    return ExportWorkerFailed(
        f"the export's second process ended without finishing (exit code {child.exitcode}); the "
        f"document is incomplete. Retry, or set {PROCESSES_SETTING}=1 to export in one process"
    )
