"""Set-wise view rebuilds: every stored event folded in memory, fresh tables written in large
sets, swapped in atomically.

Why not the follower's path (``ViewRunner.catch_up`` from position 0): that path is made for a
few events at a time: each batch reads the rows it touches back from the database, upserts them
and moves the position, exactly once. From the first event that is pure overhead, since every row
a rebuild needs is one it made itself: here a view's ``builder`` keeps its rows in memory across
all batches, writes only what is final (``fresh_tables``), and the view's position moves once,
in the transaction that swaps the new tables in. Readers see the old view until then, and a
failure at any point leaves the old view and its position intact.

The views' builders fold in two processes where the machine has the cores
(``parallel_fold``), each view's rows written by one of them. A view joins in by having
``builder(fresh) -> ViewBuilder``; a view without one rebuilds through
the follower's path (``ViewRunner.rebuild``). The events are read up to the store's head when the
rebuild starts; whatever arrives during it is applied afterwards by the ordinary catch-up.

Views that follow several event stores (``event_source``: upstreams) hold the rows of all of them,
so a rebuild folds each upstream's events in turn into the same fresh tables, and the swap sets
each upstream's position to the head it was read to. The stores hold disjoint aggregates, so the
order in which they are folded does not change the rows. A rebuild that was not given every
upstream whose events the views hold is refused (``RebuildNeedsUpstreams``): swapping in tables
without those events would leave their positions claiming them.
"""

from __future__ import annotations

import fcntl
import gc
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, insert, or_, select, text

from batterytrace.events.errors import ConcurrentWrite
from batterytrace.projections.event_source import UPSTREAM_SEPARATOR, EventSource, WrittenHeads, position_key
from batterytrace.projections.fresh_tables import FreshTables
from batterytrace.projections.parallel_fold import fold_in_two, fold_pages, fold_processes
from batterytrace.projections.tables import VIEW_TABLES, positions
from batterytrace.store import ConfigurationError

log = logging.getLogger(__name__)
PAGE_SIZE = 5000  # notifications read, decoded and folded at a time
SCHEMA_LOCK_KEY = 7_117_001  # pg_advisory_xact_lock key for creating, resetting and swapping view tables
REBUILD_LOCK_KEY = 7_117_002  # pg_try_advisory_lock key held for a whole set-wise rebuild
_SCHEMA_KEYED = "CAST(:key AS integer), hashtext(current_schema())"  # the two-int4 advisory key


class ViewBuilder(Protocol):
    """One view's rebuild in progress: folds pages of events, then writes what it holds."""

    def add(self, events: Sequence[tuple[int, Any]]) -> None: ...

    def finish(self) -> None: ...

    # A builder may also have ``after_swap(connection)``: called in the swap's transaction once
    # the fresh tables are live (the ledger signs a checkpoint of the rebuilt tree there). If
    # what it needs there is what it folded, it also has ``outcome()`` and ``take_outcome(value)``
    # (``parallel_fold``: it may have folded in another process).


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
    upstream: str | None = None,
    upstreams: Mapping[str | None, EventSource] | None = None,
    written: WrittenHeads | None = None,
) -> int:
    """Rebuild ``views`` (name -> view) from every event stored up to now; each view then stands
    at that head with its fingerprint. Returns the events applied, summed over the views.

    ``source`` is the ``upstream`` named (None: the default one); ``upstreams``: the other
    stores the views follow (name -> source), folded after it. ``written``: the store is being
    filled by a writer that tells its heads (``WrittenHeads``); the fold follows it, and the views
    stand at the head it finished at (one upstream only)."""
    page_size = page_size or PAGE_SIZE
    sources = {upstream: source, **(upstreams or {})}
    if written is not None and len(sources) > 1:
        raise ValueError("a rebuild that follows a writer's heads folds one upstream only")
    with only_rebuild(engine):
        return _rebuild(sources, engine, views, fingerprints, progress, page_size, written)


class RebuildNeedsUpstreams(ConfigurationError):
    """The views hold events of an upstream the rebuild was not given."""

    message_key = None  # the message itself: a command-line refusal


def missing_upstreams(connection: Connection, views: Sequence[str], given: Sequence[str | None]) -> list[str]:
    """The upstreams outside ``given`` that some of ``views`` have applied events of (a position
    row past 0), sorted; "" stands for the default upstream."""
    if not views:
        return []
    keys = {position_key(view, upstream) for view in views for upstream in given}
    rows = connection.execute(
        select(positions.c.view).where(
            positions.c.position > 0,
            or_(
                *(positions.c.view == view for view in views),
                *(positions.c.view.startswith(view + UPSTREAM_SEPARATOR, autoescape=True) for view in views),
            ),
        )
    )
    return sorted({key.partition(UPSTREAM_SEPARATOR)[2] for (key,) in rows if key not in keys})


def refuse_without(connection: Connection, views: Sequence[str], given: Sequence[str | None]) -> None:
    """``RebuildNeedsUpstreams`` when ``missing_upstreams`` finds any."""
    missing = missing_upstreams(connection, views, given)
    if missing:
        named = ", ".join(repr(m) if m else "the default one" for m in missing)
        raise RebuildNeedsUpstreams(
            f"the views {', '.join(views)} also hold the events of upstream {named}: rebuild them "
            "from every upstream at once (ViewRunner.rebuild(upstreams=...)), or rebuild through "
            "the followers (a rebuild of views without a set-wise builder resets every upstream's "
            "position, and each upstream's follower applies its events again)"
        )


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
    sources: Mapping[str | None, EventSource],
    engine: Engine,
    views: dict[str, SetwiseView],
    fingerprints: dict[str, str],
    progress: Callable[[str, int], None] | None,
    page_size: int,
    written: WrittenHeads | None = None,
) -> int:
    ends: dict[str | None, int | WrittenHeads] = {  # how far each upstream is read
        upstream: written if written is not None else source.recorder.max_notification_id() or 0
        for upstream, source in sources.items()
    }
    tables = [t for name in views for t in VIEW_TABLES[name]]
    fresh = FreshTables(engine, tables, keys_first=written is not None)
    fresh.create()
    collecting = gc.isenabled()
    gc.disable()  # see below
    try:
        builders = {name: view.builder(fresh) for name, view in views.items()}
        done = 0
        if len(sources) == 1 and len(builders) >= 2 and fold_processes() == 2:
            ((upstream, source),) = sources.items()
            done = fold_in_two(source, ends[upstream], builders, engine, progress, page_size)
        else:
            for upstream, source in sources.items():
                done += fold_pages(source, ends[upstream], builders, progress, page_size)
            for builder in builders.values():
                builder.finish()
        fresh.prepare_swap()  # keys and indexes before the swap's transaction (PostgreSQL)
        # the views stand where the reading stopped (a writer's heads: where it finished)
        heads = {upstream: end if isinstance(end, int) else end.final for upstream, end in ends.items()}
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            refuse_without(connection, list(views), list(sources))  # checked again under the lock
            standing = {
                position_key(name, upstream): (head, fingerprints[name])
                for name in views
                for upstream, head in heads.items()
            }
            _add_position_rows(connection, standing)
            fresh.swap(connection, standing)
            for builder in builders.values():
                after_swap = getattr(builder, "after_swap", None)
                if after_swap is not None:  # optional: what a view does once its new rows are live
                    after_swap(connection)
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


def _add_position_rows(connection: Connection, keys: Mapping[str, tuple[int, str]]) -> None:
    """A row for each position key that has none yet (an upstream whose runner has not started):
    the swap sets positions by updating rows, and without one that upstream's runner would start
    from 0 and apply the folded events again."""
    query = select(positions.c.view).where(positions.c.view.in_(list(keys)))
    present = set(connection.execute(query).scalars())
    missing = [{"view": key, "position": 0, "schema": keys[key][1]} for key in keys if key not in present]
    if missing:
        connection.execute(insert(positions), missing)


def _drop_quietly(fresh: FreshTables) -> None:
    """After a failure, remove the half-built tables if the database lets us; if it does not
    (it may be what failed), the next rebuild drops them."""
    try:
        fresh.drop()
    except Exception as error:  # the original failure matters more; this one is only logged
        log.warning("could not drop a failed rebuild's tables: %s", error)
