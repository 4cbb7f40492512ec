"""Set-wise view rebuilds: every stored event folded in memory, fresh tables written in large
sets, swapped in atomically.

Why not the follower's path (``ViewRunner.catch_up`` from position 0): that path is made for a
few events at a time: each batch reads the rows it touches back from the database, upserts them
and moves the position, exactly once. From the first event that is pure overhead, since every row
a rebuild needs is one it made itself: here a view's ``builder`` keeps its rows in memory across
all batches, writes only what is final (``fresh_tables``), and the view's position moves once,
in the transaction that swaps the new tables in. Readers see the old view until then, and a
failure at any point leaves the old view and its position intact.

A view joins in by having ``builder(fresh) -> ViewBuilder``; a view without one rebuilds through
the follower's path (``ViewRunner.rebuild``). The events are read up to the store's head when the
rebuild starts; whatever arrives during it is applied afterwards by the ordinary catch-up.
"""

from __future__ import annotations

import fcntl
import gc
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, text

from batterytrace.events.errors import ConcurrentWrite
from batterytrace.projections.event_source import EventSource
from batterytrace.projections.fresh_tables import FreshTables
from batterytrace.projections.stored_decoding import decode_all, fast_decoder
from batterytrace.projections.tables import VIEW_TABLES

log = logging.getLogger(__name__)
PAGE_SIZE = 5000  # notifications read, decoded and folded at a time
SCHEMA_LOCK_KEY = 7_117_001  # pg_advisory_xact_lock key for creating, resetting and swapping view tables
REBUILD_LOCK_KEY = 7_117_002  # pg_try_advisory_lock key held for a whole set-wise rebuild
_SCHEMA_KEYED = "CAST(:key AS integer), hashtext(current_schema())"  # the two-int4 advisory key


class ViewBuilder(Protocol):
    """One view's rebuild in progress: folds pages of events, then writes what it holds."""

    def add(self, events: Sequence[tuple[int, Any]]) -> None: ...

    def finish(self) -> None: ...


class SetwiseView(Protocol):
    name: str

    def builder(self, fresh: FreshTables) -> ViewBuilder: ...


def has_setwise_rebuild(view: object) -> bool:
    return callable(getattr(view, "builder", None))


def rebuild_setwise(
    source: EventSource,
    engine: Engine,
    views: dict[str, SetwiseView],
    fingerprints: dict[str, str],
    *,
    progress: Callable[[str, int], None] | None = None,
    page_size: int | None = None,
) -> int:
    """Rebuild ``views`` (name -> view) from every event stored up to now; each view then stands
    at that head with its fingerprint. Returns the events applied, summed over the views."""
    page_size = page_size or PAGE_SIZE
    with only_rebuild(engine):
        return _rebuild(source, engine, views, fingerprints, progress, page_size)


class RebuildRunning(ConcurrentWrite):
    """Another set-wise rebuild holds the database's rebuild lock."""

    message_key = None  # the message itself: a command-line refusal


@contextmanager
def only_rebuild(engine: Engine) -> Iterator[None]:
    """Refuse to start while another rebuild of this database runs: both would write the same
    ``<table>_rebuild`` tables, and the second's ``create`` would drop the first's. PostgreSQL:
    a session advisory lock on a connection of its own (released if the process dies); SQLite: an
    exclusive ``flock`` on ``<database file>.rebuild-lock`` (released likewise). An in-memory
    SQLite database is private to its process: nothing to lock.

    On PostgreSQL the lock is keyed by the schema the view tables live in (``current_schema()``),
    since two deployments (or test runs) may share one database in separate schemas and must not
    refuse each other's rebuilds."""
    message = "another rebuild of the views is running on this database; wait for it to finish and retry"
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            if not connection.execute(
                text(f"SELECT pg_try_advisory_lock({_SCHEMA_KEYED})"), {"key": REBUILD_LOCK_KEY}
            ).scalar():
                raise RebuildRunning(message)
            connection.commit()
            try:
                yield
            finally:
                connection.execute(
                    text(f"SELECT pg_advisory_unlock({_SCHEMA_KEYED})"), {"key": REBUILD_LOCK_KEY}
                )
                connection.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    with open(Path(database).with_name(Path(database).name + ".rebuild-lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RebuildRunning(message) from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _rebuild(
    source: EventSource,
    engine: Engine,
    views: dict[str, SetwiseView],
    fingerprints: dict[str, str],
    progress: Callable[[str, int], None] | None,
    page_size: int,
) -> int:
    head = source.recorder.max_notification_id() or 0
    fresh = FreshTables(engine, [t for name in views for t in VIEW_TABLES[name]])
    fresh.create()
    collecting = gc.isenabled()
    gc.disable()  # see below
    try:
        builders = {name: view.builder(fresh) for name, view in views.items()}
        decode = fast_decoder(source.mapper)
        done = 0
        start = 1
        while start <= head:
            page = source.recorder.select_notifications(start=start, limit=min(page_size, head - start + 1))
            page = [n for n in page if n.id <= head]
            if not page:
                break
            events = decode_all(decode, page)
            for builder in builders.values():
                builder.add(events)
            done += len(events)
            start = page[-1].id + 1
            if progress:
                for name in views:
                    progress(name, len(events))
        for builder in builders.values():
            builder.finish()
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            fresh.swap(connection, {name: (head, fingerprints[name]) for name in views})
    except BaseException:
        _drop_quietly(fresh)
        raise
    finally:
        # Off while the rows pile up: the cyclic collector would walk every row held so far
        # again each time the heap grew by a quarter, and none of them is garbage.
        if collecting:
            gc.enable()
    log.info("rebuilt %s set-wise from %d events", ", ".join(views), done)
    return done * len(views)


def _drop_quietly(fresh: FreshTables) -> None:
    """After a failure, remove the half-built tables if the database lets us; if it does not
    (it may be what failed), the next rebuild drops them."""
    try:
        fresh.drop()
    except Exception as error:  # the original failure matters more; this one is only logged
        log.warning("could not drop a failed rebuild's tables: %s", error)
