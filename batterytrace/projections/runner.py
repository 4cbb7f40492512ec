"""Keeps the views up to date with the event store, exactly once per event.

How: a view reads the store's notification log in batches after the position it has reached,
applies the batch, and moves its position forward in the same database transaction, with a
compare-and-set (``UPDATE … WHERE position = <the one read>``). A crash rolls back the rows and the
position together, so no event is applied twice or skipped; a second runner started by mistake on
the same view fails the compare-and-set, rolls back, and re-reads (its batch is not applied).
A view may compute part of a batch before that transaction, from a read-only snapshot
(``PreparingView``: the ledger's records and hashes, so that SQLite's write lock is not held for
them); it writes nothing then, and checks in the transaction that what it computed still holds.

The views may be in a database of their own (``BATTERYTRACE_VIEWS_DATABASE_URL``): the runner
reads the store through the application and writes only the views' database, so the transaction
above never spans two databases, and exactly-once holds as it does in one (``database.py`` says why).

Several event stores (the write side split by manufacturer code or province, README "Past one
primary") are followed by one runner each (``upstream``: its name), into the same views: each
(view, upstream) pair has its own position row (``event_source.position_key``), moved by
compare-and-set with the rows as above, so each pair is exactly-once on its own. The stores hold
disjoint aggregates, so their events fold into the views in any interleaving. Rows they share (a
participant, a manufacturer's month under a province split) are still written by one transaction
at a time, as with one upstream: an upstream's batch first locks the default upstream's position
row, which that runner's compare-and-set locks too, so no read-then-write of a shared row is lost
and no two multi-row upserts deadlock.

Why not the library's ``ProjectionRunner``: in eventsourcing 9.5 the SQLite recorder cannot
``subscribe()``, and batterytrace must behave the same on SQLite and PostgreSQL. Reading the
notification log works on both; it is one code path. On PostgreSQL the library sends
``NOTIFY <events table>`` on every insert, which ``follow`` listens to so that it wakes early
(``store_listener``); otherwise it polls.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, cast

import anyio.to_thread
from sqlalchemy import Connection, Engine, func, insert, or_, select, text, update

from batterytrace.events.working_days import WorkingCalendar
from batterytrace.projections.database import open_view_engine, read_session
from batterytrace.projections.event_source import EventSource, WrittenHeads, checked_upstream, position_key
from batterytrace.projections.freshness import SETTINGS_SEPARATOR, calendar_fingerprint
from batterytrace.projections.ledger_view import LedgerView
from batterytrace.projections.lifecycle_view import LifecycleView
from batterytrace.projections.network_view import NetworkView
from batterytrace.projections.rebuild import (
    SCHEMA_LOCK_KEY,
    has_setwise_rebuild,
    rebuild_setwise,
    refuse_without,
)
from batterytrace.projections.reports_view import ReportsView
from batterytrace.projections.store_listener import NotificationWaiter
from batterytrace.projections.tables import VIEW_TABLES, VIEWS, metadata, positions, schema_fingerprint
from batterytrace.sqlite_turn import SQLiteTurn
from batterytrace.store import StoreUnavailable

log = logging.getLogger(__name__)
DEFAULT_BATCH_SIZE = 1000
COALESCE_SECONDS = 0.05  # see ViewRunner.follow
# The ledger signs one store's history, its leaves numbered by that store's notification ids: it
# follows the default upstream only (each store that wants one keeps its own views database).
DEFAULT_UPSTREAM_ONLY = frozenset({"ledger"})


class View(Protocol):
    name: str

    def apply(self, connection: Connection, events: Sequence[tuple[int, Any]]) -> None: ...


class PreparingView(View, Protocol):
    """A view that does part of a batch's work before the runner's write transaction
    (``ViewRunner._prepare``): ``prepare`` reads, without locking, and computes; ``apply_prepared``
    writes what it computed when that still holds, or does the whole batch as ``apply`` does."""

    def prepare(self, connection: Connection, events: Sequence[tuple[int, Any]]) -> Any: ...

    def apply_prepared(
        self, connection: Connection, events: Sequence[tuple[int, Any]], prepared: Any
    ) -> None: ...


class PositionMoved(Exception):
    """Another runner advanced this view first; the batch was rolled back and will be re-read."""


@dataclass(frozen=True)
class ViewStatus:
    view: str
    position: int
    head: int  # of the runner's upstream: notification ids are numbered by each store apart
    upstream: str | None = None  # None: the default one

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)


def default_views(
    calendar: WorkingCalendar | None = None, *, store_url: str | None = None
) -> dict[str, View]:
    """The four views; ``store_url``: the event store's database, where the ledger's signing key
    is found by default (``ledger_config``: the key signs the store's history, wherever the views
    are). ``BATTERYTRACE_LEDGER=off`` leaves the tamper-evidence log out (to measure what it costs
    scans, ``python -m bench``; or an installation that wants no log: its ledger routes then find
    no checkpoint)."""
    calendar = calendar or WorkingCalendar()
    views: dict[str, View] = {
        "lifecycle": LifecycleView(calendar),
        "network": NetworkView(),
        "reports": ReportsView(calendar),
    }
    if os.environ.get("BATTERYTRACE_LEDGER", "on").strip().lower() != "off":
        views["ledger"] = LedgerView(store_url=store_url)
    return views


class ViewRunner:
    """Brings views up to date: once (``catch_up``), from scratch (``rebuild``) or continuously
    (``follow``), from ``app``: the application, or any other ``EventSource``; ``upstream``
    names it when the views follow several stores (None: the default one, whose position rows
    are the views' own names)."""

    def __init__(
        self,
        app: EventSource,
        *,
        engine: Engine | None = None,
        views: dict[str, View] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        upstream: str | None = None,
    ) -> None:
        self.app = app
        self.upstream = checked_upstream(upstream)
        self.engine = engine or open_view_engine(app.settings)
        self.views = views or default_views(
            app.settings.working_calendar(), store_url=app.settings.database_url
        )
        if self.upstream is not None:
            if views and DEFAULT_UPSTREAM_ONLY & set(views):
                from batterytrace.store import InvalidSetting

                raise InvalidSetting(
                    f"the {', '.join(sorted(DEFAULT_UPSTREAM_ONLY & set(views)))} view follows the "
                    f"default upstream only, not {self.upstream!r}: it signs one store's history"
                )
            self.views = {n: v for n, v in self.views.items() if n not in DEFAULT_UPSTREAM_ONLY}
        self.batch_size = batch_size
        # the follower's write transactions take turns with the service's saves when both write
        # one SQLite file (``sqlite_turn.py``): each wakes as soon as the other commits
        sqlite_file = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        self._turn = SQLiteTurn(sqlite_file)
        self._position_lock = asyncio.Lock()  # see views_reached
        self._position_read = (float("-inf"), 0)  # (when, views position)
        self.ensure_tables()

    # ------------------------------------------------------------------------------ tables
    def ensure_tables(self) -> None:
        """Create what is missing, and reset any view whose tables this release defines
        differently, or that was built with other settings (``build_fingerprint``); the next
        catch-up then rebuilds it from the events. One transaction under a lock, so that runners
        starting together do not race each other."""
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            if not _has_current_positions_table(connection):
                positions.drop(connection, checkfirst=True)
            metadata.create_all(connection)
            known = {
                row.view: row.schema
                for row in connection.execute(select(positions.c.view, positions.c.schema))
            }
            for name in VIEWS:
                fingerprint = self.build_fingerprint(name)
                if name not in known:  # no position: whatever its tables hold is unknown; empty them
                    connection.execute(
                        insert(positions), [{"view": name, "position": 0, "schema": fingerprint}]
                    )
                    _reset_view(connection, name, fingerprint)
                    continue
                reason = _why_rebuild(known[name], fingerprint, name in self.views)
                if reason is None and not _columns_match(connection, name):
                    reason = "its tables are those of an older release"
                if reason is not None:
                    log.warning("view %s: %s; rebuilding it from the events", name, reason)
                    _reset_view(connection, name, fingerprint)
            if self.upstream is not None:
                self._add_upstream_rows(connection)

    def _add_upstream_rows(self, connection: Connection) -> None:
        """This upstream's position rows, at 0, for the views that have none: its events are
        then applied from the first, beside the rows the other upstreams put there."""
        keys = {position_key(name, self.upstream): name for name in self.views}
        present = set(
            connection.execute(select(positions.c.view).where(positions.c.view.in_(list(keys)))).scalars()
        )
        fingerprints = {
            row.view: row.schema
            for row in connection.execute(
                select(positions.c.view, positions.c.schema).where(positions.c.view.in_(list(self.views)))
            )
        }
        missing = [
            {"view": key, "position": 0, "schema": fingerprints[name]}
            for key, name in keys.items()
            if key not in present
        ]
        if missing:
            connection.execute(insert(positions), missing)

    def key(self, name: str) -> str:
        """``name``'s position row for this runner's upstream."""
        return position_key(name, self.upstream)

    def build_fingerprint(self, name: str) -> str:
        """What the view's rows were built from besides the events, as stored beside its
        position: its tables' definitions, and the settings its rows depend on (see
        ``settings_fingerprint``). A view this runner does not run keeps its tables' part only."""
        view = self.views.get(name)
        settings = settings_fingerprint(view) if view is not None else ""
        tables = schema_fingerprint(name)
        return f"{tables}{SETTINGS_SEPARATOR}{settings}" if settings else tables

    def _check_view(self, name: str) -> None:
        if name not in self.views:
            from batterytrace.events.errors import InvalidInput

            raise InvalidInput(f"unknown view {name!r}; the views are {', '.join(self.views)}")

    # ------------------------------------------------------------------------------ status
    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def position(self, name: str) -> int:
        """Where ``name`` stands in this runner's upstream."""
        return self.positions([name])[name]

    def positions(self, names: Sequence[str]) -> dict[str, int]:
        """Where each of ``names`` stands in this runner's upstream: one query, in a read session.

        Why one, read-only: the follower asks before every batch; on SQLite a connection costs
        about half a millisecond of CPU to open (``NullPool``, its pragmas), and a plain one begins
        IMMEDIATE, taking the database's write lock (which the scans wait for) just to read."""
        with read_session(self.engine) as connection:
            return self._positions_on(connection, names)

    def _positions_on(self, connection: Connection, names: Sequence[str]) -> dict[str, int]:
        keys = {self.key(name): name for name in names}
        rows = connection.execute(
            select(positions.c.view, positions.c.position).where(positions.c.view.in_(list(keys)))
        )
        found = {keys[row.view]: int(row.position or 0) for row in rows}
        return {name: found.get(name, 0) for name in names}

    def status(self) -> list[ViewStatus]:
        """Each view's position and lag in this runner's upstream (each upstream's runner
        answers for its own: no store can read another's head)."""
        head = self.head()
        at = self.positions(list(self.views))
        return [ViewStatus(name, at[name], head, self.upstream) for name in self.views]

    # ---------------------------------------------------------------------------- catching up
    def catch_up(
        self,
        names: Sequence[str] | None = None,
        *,
        progress: Callable[[str, int], None] | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """Process every event stored so far; return how many were applied (summed over views).

        Views that stand at the same position share each batch: it is read and decoded once and
        applied to all of them in one transaction. A view that is behind (just rebuilt) runs
        alone until it has caught up with the others."""
        names = list(names or self.views)
        for name in names:
            self._check_view(name)
        applied = 0
        while not (stop and stop.is_set()):
            with self._snapshot() as reader:  # positions and prepare read together: see _process
                at = self._positions_on(reader, names)
                start = min(at.values())
                group = [name for name in names if at[name] == start]
                try:
                    done = self._process(group, start, reader)
                except PositionMoved as moved:
                    log.info("view %s was advanced by another runner; its batch was rolled back", moved)
                    continue
            if not done:
                break
            applied += done * len(group)
            if progress:
                for name in group:
                    progress(name, done)
        return applied

    def process_batch(self, name: str) -> int:
        """Apply the next batch of events to one view; 0 when it is up to date."""
        self._check_view(name)
        try:
            return self._process([name], self.position(name))
        except PositionMoved:
            return 0

    def _process(self, names: list[str], start: int, reader: Connection | None = None) -> int:
        """One batch after ``start`` for views that all stand at ``start``: rows and positions
        in one transaction, each position moved by compare-and-set.

        ``reader``: the read snapshot ``start`` was read from (``catch_up``), in which the views
        that can prepare the batch (``_prepare``) read what they need: one connection for both
        (on SQLite each new one costs about half a millisecond of CPU), and what is prepared was
        read at ``start`` itself. The snapshot is ended before the write transaction begins."""
        notifications = self.app.recorder.select_notifications(start=start + 1, limit=self.batch_size)
        if not notifications:
            return 0
        events = [(n.id, self.app.mapper.to_domain_event(n)) for n in notifications]
        if reader is None:
            with self._snapshot() as own:
                prepared = self._prepare(own, names, events)
        else:
            prepared = self._prepare(reader, names, events)
            reader.rollback()
        # connected before the turn (a new SQLite connection costs ~0.5 ms), closed after it
        with self.engine.connect() as connection, self._turn, connection.begin():
            if self.upstream is not None:  # one writer at a time per view: see the module's docstring
                locked = [name for name in VIEWS if name in names]
                connection.execute(
                    select(positions.c.view)
                    .where(positions.c.view.in_(locked))
                    .order_by(positions.c.view)
                    .with_for_update()
                )
            for name in names:
                moved = connection.execute(
                    update(positions)
                    .where(positions.c.view == self.key(name), positions.c.position == start)
                    .values(position=notifications[-1].id)
                )
                if moved.rowcount != 1:
                    raise PositionMoved(name)  # rolls back this transaction: nothing applied
                if name in prepared:
                    cast(PreparingView, self.views[name]).apply_prepared(connection, events, prepared[name])
                else:
                    self.views[name].apply(connection, events)
        return len(events)

    def _prepare(self, reader: Connection, names: list[str], events: list[tuple[int, Any]]) -> dict[str, Any]:
        """What the views that can (``PreparingView``: the ledger's records and hashes) compute
        for the batch before the write transaction, read from ``reader`` (a snapshot, no lock).

        Why: on SQLite the write transaction holds the database's write lock, which every insert
        of the event store waits for; work done before it does not stall scans. Exactly-once is
        untouched: nothing is written here, the transaction still moves each position by
        compare-and-set, and ``apply_prepared`` checks in it that what was prepared still
        holds (else computes the batch again), so a batch prepared before another runner, a
        rebuild or a reset moved the view is never written stale. A batch rolled back
        (``PositionMoved``, a crash) is prepared again when it is next read."""
        views = {
            name: cast(PreparingView, self.views[name])
            for name in names
            if getattr(self.views[name], "prepare", None) is not None
        }
        return {name: view.prepare(reader, events) for name, view in views.items()}

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """A read session whose reads all see one snapshot: SQLite's deferred transaction does
        (WAL), PostgreSQL's needs REPEATABLE READ (READ COMMITTED sees each statement's own)."""
        with read_session(self.engine) as connection:
            if connection.dialect.name == "postgresql":
                connection.execution_options(isolation_level="REPEATABLE READ")
            yield connection

    def rebuild(
        self,
        names: Sequence[str] | None = None,
        *,
        progress: Callable[[str, int], None] | None = None,
        upstreams: dict[str | None, EventSource] | None = None,
        written: WrittenHeads | None = None,
    ) -> int:
        """Rebuild the views from the first event; return the events applied (summed over views).

        Views that have a set-wise rebuild (``builder``) are rebuilt together in memory into
        fresh tables that replace theirs in one transaction with their position (``rebuild``
        module): until then readers see the old rows, and a failure leaves them and the position
        as they were. Any other view is emptied (drop, create, position 0: one transaction, so a
        crash never leaves empty tables at an old position) and caught up batch by batch. Events
        stored meanwhile are then applied by ``catch_up``.

        Views that follow several stores: ``upstreams`` (name -> source; None names the default)
        are the other stores, folded set-wise after this runner's own; a set-wise rebuild that
        would leave out the events of an upstream the views hold is refused
        (``RebuildNeedsUpstreams``). A follower's-path rebuild resets every upstream's position,
        so each upstream's runner applies its events again.

        ``written``: the store is still being filled by a writer that tells its heads; the
        set-wise fold follows it to the head it finishes at (``trace/views_alongside.py``)."""
        names = list(names or self.views)
        for name in names:
            self._check_view(name)
        upstreams = {u: s for u, s in (upstreams or {}).items() if u != self.upstream}
        setwise = {n: self.views[n] for n in names if has_setwise_rebuild(self.views[n])}
        applied = 0
        if setwise:
            own = {n: v for n, v in setwise.items() if upstreams and n in DEFAULT_UPSTREAM_ONLY}
            shared = {n: v for n, v in setwise.items() if n not in own}
            with self.engine.connect() as connection:  # refused before the work; again at the swap
                refuse_without(connection, list(shared), [self.upstream, *upstreams])
                refuse_without(connection, list(own), [self.upstream])
            for group, others in ((own, None), (shared, upstreams)):
                if group:
                    fingerprints = {name: self.build_fingerprint(name) for name in group}
                    applied += rebuild_setwise(
                        self.app,
                        self.engine,
                        group,  # type: ignore[arg-type]
                        fingerprints,
                        progress=progress,
                        upstream=self.upstream,
                        upstreams=others,
                        written=written,
                    )
        for name in names:
            if name in setwise:
                continue
            with self.engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
                _reset_view(connection, name, self.build_fingerprint(name))
        return applied + self.catch_up(names, progress=progress)

    # --------------------------------------------------------------------------- following
    def follow(
        self, stop: threading.Event, *, poll_seconds: float = 0.5, gather_seconds: float = COALESCE_SECONDS
    ) -> None:
        """Keep the views up to date until ``stop`` is set (the service's in-process follower and
        ``batterytrace projections run``).

        After a partial batch the follower waits ``gather_seconds`` before reading again, so that
        under a steady stream of writes (scans) it applies batches of many events in one
        transaction each instead of one transaction per event; views then trail the store by
        that long at most, and ``?after=`` readers wait for it."""
        waiter = NotificationWaiter.for_app(self.app)
        try:
            while not stop.is_set():
                try:
                    applied = self.catch_up(stop=stop)
                except Exception:  # keep following through a database outage; log it
                    log.exception("projection follower failed; retrying")
                    applied = 0
                    stop.wait(2.0)
                if not applied:
                    waiter.wait(stop, poll_seconds)
                elif applied < self.batch_size:
                    stop.wait(gather_seconds)
        finally:
            waiter.close()

    def wait_until(self, notification_id: int, timeout: float = 5.0) -> bool:
        """Read-your-writes: True once every view includes ``notification_id``."""
        deadline = time.monotonic() + timeout
        while True:
            if all(s.position >= notification_id for s in self.status()):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(WAIT_POLL_SECONDS)

    # ------------------------------------------------------- waiting on the event loop (HTTP)
    def views_position(self) -> int:
        """The notification id (of this runner's upstream) every view includes (the least
        position): one query."""
        keys = [self.key(name) for name in self.views]
        with self.engine.connect() as connection:
            value = connection.execute(
                select(func.min(positions.c.position)).where(positions.c.view.in_(keys))
            ).scalar()
        return int(value or 0)

    async def store_head(self) -> int:
        """The store's newest notification id (one indexed ``max``), read in a worker thread; a
        database that does not answer is ``StoreUnavailable`` (503)."""
        try:
            return await anyio.to_thread.run_sync(self.head)
        except Exception as error:
            log.warning("reading the store head failed: %s", _first_line(error))
            raise StoreUnavailable("the event store is unavailable; retry shortly") from None

    async def views_reached(self, notification_id: int, timeout: float) -> bool:
        """``wait_until`` for the event loop: sleeps without holding a worker thread, and all
        waiters share one position read per poll interval, so a thousand waiting requests cost
        the database what one does."""
        deadline = time.monotonic() + timeout
        while await self._shared_views_position() < notification_id:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(WAIT_POLL_SECONDS, remaining))
        return True

    async def _shared_views_position(self) -> int:
        async with self._position_lock:
            read_at, position = self._position_read
            if time.monotonic() - read_at >= WAIT_POLL_SECONDS:
                try:
                    position = await anyio.to_thread.run_sync(self.views_position)
                except Exception as error:
                    log.warning("reading the views' position failed: %s", _first_line(error))
                    raise StoreUnavailable("the views database is unavailable; retry shortly") from None
                self._position_read = (time.monotonic(), position)
            return position


WAIT_POLL_SECONDS = 0.02  # how often a read-your-writes wait looks at the views' positions


def settings_fingerprint(view: View) -> str:
    """A short digest of the settings a view's rows depend on, or "" for a view that depends on
    none. A view holding a working calendar (``lifecycle``: late-report flags, ``reports``: the
    findings) depends on the reporting deadline table, the public holidays and the working
    weekends (``freshness.calendar_fingerprint``): change any of them and the rows built before
    hold findings the new settings would not give (or miss ones they would), so the view must be
    rebuilt. The overdue report's days are applied when it is read, not stored."""
    calendar = getattr(view, "calendar", None)
    return calendar_fingerprint(calendar) if isinstance(calendar, WorkingCalendar) else ""


def _why_rebuild(stored: str, expected: str, runs_here: bool) -> str | None:
    """Why a view whose position row holds ``stored`` must be rebuilt to be ``expected``; None
    when it need not. A view this runner does not run is compared by its tables only."""
    stored_tables, _, stored_settings = stored.partition(SETTINGS_SEPARATOR)
    tables, _, settings = expected.partition(SETTINGS_SEPARATOR)
    if stored_tables != tables:
        return "its tables are those of an older release"
    if runs_here and stored_settings != settings:
        if not stored_settings:
            return "the settings it was built with are not recorded (built by an earlier release)"
        return (
            "it was built with other settings (BATTERYTRACE_DEADLINES, BATTERYTRACE_HOLIDAYS or "
            "BATTERYTRACE_WORKING_WEEKENDS changed, or the release's default deadlines did)"
        )
    return None


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _has_current_positions_table(connection: Connection) -> bool:
    names = {c["name"] for c in _columns(connection, positions.name)}
    return not names or "schema" in names


def _columns(connection: Connection, table: str) -> list[dict[str, Any]]:
    from sqlalchemy import inspect

    inspector = inspect(connection)
    return inspector.get_columns(table) if inspector.has_table(table) else []


def _columns_match(connection: Connection, view: str) -> bool:
    """The view's tables in the database have the columns this release defines."""
    return all(
        {c["name"] for c in _columns(connection, table.name)} == {c.name for c in table.columns}
        for table in VIEW_TABLES[view]
    )


def _reset_view(connection: Connection, name: str, fingerprint: str) -> None:
    """Empty the view's tables, and every upstream's position with them (each from the first)."""
    tables = VIEW_TABLES[name]
    metadata.drop_all(connection, tables=tables)
    metadata.create_all(connection, tables=tables)
    connection.execute(
        update(positions)
        .where(
            or_(
                positions.c.view == name,
                positions.c.view.startswith(position_key(name, ""), autoescape=True),
            )
        )
        .values(position=0, schema=fingerprint)
    )
