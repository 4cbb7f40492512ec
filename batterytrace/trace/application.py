"""The application service: the only way into the write side, for the CLI, the importer and HTTP.

It loads the aggregates a command needs (the battery, the acting participant, the collection point,
the receiver), lets the domain decide, and saves every changed aggregate in one transaction. The
store's unique (stream, version) key gives optimistic concurrency: of two writers that read the same
version of a battery, exactly one saves; the other gets ``ConcurrentWrite``.

About 530 lines: the one way in keeps opening the store, loading (one stream, or several in one
statement: ``load_together``), committing, producing (with its replay rule), ``execute`` and the
API keys' entry points together; the registry of participants
and points is a mixin of its own (``registry.py``), the lifecycle handlers are ``battery_commands.py``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)

from batterytrace.events.api_key import ApiKey, IssuedKey, key_stream_id, parse_token
from batterytrace.events.base import CHINA_STANDARD_TIME, TraceAggregate, as_aware
from batterytrace.events.battery import Battery, ProductionSpec, production_record
from batterytrace.events.battery_code import parse_battery_code
from batterytrace.events.collection_point import CollectionPoint, parse_collection_point_id
from batterytrace.events.commands import Command, VehicleCommand
from batterytrace.events.credit_code import parse_credit_code
from batterytrace.events.errors import (
    AlreadyExists,
    ConcurrentWrite,
    InvalidInput,
    LifecycleViolation,
    NotAuthenticated,
    NotAuthorised,
    NotFound,
)
from batterytrace.events.participant import (
    ManufacturerCodeClaim,
    Participant,
    claim_id,
)
from batterytrace.events.zone import in_china_time
from batterytrace.projections.database import open_view_engine
from batterytrace.sqlite_turn import SQLiteTurn
from batterytrace.store import (
    ConfigurationError,
    StoreUnavailable,
    describe_database,
    eventsourcing_env,
    store_setup_lock,
)
from batterytrace.trace import keys
from batterytrace.trace.batches import Batch, BatchResult, run_batch
from batterytrace.trace.battery_commands import Attempt, handler_for
from batterytrace.trace.group_commit import GroupCommit
from batterytrace.trace.registry import Registry
from batterytrace.trace.settings import Settings

A = TypeVar("A", bound=TraceAggregate)
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class WriteResult:
    """What a write did: the events it recorded (none for a replayed request) and the position of
    the last one in the store's notification log, which read models report having reached.

    ``saved`` holds the aggregates as they stand after the write and ``recorded`` the domain
    events themselves, so that a caller can answer from them without reading the store again."""

    events: list[str] = field(default_factory=list)
    notification_id: int | None = None
    replayed: bool = False
    saved: tuple[TraceAggregate, ...] = ()
    recorded: tuple[Any, ...] = ()

    def battery(self, code: str) -> Battery:
        """The battery ``code`` as this write left it (a replayed request: as it was saved)."""
        wanted = code.strip().upper()
        for aggregate in self.saved:
            if isinstance(aggregate, Battery) and aggregate.code == wanted:
                return aggregate
        raise LookupError(f"battery {wanted} is not among what this write saved")


class BatteryTrace(Registry, Application[str]):
    """Commands and queries over batteries, participants and collection points (the registry of
    participants and points is ``Registry``, in its own module)."""

    name = "BatteryTrace"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings or Settings.from_environment()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.recorded_listeners: list[Callable[[int], None]] = []
        self.identity_version = 0  # counts saves that changed a participant or an API key
        env = eventsourcing_env(self.settings.database_url)
        if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":  # why: postgres_recorder.py
            env["APPLICATION_RECORDER_TOPIC"] = "batterytrace.postgres_recorder:BinaryInsertRecorder"
        try:
            with store_setup_lock(self.settings.database_url):
                super().__init__(env=env)
        except (PersistenceError, OSError, sqlite3.Error) as error:  # the library lets some through
            raise ConfigurationError(
                f"cannot open the event store at {describe_database(self.settings.database_url)}: "
                f"{_first_line(error)}; check BATTERYTRACE_DATABASE_URL and that the database "
                "server is running"
            ) from None
        _bound_pool_wait(self.recorder)
        self._write_turns = WriteTurns(env.get("SQLITE_DBNAME"))
        self._group_commit = GroupCommit(
            lambda events: self._save_in_turn(*events), wait_seconds=TURN_WAIT_SECONDS
        )

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """The library's save, telling listeners (metrics) how many events were recorded. A save
        that changes a participant or an API key moves ``identity_version`` on, so that this
        process forgets the callers it authenticated recently (``api/deps.py``) at once. On SQLite
        this process's writers take turns (``WriteTurns``)."""
        recordings = self._save_in_turn(*objs, **kwargs)
        self._recorded(objs, recordings)
        return recordings

    def _save_in_turn(self, *objs: Any, **kwargs: Any) -> Any:
        """The library's save in this process's turn (``WriteTurns``): ``save``'s, and the one
        transaction in which ``GroupCommit`` saves the events of several writes."""
        with self._write_turns:
            return super().save(*objs, **kwargs)

    def _recorded(self, objs: Sequence[Any], recordings: Sequence[Any]) -> None:
        if any(isinstance(obj, _IDENTITY) for obj in objs):
            self.identity_version += 1
        for listener in self.recorded_listeners:
            listener(len(recordings))

    # ------------------------------------------------------------------------ loading helpers
    def _load(self, kind: type[A], stream_id: str, what: str, hint: str) -> A:
        try:
            aggregate = self.repository.get(stream_id, projector_func=folded)
        except AggregateNotFoundError:
            raise NotFound(
                f"{what} {stream_id} is not registered; {hint}",
                key=f"not_found.{what.replace(' ', '_')}",
                params={"id": stream_id},
            ) from None
        except OperationalError as error:
            raise StoreUnavailable(f"the event store is unavailable: {_first_line(error)}") from None
        if not isinstance(aggregate, kind):
            raise NotFound(
                f"{stream_id} is not a {what}",
                key=f"not_found.{what.replace(' ', '_')}",
                params={"id": stream_id},
            )
        return aggregate

    def load_together(self, *stream_ids: str) -> dict[str, Any]:
        """The aggregates of several streams from one read of the store (one statement on one
        connection instead of one transaction per stream), for a request that needs them all at
        once: a scan's collection point, battery and maker. Streams the store has not got are missing."""
        try:
            stored = select_streams(self.recorder, stream_ids)
        except (OperationalError, InterfaceError) as error:
            raise StoreUnavailable(f"the event store is unavailable: {_first_line(error)}") from None
        events: dict[str, list[Any]] = {}
        for record in stored:
            events.setdefault(str(record.originator_id), []).append(self.mapper.to_domain_event(record))
        return {stream_id: folded(None, found) for stream_id, found in events.items()}

    def participant(self, participant_id: str) -> Participant:
        code = parse_credit_code(participant_id, allow_bad_check=True)
        return self._load(
            Participant, code, "participant", "register it with 'batterytrace participants add'"
        )

    def battery(self, code: str) -> Battery:
        parsed = parse_battery_code(code, today=self.today())
        return self._load(Battery, parsed.code, "battery", "record its production first")

    def collection_point(self, point_id: str) -> CollectionPoint:
        return self._load(
            CollectionPoint,
            parse_collection_point_id(point_id),
            "collection point",
            "register it with 'batterytrace collection-points add'",
        )

    def code_owner(self, manufacturer_code: str) -> str | None:
        try:
            claim = self.repository.get(claim_id(manufacturer_code))
        except AggregateNotFoundError:
            return None
        assert isinstance(claim, ManufacturerCodeClaim)
        return claim.owner_id

    def exists(self, stream_id: str) -> bool:
        return bool(list(self.events.get(stream_id, limit=1)))

    def today(self) -> date:
        return self.clock().astimezone(CHINA_STANDARD_TIME).date()

    def when(self, occurred_at: datetime | None) -> datetime:
        """A real-world time for an event: now by default, never in the future."""
        now = self.clock()
        if occurred_at is None:
            return now
        moment = as_aware(occurred_at)
        if moment > now + CLOCK_SKEW:
            raise InvalidInput(
                f"occurred_at {in_china_time(moment).isoformat()} is in the future (now is "
                f"{in_china_time(now).isoformat(timespec='seconds')})"
            )
        return moment

    # ---------------------------------------------------------------------------- saving
    def _commit(self, *aggregates: TraceAggregate) -> WriteResult:
        return self.commit_each([aggregates])[0]

    def commit_each(self, writes: Sequence[Sequence[TraceAggregate]]) -> list[WriteResult]:
        """Save what the aggregates of several writes hold pending in one transaction, and answer
        each write with its own result (a write that recorded nothing is a replay).

        For a caller that decided several independent writes at once (queued writes:
        ``api/written_together.py``): a conflict (another request moved one of the aggregates first)
        refuses them all with ``ConcurrentWrite`` and records nothing, so that such a caller
        makes each of them again alone; nothing else differs from saving them one by one."""
        pendings = [[e for a in aggregates for e in a.collect_events()] for aggregates in writes]
        everything = [event for pending in pendings for event in pending]
        recordings: list[Any] = []
        if everything:
            try:
                recordings = self._group_commit.save(everything)  # perhaps with other writes: group_commit.py
                self._recorded(everything, recordings)
            except OperationalError as error:
                raise StoreUnavailable(
                    f"the event store is unavailable, nothing was recorded: {_first_line(error)}"
                ) from None
            except IntegrityError:
                names = ", ".join(sorted({str(a.id) for aggregates in writes for a in aggregates}))
                raise ConcurrentWrite(
                    f"{names} changed while this request was being processed; read it again and retry"
                ) from None
        results = []
        start = 0
        for aggregates, pending in zip(writes, pendings, strict=True):
            if not pending:
                results.append(WriteResult(replayed=True, saved=tuple(aggregates)))
                continue
            mine = recordings[start : start + len(pending)]
            start += len(pending)
            results.append(
                WriteResult(
                    events=[f"{r.domain_event.originator_id}:{type(r.domain_event).__name__}" for r in mine],
                    notification_id=mine[-1].notification.id,
                    saved=tuple(aggregates),
                    recorded=tuple(pending),
                )
            )
        return results

    def commit(self, *aggregates: Any) -> WriteResult:
        """Save what ``aggregates`` hold pending (anything with ``collect_events``), in one
        transaction, with the same refusals as every command: for a caller that builds several
        batteries' events itself and must keep their order (an EPCIS document's capture)."""
        return self._commit(*aggregates)

    def _retrying_once(self, request_id: str | None, act: Callable[[], WriteResult]) -> WriteResult:
        """A write that lost a race is retried once when it carries a request id: if the winner
        was the same request (a client replay), the retry finds it done and answers it. If the
        winner was another request (two identical handovers with different ids), the retry finds
        the battery moved on: that is a conflict (409) the caller resolves by reading it again,
        not a refusal of its rights (403)."""
        try:
            return act()
        except ConcurrentWrite as lost:
            if request_id is None:
                raise
            try:
                return act()
            except (NotAuthorised, LifecycleViolation) as refused:
                raise ConcurrentWrite(
                    "the battery changed while this request was being processed (another request "
                    "was recorded first) and this one no longer applies; read it again before retrying",
                    detail=f"{lost.message}; then: {refused.message}",
                ) from None

    # ---------------------------------------------------------------------------- produce
    def produce(self, *, actor_id: str, spec: ProductionSpec) -> WriteResult:
        """Record one production. A repeat of the same production is answered, not an error;
        a different production under an existing code is refused."""
        actor = self.participant(actor_id)
        parsed = parse_battery_code(spec.code, today=self.today())
        if spec.components and self.exists(parsed.code):
            return self._replay_of_linked(spec, actor, components=spec.components)
        components = [self.battery(code) for code in spec.components]
        battery = Battery.produce(
            spec,
            actor=actor,
            code_owner_id=self.code_owner(parsed.manufacturer_code),
            components=components,
            today=self.today(),
        )
        for component in components:
            component.assemble_into(battery)
        try:
            return self._commit(battery, *components)
        except ConcurrentWrite:
            return self.compare_with_stored(battery)

    def _replay_of_linked(
        self,
        spec: ProductionSpec,
        actor: Participant,
        *,
        components: tuple[str, ...] | list[str] = (),
        originals: list[str] | tuple[str, ...] = (),
    ) -> WriteResult:
        """A production whose links already exist (its parts are built into it, its originals
        live on in it) cannot be built again to compare; build it unlinked and compare facts."""
        parsed = parse_battery_code(spec.code, today=self.today())
        battery = Battery.produce(
            replace(spec, components=()),
            actor=actor,
            code_owner_id=self.code_owner(parsed.manufacturer_code),
            today=self.today(),
            second_life=bool(originals),
        )
        battery.components = [parse_battery_code(c, today=self.today()).code for c in components]
        battery.derived_from = [parse_battery_code(c, today=self.today()).code for c in originals]
        return self.compare_with_stored(battery)

    def compare_with_stored(self, battery: Battery) -> WriteResult:
        """After a collision on a new battery's stream: the same production again is a replay;
        anything else is a second battery claiming an existing code."""
        if not self.exists(battery.code):
            raise ConcurrentWrite(f"a component of {battery.code} changed while it was being recorded; retry")
        stored = self.battery(battery.code)
        if production_record(stored) == production_record(battery):
            return WriteResult(replayed=True, saved=(stored,))
        differing = [
            key
            for key, value in production_record(battery).items()
            if production_record(stored)[key] != value
        ]
        raise AlreadyExists(
            f"battery {battery.code} is already recorded with different data "
            f"({', '.join(differing)}); a code identifies one battery only"
        )

    def cascade_reuse(self, *, actor_id: str, originals: list[str], product: ProductionSpec) -> WriteResult:
        """Make a second-life product from retired batteries the enterprise holds: the product's
        ``Produced`` names its originals and each original records ``CascadeReused`` naming the
        product, in one transaction."""
        if not originals:
            raise InvalidInput("a second-life product needs at least one original battery")
        if len(set(originals)) != len(originals):
            raise InvalidInput("an original battery is listed twice")
        actor = self.participant(actor_id)
        parsed = parse_battery_code(product.code, today=self.today())
        if self.exists(parsed.code):
            return self._replay_of_linked(product, actor, originals=originals)
        original_batteries = [self.battery(code) for code in originals]
        made = Battery.produce(
            product,
            actor=actor,
            code_owner_id=self.code_owner(parsed.manufacturer_code),
            originals=original_batteries,
            today=self.today(),
        )
        for original in original_batteries:
            original.cascade_reuse(made, actor=actor)
        try:
            return self._commit(made, *original_batteries)
        except ConcurrentWrite:
            return self.compare_with_stored(made)

    # ------------------------------------------------------------------ lifecycle commands
    def execute(
        self,
        command: Command | VehicleCommand,
        *,
        actor: Participant | None = None,
        point: CollectionPoint | None = None,
        batteries: tuple[Battery, ...] = (),
    ) -> WriteResult:
        """Run a lifecycle command on its batteries (one, or a vehicle's) and save what it recorded
        in one transaction; a request that lost a race is retried once, so that a client's replay
        of it is answered, not refused.

        ``actor`` and ``point`` are the participant and collection point a caller has just loaded
        (the API's authentication; a scan's checked point), sparing reads on the busiest write;
        ``batteries`` the command's batteries, just loaded, for the first attempt (a retry reads
        them again). ``decide`` checks that they are the command's."""
        preloaded = list(batteries)

        def act() -> WriteResult:
            loaded = tuple(preloaded) or tuple(self.battery(code) for code in command.battery_codes)
            preloaded.clear()
            actor_now = actor or self.participant(command.actor_id)
            return self._commit(*self.decide(command, actor=actor_now, point=point, batteries=loaded))

        return self._retrying_once(command.reporting.request_id, act)

    def decide(
        self,
        command: Command | VehicleCommand,
        *,
        actor: Participant,
        point: CollectionPoint | None = None,
        batteries: tuple[Battery, ...],
        read: Mapping[str, Any] | None = None,
    ) -> tuple[Battery, ...]:
        """Run a lifecycle command on its batteries, just loaded, without saving: the batteries
        come back holding the events it recorded (none for a replayed request), for ``commit_each``
        (or ``execute``'s own commit). Refusals are raised as ``execute`` raises them.

        ``read``: aggregates read with the batteries (``load_together``), where a transfer looks
        for its receiver first; one not among them is read as usual."""
        if actor.id != command.actor_id:
            raise ValueError(f"actor {actor.id} is not {command.actor_id}")
        if [b.code for b in batteries] != [
            parse_battery_code(code, today=self.today()).code for code in command.battery_codes
        ]:
            raise ValueError("the batteries given are not the command's")
        reporting = command.reporting
        attempt = Attempt(
            app=self,
            batteries=batteries,
            actor=actor,
            occurred_at=self.when(reporting.occurred_at),
            request_id=reporting.request_id,
            late_correction=reporting.late_correction,
            point=point,
            participant_lookup=None if read is None else partial(_participant_in, read, self.participant),
        )
        handler_for(command)(attempt, command)
        return batteries

    def execute_batch(self, batch: Batch, *, actor: Participant | None = None) -> BatchResult:
        """Run the commands that arrived together (an outlet's hand-over of N batteries, its
        queued scans) as one command: all recorded in one transaction, or none (``BatchRefused``
        with an outcome per battery). How and why: ``batches.py``."""
        return run_batch(self, batch, actor=actor)

    # --------------------------------------------------------------------------- API keys
    # The commands and their policy live in batterytrace/trace/keys.py.
    def issue_api_key(
        self,
        *,
        actor_id: str | None,
        participant_id: str,
        label: str = "",
        via_key_id: str | None = None,
    ) -> IssuedKey:
        """A new key for a participant, shown once. ``actor_id=None`` is the operator's CLI;
        ``via_key_id`` is the key the request was made with (revoking it revokes the new key)."""
        return keys.issue(
            self, actor_id=actor_id, participant_id=participant_id, label=label, via_key_id=via_key_id
        )

    def revoke_api_key(self, *, actor_id: str | None, key_id: str, reason: str = "") -> WriteResult:
        """Revokes the key and every live key issued through it (``saved``: the keys revoked)."""
        return keys.revoke(self, actor_id=actor_id, key_id=key_id, reason=reason)

    def revoke_api_keys(
        self, *, actor_id: str | None, participant_id: str, reason: str, except_key_id: str | None = None
    ) -> WriteResult:
        """Revokes every key of a participant but ``except_key_id``, with what was issued through them."""
        return keys.revoke_all(
            self, actor_id=actor_id, participant_id=participant_id, reason=reason, except_key_id=except_key_id
        )

    def rotate_api_key(self, *, actor_id: str | None, key_id: str) -> IssuedKey:
        """A new secret for the key, shown once; the old token stops working."""
        return keys.rotate(self, actor_id=actor_id, key_id=key_id)

    def api_keys(self, participant_id: str) -> list[dict[str, Any]]:
        """The inventory of a participant's keys (never their digests)."""
        return keys.inventory(self, participant_id)

    @property
    def key_usage(self) -> keys.KeyUsage:
        """When keys were last used (outside the event store; see keys.py), opened on first use."""
        usage = self.__dict__.get("_key_usage")
        if usage is None:
            usage = self._key_usage = keys.KeyUsage(lambda: open_view_engine(self.settings))
        return usage

    def close(self) -> None:
        """The library's close, and the key-usage connections if this service opened any."""
        if "_key_usage" in self.__dict__:
            self._key_usage.dispose()
        self._write_turns.close()
        super().close()

    def authenticate(self, token: str) -> Participant:
        """The participant a bearer token belongs to; every failure looks the same to the caller.
        Notes when the key was used (at most once a minute per key: no read, rarely a write)."""
        try:
            key_id, secret = parse_token(token)
            key = self.repository.get(key_stream_id(key_id))
        except (InvalidInput, AggregateNotFoundError):
            raise NotAuthenticated("invalid or revoked API key") from None
        except OperationalError as error:
            raise StoreUnavailable(f"the event store is unavailable: {_first_line(error)}") from None
        if not isinstance(key, ApiKey) or not key.matches(secret):
            raise NotAuthenticated("invalid or revoked API key")
        participant = self.participant(key.participant_id)
        self.key_usage.touch(key.key_id, self.clock())
        return participant

    # ---------------------------------------------------------------------------- queries
    def history(self, code: str) -> list[Any]:
        """Every event of one battery, oldest first."""
        battery = self.battery(code)
        return list(self.events.get(battery.id))

    def battery_as_of(self, code: str, moment: datetime) -> Battery:
        """The battery as it stood at a real-world moment, rebuilt by the library from the
        prefix of its stream up to the last event that had happened by then."""
        moment = as_aware(moment)
        battery = self.battery(code)
        version = None
        for stored in self.events.get(battery.id):
            if stored.occurred_at <= moment:
                version = stored.originator_version
        if version is None:
            raise NotFound(
                f"battery {battery.code} did not exist yet at {in_china_time(moment).isoformat()}; it was "
                f"produced on {battery.production_date}"
            )
        rebuilt = self.repository.get(battery.id, version=version)
        assert isinstance(rebuilt, Battery)
        return rebuilt


POOL_WAIT_SECONDS = 0.5
_IDENTITY = (Participant, Participant.Event, ApiKey, ApiKey.Event)


def _participant_in(
    read: Mapping[str, Any], participant: Callable[[str], Participant], participant_id: str
) -> Participant:
    """The participant ``participant_id`` as already read, else read now."""
    found = read.get(participant_id)
    return found if isinstance(found, Participant) else participant(participant_id)


def folded(aggregate: Any, domain_events: Iterable[Any]) -> Any:
    """The library's ``project_aggregate`` without its ``assert isinstance(event,
    CanMutateProtocol)``: a check against a runtime protocol walks the protocol's members for
    every event, and loading the scan's three aggregates spent 1-3 % of a scan's CPU in it (py-spy
    under ``bench.scan_rate``, 2026-11-29). Every event the store gives back is one of our
    aggregates' own, which mutate."""
    for domain_event in domain_events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


def select_streams(recorder: Any, stream_ids: tuple[str, ...] | list[str]) -> list[Any]:
    """The stored events of several streams, in one statement: ``originator_id IN (…)`` on
    SQLite, ``= ANY(%s)`` on PostgreSQL, ordered by the primary key (stream, version), so each
    stream's events come in order. The library reads one stream per call."""
    ids = list(dict.fromkeys(stream_ids))
    if not hasattr(recorder.datastore, "schema"):  # SQLite
        marks = ",".join("?" * len(ids))
        statement = (
            f"SELECT * FROM {recorder.events_table_name} WHERE originator_id IN ({marks}) "
            "ORDER BY originator_id, originator_version"
        )
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, ids)
            rows = cursor.fetchall()
    else:
        from psycopg.sql import SQL, Identifier

        query = SQL(
            "SELECT * FROM {schema}.{table} WHERE originator_id = ANY(%s) "
            "ORDER BY originator_id, originator_version"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        with recorder.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(query, [ids], prepare=True)
            rows = cursor.fetchall()
    return [
        StoredEvent(
            originator_id=row["originator_id"],
            originator_version=row["originator_version"],
            topic=row["topic"],
            state=bytes(row["state"]),
        )
        for row in rows
    ]


class WriteTurns:
    """The threads of one process writing to a SQLite event store, one at a time, in the order
    they come.

    Why: SQLite has one writer at a time, and a connection that finds the file locked waits in
    SQLite's busy handler, which sleeps in growing steps (1, 2, 5 … up to 100 ms) instead of
    waking when the lock is free. Under concurrent scans the threads that lost the race slept
    past many free moments: when they queue on a lock here instead and wake as soon as the
    writer before them commits, p99 at 16 connections fell from 91-119 ms to 70-76 ms (bench P2,
    scans on SQLite, three interleaved pairs of runs, issue 13), at the same rate or better.
    Writers of other processes meet SQLite's own lock; the view follower also takes turns with
    this process on a file lock beside the database (``sqlite_turn.py``), for the same reason. The
    wait is bounded as SQLite's is (``TURN_WAIT_SECONDS``). PostgreSQL locks rows, not the
    database: there it does nothing. The single writes of commands queue first in
    ``GroupCommit`` (``group_commit.py``), whose leader takes a turn here for the whole group."""

    def __init__(self, sqlite_path: str | None) -> None:
        self._lock = threading.Lock() if sqlite_path else None
        self._turn = SQLiteTurn(sqlite_path)  # and with the writers of other processes

    def __enter__(self) -> None:
        if self._lock is not None:
            if not self._lock.acquire(timeout=TURN_WAIT_SECONDS):
                raise StoreUnavailable(
                    f"the event store is busy: this write waited {TURN_WAIT_SECONDS} s for the writes "
                    "before it, nothing was recorded; retry in a moment"
                )
            self._turn.__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self._lock is not None:
            self._turn.__exit__(*exc)
            self._lock.release()

    def close(self) -> None:
        self._turn.close()


TURN_WAIT_SECONDS = 5  # as the library's SQLite lock timeout (SQLITE3_DEFAULT_LOCK_TIMEOUT)


def _bound_pool_wait(recorder: Any) -> None:
    """With PostgreSQL down, each store call waits for a pooled connection (the library's wait is
    POSTGRES_CONNECT_TIMEOUT, whole seconds) and is retried 10 times, so a request would hang ~50 s
    before its 503. Half a second per wait bounds that at ~7 s; under load the retries still ride
    out a briefly exhausted pool."""
    pool = getattr(getattr(recorder, "datastore", None), "pool", None)
    if pool is not None and hasattr(pool, "timeout"):
        pool.timeout = POOL_WAIT_SECONDS


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
