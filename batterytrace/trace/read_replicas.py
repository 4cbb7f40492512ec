"""Which database a read of the views runs on: a streaming hot standby of the views' database
(``BATTERYTRACE_READ_DATABASE_URLS``) when one is up and close enough to the primary, else the
views' database itself (the primary).

Queries, the public page and reports are most of the service's load, and PostgreSQL's own
physical replication already keeps standbys byte-for-byte copies of the views, so nothing here
copies data: this module only decides, per read, whether a standby may answer it.

- It must answer and be a standby (``pg_is_in_recovery()``): one that was promoted may have
  taken writes of its own, so it is no copy of the views any more.
- It must not lag more than ``BATTERYTRACE_READ_MAX_LAG_SECONDS``. The lag is measured against
  the primary with this process's clock only, so no clock skew between servers can hide it: each
  check notes the primary's WAL flush position and the moment just before it was read; a standby
  whose replay position has passed a noted one holds everything the primary had at that moment.
  Its lag is the time since the latest such moment and grows between checks, so a standby that
  stops replaying (or a process that stopped checking) is skipped once the bound has passed.
- A read naming a write (``?after=``) goes to a standby only once the standby's copy of the views'
  positions includes that write, after a short wait (``REPLICA_WAIT_SECONDS``); else the primary
  answers, so read-your-writes holds whatever the standby's lag.

Checks run in a background thread, at most once every ``CHECK_SECONDS``, started by the reads
themselves (and ``/readyz``, ``/metrics``), so no request waits for one. A standby that refuses a
connection is marked down at once, and the connection its pool was opening goes to the primary
instead (so a request that chose it a moment before is still answered); it is tried again at the
next check. Only reads come here: writes, and the view follower, use the primary's engine alone.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError

from batterytrace.projections.database import create_view_engine
from batterytrace.projections.tables import positions
from batterytrace.store import ConfigurationError, parse_database_url, postgres_schema

log = logging.getLogger(__name__)

SETTING = "BATTERYTRACE_READ_DATABASE_URLS"
CHECK_SECONDS = 1.0  # how often standbys are checked (each process, while it serves reads)
CONNECT_TIMEOUT_SECONDS = 2  # a standby that does not answer within this is down
REPLICA_WAIT_SECONDS = 1.0  # ?after=: how long a read waits for a standby before the primary answers
POLL_SECONDS = 0.02  # how often a waiting read looks at a standby's views position
APPLICATION_NAME = "batterytrace-read"  # how the service's sessions show in pg_stat_activity
_TARGET = ("host", "port", "dbname", "user", "password")  # the connection parameters naming a server


@dataclass(frozen=True)
class ReplicaStatus:
    """One standby as the last check (and any failure since) left it."""

    name: str  # host:port, from the setting
    state: str  # ok | lagging | down | not-standby | unchecked
    lag_seconds: float | None  # at most this far behind the primary; None: never seen caught up
    position: int | None  # the views' position the standby had replayed at its last check
    detail: str = ""

    @property
    def usable(self) -> bool:
        return self.state == "ok"

    def as_json(self) -> dict[str, Any]:
        lag = None if self.lag_seconds is None else round(self.lag_seconds, 3)
        shown = {"replica": self.name, "state": self.state, "lag_seconds": lag, "position": self.position}
        return {**shown, "detail": self.detail} if self.detail else shown


def lsn_number(lsn: str | None) -> int | None:
    """A ``pg_lsn`` as text (``16/B374D848``) as one comparable number."""
    if not lsn:
        return None
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


class Replica:
    """One standby: its engine for reads, and what is known of its state."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        schema: str | None,
        fallback: dict[str, Any],
        view_names: Sequence[str],
        clock: Callable[[], float],
    ) -> None:
        self.name = name
        self.engine = create_view_engine(url, setting=SETTING)
        self.schema = schema
        self.view_names = list(view_names)
        self._clock = clock
        self._fallback_target = fallback  # the primary's host, port, dbname, user, password
        self._fallbacks: weakref.WeakSet[Any] = weakref.WeakSet()  # pool connections on the primary
        self._lock = threading.Lock()
        self._state = "unchecked"
        self._detail = ""
        self._fresh_as_of: float | None = None  # the last moment of the primary it had replayed
        self._position: int | None = None
        self._check_connection: Any = None  # psycopg connection, used by the checking thread only
        self._position_lock: asyncio.Lock | None = None
        self._position_read: tuple[float, int | None] = (float("-inf"), None)
        self._install_failover()

    # ------------------------------------------------------------------------------- state
    def status(self, max_lag: float) -> ReplicaStatus:
        now = self._clock()
        with self._lock:
            state, detail, fresh, position = self._state, self._detail, self._fresh_as_of, self._position
        lag = None if fresh is None else max(now - fresh, 0.0)
        if state == "ok" and (lag is None or lag > max_lag):
            state = "lagging"
            detail = f"more than {max_lag:g} s behind the primary"
        return ReplicaStatus(self.name, state, lag, position, detail)

    def mark_down(self, reason: str) -> None:
        with self._lock:
            was = self._state
            self._state, self._detail = "down", reason
        if was != "down":
            log.warning("read replica %s is down, reads go elsewhere: %s", self.name, reason)

    @property
    def up(self) -> bool:
        """The last check found it answering as a standby (whatever its lag)."""
        return self._state == "ok"

    # ------------------------------------------------------------------------------- checks
    def check(self, samples: Sequence[tuple[float, int]]) -> None:
        """Read the standby's replay position and views' position, and from ``samples`` (the
        primary's (moment, WAL flush position) pairs, oldest first) how fresh it is. Runs in the
        checking thread."""
        import psycopg

        try:
            if self._check_connection is None or self._check_connection.closed:
                self._check_connection = self._connect_for_check()
            standby, replayed, position = self._check_connection.execute(
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
                f"(SELECT min(position) FROM {positions.name} WHERE view = ANY(%s))",
                (self.view_names,),
            ).fetchone()
        except psycopg.Error as error:
            self._close_check_connection()
            self.mark_down(_first_line(error))
            return
        if not standby:
            with self._lock:
                self._state, self._detail = "not-standby", "not in recovery: promoted, or not a standby"
            return
        replay = lsn_number(replayed) or 0
        fresh = max((moment for moment, flushed in samples if flushed <= replay), default=None)
        with self._lock:
            if self._state != "ok":
                log.info("read replica %s answers again", self.name)
            self._state, self._detail = "ok", ""
            if fresh is not None and (self._fresh_as_of is None or fresh > self._fresh_as_of):
                self._fresh_as_of = fresh
            self._position = None if position is None else int(position)

    def _connect_for_check(self) -> Any:
        """A connection of the checking thread's own, outside the pool (whose connections may
        have gone to the primary), with a short time-out and the views' schema."""
        import psycopg

        _cargs, params = self.engine.dialect.create_connect_args(self.engine.url)
        if self.schema:
            params["options"] = f"-c search_path={self.schema}"
        application = f"{APPLICATION_NAME}-check"
        return psycopg.connect(
            **params, connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name=application, autocommit=True
        )

    def _close_check_connection(self) -> None:
        connection, self._check_connection = self._check_connection, None
        if connection is not None:
            with suppress(Exception):  # already broken: nothing to close
                connection.close()

    # -------------------------------------------------------------- failing over mid-request
    def _install_failover(self) -> None:
        """A connection the pool opens while the standby refuses goes to the primary (and marks
        the standby down); once the standby is back, such a connection is replaced on checkout.
        A connection found broken (the standby stopped under it) marks it down at once."""
        replica = self

        @event.listens_for(self.engine, "do_connect")
        def _connect(dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
            cparams.setdefault("application_name", APPLICATION_NAME)
            cparams["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
            try:
                return dialect.connect(*cargs, **cparams)
            except dialect.loaded_dbapi.OperationalError as error:
                replica.mark_down(_first_line(error))
                options = {k: v for k, v in cparams.items() if k not in _TARGET}
                connection = dialect.connect(*cargs, **options, **replica._fallback_target)
                replica._fallbacks.add(connection)
                return connection

        @event.listens_for(self.engine, "checkout")
        def _checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            if dbapi_connection in replica._fallbacks and replica.up:
                raise DisconnectionError(f"read replica {replica.name} is back; reconnecting to it")

        @event.listens_for(self.engine, "handle_error")
        def _failed(context: Any) -> None:
            connection = getattr(context.connection, "connection", None)
            dbapi = getattr(connection, "dbapi_connection", None)
            if context.is_disconnect and dbapi not in replica._fallbacks:
                replica.mark_down(_first_line(context.original_exception))

    # ------------------------------------------------------------- read-your-writes (?after=)
    async def reached(self, notification_id: int, timeout: float) -> bool:
        """True once the standby's views include ``notification_id``; waits on the event loop
        (no worker thread held) for at most ``timeout``, sharing one read per poll among all the
        waiting requests, as ``ViewRunner.views_reached`` does on the primary."""
        deadline = time.monotonic() + timeout
        while True:
            position = await self._shared_position()
            if position is not None and position >= notification_id:
                return True
            remaining = deadline - time.monotonic()
            if position is None or remaining <= 0:
                return False
            await asyncio.sleep(min(POLL_SECONDS, remaining))

    async def _shared_position(self) -> int | None:
        if self._position_lock is None:
            self._position_lock = asyncio.Lock()
        async with self._position_lock:
            read_at, position = self._position_read
            if time.monotonic() - read_at >= POLL_SECONDS:
                position = await anyio.to_thread.run_sync(self._read_position)
                self._position_read = (time.monotonic(), position)
            return position

    def _read_position(self) -> int | None:
        """The views' position on the standby; None when it cannot be read there (down, or the
        pool's connection went to the primary)."""
        try:
            with self.engine.connect() as connection:
                least = select(func.min(positions.c.position)).where(positions.c.view.in_(self.view_names))
                standby, position = connection.execute(
                    select(func.pg_is_in_recovery(), least.scalar_subquery())
                ).one()
        except Exception as error:  # any failure: the primary answers this read
            log.info("reading read replica %s's position failed: %s", self.name, _first_line(error))
            return None
        return int(position) if standby and position is not None else None

    def close(self) -> None:
        self._close_check_connection()
        self.engine.dispose()


class ReadReplicas:
    """The standbys of the views' database, and the choice of one for each read."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        primary: Engine,
        views_url: str,
        view_names: Sequence[str],
        max_lag_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if primary.dialect.name != "postgresql":
            raise ConfigurationError(
                f"{SETTING} names read replicas, but the views are not in PostgreSQL; leave it unset"
            )
        self.primary = primary
        self.max_lag_seconds = max_lag_seconds
        self._clock = clock
        fallback = _target(primary.dialect.create_connect_args(primary.url)[1])
        schema = postgres_schema(parse_database_url(views_url))
        names = _names([parse_database_url(url) for url in urls])
        self.replicas = [
            Replica(
                name,
                _with_schema(url, schema),
                schema=postgres_schema(parse_database_url(_with_schema(url, schema))),
                fallback=fallback,
                view_names=view_names,
                clock=clock,
            )
            for name, url in zip(names, urls, strict=True)
        ]
        self._turn = itertools.count()
        self._samples: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()
        self._checking = False
        self._checked_at = float("-inf")

    # ---------------------------------------------------------------------------- choosing
    def choose(self) -> Replica | None:
        """A usable standby (in turn, to spread the reads), or None: the primary answers."""
        self.check_soon()
        usable = [r for r in self.replicas if r.status(self.max_lag_seconds).usable]
        if not usable:
            return None
        return usable[next(self._turn) % len(usable)]

    async def replica_for(self, after: int | None, *, wait: float = REPLICA_WAIT_SECONDS) -> Replica | None:
        """The standby to answer a read, or None for the primary. A read naming a write
        (``after``) waits up to ``wait`` for the standby's views to include it."""
        replica = self.choose()
        if replica is None or after is None:
            return replica
        return replica if await replica.reached(after, timeout=wait) else None

    def status(self) -> list[ReplicaStatus]:
        """Each standby's state (``/readyz``, ``/metrics``), which also starts a check when due."""
        self.check_soon()
        return [replica.status(self.max_lag_seconds) for replica in self.replicas]

    # ----------------------------------------------------------------------------- checking
    def check_soon(self) -> None:
        """Start a check in the background when the last one is ``CHECK_SECONDS`` old and none
        is running."""
        with self._lock:
            if self._checking or self._clock() - self._checked_at < CHECK_SECONDS:
                return
            self._checking = True
        threading.Thread(target=self._check_in_background, name="read-replica-check", daemon=True).start()

    def _check_in_background(self) -> None:
        try:
            self.check()
        except Exception:  # a check must never end the process; the next one tries again
            log.exception("checking the read replicas failed")
        finally:
            with self._lock:
                self._checking = False
                self._checked_at = self._clock()

    def check(self) -> None:
        """Note the primary's WAL flush position, then check every standby against the noted
        ones (the primary's first: a standby is then measured against a position it can have).
        One check at a time: each standby's check connection is used by one thread only."""
        with self._check_lock:
            self._check()

    def _check(self) -> None:
        before = self._clock()
        try:
            with self.primary.connect() as connection:
                flushed = connection.execute(text("SELECT pg_current_wal_flush_lsn()::text")).scalar()
            self._samples.append((before, lsn_number(flushed) or 0))
        except Exception as error:  # the standbys' lag then grows until the primary answers again
            log.warning("reading the primary's WAL position failed: %s", _first_line(error))
        horizon = before - self.max_lag_seconds - 10 * CHECK_SECONDS
        while self._samples and self._samples[0][0] < horizon:
            self._samples.popleft()
        samples = list(self._samples)
        for replica in self.replicas:
            replica.check(samples)

    def close(self) -> None:
        for replica in self.replicas:
            replica.close()


def _target(params: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in params.items() if key in _TARGET}


def _names(urls: Sequence[URL]) -> list[str]:
    """host:port for each standby (the label of its metrics), numbered when two are alike."""
    names = [f"{url.host or 'localhost'}:{url.port or 5432}" for url in urls]
    return [
        f"{name}#{names[:i].count(name) + 1}" if names.count(name) > 1 else name
        for i, name in enumerate(names)
    ]


def _with_schema(url: str, schema: str | None) -> str:
    """A standby is a copy of the views' database: without a ``?schema=`` of its own it reads the
    views' schema."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(f"{SETTING}: {parsed.render_as_string()!r} is not a PostgreSQL URL")
    if schema and not parsed.query.get("schema"):
        parsed = parsed.update_query_dict({"schema": schema})
    return parsed.render_as_string(hide_password=False)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
