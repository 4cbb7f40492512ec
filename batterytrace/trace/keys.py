"""The application's API-key commands and queries, beyond checking one key (``authenticate``).

Policy (who may do what with keys):

- The operator's CLI on the server (no actor) issues and revokes any key: it has the database.
- Over HTTP a regulator issues keys for anyone; a participant only for itself. A key issued over
  HTTP records the key the request was made with (``issued_via``), and that key records it, in the
  same transaction. Revoking a key revokes every live key issued through it, transitively, so a
  thief's chain (stolen key → T1 → T2) dies with the stolen key. Revoking an already revoked key
  still reaches its live descendants (they may have been minted before it was revoked).
- Rotating a key gives it a new secret under the same key id: the old token stops working at once
  and the key keeps its place in the chain (what was issued with it still dies with it).
- A participant's keys are listed in its key ring (``KeyRing``): one read, no scan of the store.
  The library's notification log has no index on topic (SQLite and PostgreSQL recorders alike),
  so finding keys by topic would scan every event; it is done once, to ring the keys issued
  before rings existed (``ensure_rings``).

When a key was last used is kept outside the event store, in a small table (``KeyUsage``): it is
operational metadata, not part of the record. An event per request would grow the store by the
request rate and serialise every request on the key's stream; losing the table loses nothing the
record needs. It is written at most once a minute per key and per process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from eventsourcing.utils import get_topic
from sqlalchemy import Column, Engine, MetaData, String, Table, select
from sqlalchemy.exc import SQLAlchemyError

from batterytrace.events.api_key import (
    KEY_RINGS_COMPLETE,
    ApiKey,
    IssuedKey,
    KeyRing,
    KeyRingsComplete,
    key_ring_id,
    key_stream_id,
)
from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.errors import ConcurrentWrite, InvalidInput, NotAuthorised, NotFound
from batterytrace.events.participant import Participant
from batterytrace.projections.database import upsert
from batterytrace.projections.tables import UTCDateTime

if TYPE_CHECKING:
    from batterytrace.trace.application import BatteryTrace, WriteResult

log = logging.getLogger("batterytrace.keys")
T = TypeVar("T")

USAGE_INTERVAL = timedelta(minutes=1)
LIST_HINT = (
    "list a participant's keys with GET /api/v1/participants/{credit_code}/keys or "
    "'batterytrace participants keys CREDIT_CODE'"
)

usage_metadata = MetaData()
key_usage = Table(
    "api_key_usage",
    usage_metadata,
    Column("key_id", String(64), primary_key=True),
    Column("last_used_at", UTCDateTime, nullable=False),
)


# ----------------------------------------------------------------------------------- last used
class KeyUsage:
    """When each key was last used, in the ``api_key_usage`` table beside the views.

    Authentication calls ``touch`` on every request; it writes only when this process has not
    written that key for ``interval`` (an in-memory note of its last write), so the table costs
    one small upsert per key per minute, and never a read on the request path. A failure to write
    is logged and forgotten: it must never refuse a request."""

    def __init__(self, engine_factory: Callable[[], Engine], *, interval: timedelta = USAGE_INTERVAL) -> None:
        self._engine_factory = engine_factory
        self._engine: Engine | None = None
        self._own_engine = False
        self.interval = interval
        self._written: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._table_ready = False

    def share(self, engine: Engine) -> None:
        """Use an engine the process already has (the API's views engine) instead of opening one."""
        self._engine = engine

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = self._engine_factory()
                self._own_engine = True
            return self._engine

    def dispose(self) -> None:
        """Close the connections of an engine this object opened itself (a shared one is its
        owner's to close)."""
        if self._own_engine and self._engine is not None:
            self._engine.dispose()

    def touch(self, key_id: str, moment: datetime) -> None:
        with self._lock:
            last = self._written.get(key_id)
            if last is not None and abs(moment - last) < self.interval:
                return
            self._written[key_id] = moment
        try:
            self._ensure_table()
            with self.engine.begin() as connection:
                upsert(connection, key_usage, [{"key_id": key_id, "last_used_at": moment}], key=["key_id"])
        except SQLAlchemyError as error:
            log.warning("could not note when API key %s was last used: %s", key_id, _first_line(error))

    def last_used(self, key_ids: Iterable[str]) -> dict[str, datetime]:
        """Key id → when it was last used (keys never used, or not since the table was lost, are
        missing)."""
        ids = list(key_ids)
        if not ids:
            return {}
        try:
            self._ensure_table()
            with self.engine.connect() as connection:
                rows = connection.execute(select(key_usage).where(key_usage.c.key_id.in_(ids)))
                return {row.key_id: row.last_used_at for row in rows}
        except SQLAlchemyError as error:
            log.warning("could not read when API keys were last used: %s", _first_line(error))
            return {}

    def _ensure_table(self) -> None:
        if self._table_ready:
            return
        usage_metadata.create_all(self.engine, checkfirst=True)
        self._table_ready = True


# -------------------------------------------------------------------------------- loading
def load_key(app: BatteryTrace, key_id: str) -> ApiKey:
    return app._load(ApiKey, key_stream_id(key_id), "API key", LIST_HINT)


def ring_of(app: BatteryTrace, participant_id: str) -> KeyRing | None:
    try:
        return app._load(KeyRing, key_ring_id(participant_id), "key ring", "")
    except NotFound:
        return None


def keys_of(app: BatteryTrace, participant_id: str) -> list[ApiKey]:
    """Every key of a participant, live or revoked, oldest first."""
    ensure_rings(app)
    ring = ring_of(app, participant_id)
    keys = [load_key(app, key_id) for key_id in ring.key_ids] if ring else []
    return sorted(keys, key=lambda key: key.issued_at)


def ensure_rings(app: BatteryTrace) -> None:
    """Put every key issued before key rings existed into its participant's ring, once per store.

    The one scan of the notification log by topic (no index: it reads every event) happens the
    first time a store's keys are listed; a marker stream records that it is done."""
    for _ in range(2):
        if app.exists(KEY_RINGS_COMPLETE):
            return
        rings: dict[str, KeyRing] = {}
        count = 0
        for stream_id in app._stream_ids_with_topic(get_topic(ApiKey.Issued)):
            key = app._load(ApiKey, stream_id, "API key", LIST_HINT)
            ring = rings.get(key.participant_id) or ring_of(app, key.participant_id)
            ring = rings[key.participant_id] = ring or KeyRing(participant_id=key.participant_id)
            ring.add(key)
            count += 1
        try:
            app._commit(*rings.values(), KeyRingsComplete(keys=count))
            return
        except ConcurrentWrite:  # a key was issued meanwhile, or another process did it: look again
            continue


# ------------------------------------------------------------------------------- commands
def issue(
    app: BatteryTrace,
    *,
    actor_id: str | None,
    participant_id: str,
    label: str = "",
    via_key_id: str | None = None,
) -> IssuedKey:
    """A new key, in its participant's ring and, when issued with a key, in that key's chain."""

    def attempt() -> IssuedKey:
        participant = app.participant(participant_id)
        by = app.participant(actor_id) if actor_id else None
        via = load_key(app, via_key_id) if via_key_id else None
        key, issued = ApiKey.issue(participant, by=by, via=via, label=label)
        ring = ring_of(app, participant.id) or KeyRing(participant_id=participant.id)
        ring.add(key)
        app._commit(key, ring, *([via] if via else []))
        return issued

    return _again_if_raced(attempt)


def revoke(app: BatteryTrace, *, actor_id: str | None, key_id: str, reason: str = "") -> WriteResult:
    """Revoke a key and every live key issued through it; ``saved`` holds the keys revoked."""

    def attempt() -> WriteResult:
        by = app.participant(actor_id) if actor_id else None
        return app._commit(*_revoke_down(app, [load_key(app, key_id)], by=by, reason=reason))

    return _again_if_raced(attempt)


def revoke_all(
    app: BatteryTrace,
    *,
    actor_id: str | None,
    participant_id: str,
    reason: str,
    except_key_id: str | None = None,
) -> WriteResult:
    """Revoke every key of a participant (and what was issued through them) but ``except_key_id``,
    typically the key the caller is using; ``saved`` holds the keys revoked (and the ring)."""
    participant = app.participant(participant_id)
    by = app.participant(actor_id) if actor_id else None
    if by is not None and not by.is_regulator and by.id != participant.id:
        raise NotAuthorised(
            f"{by.name} ({by.id}) cannot revoke the API keys of {participant.id}; a regulator can, or "
            f"{participant.id} itself"
        )
    ensure_rings(app)

    def attempt() -> WriteResult:
        ring = ring_of(app, participant.id)
        keys = [load_key(app, key_id) for key_id in ring.key_ids] if ring else []
        if except_key_id is not None and not any(k.key_id == except_key_id and not k.revoked for k in keys):
            raise InvalidInput(
                f"API key {except_key_id} is not a live key of {participant.id}; "
                + LIST_HINT.replace("{credit_code}", participant.id)
            )
        keep = {except_key_id} if except_key_id else set()
        revoked = _revoke_down(app, keys, by=by, reason=reason, keep=keep)
        if ring is None or not revoked:
            return app._commit()
        ring.all_revoked(
            revoked_by=by.id if by else None,
            reason=reason,
            except_key_id=except_key_id,
            key_ids=[key.key_id for key in revoked],
        )
        return app._commit(*revoked, ring)

    return _again_if_raced(attempt)


def rotate(app: BatteryTrace, *, actor_id: str | None, key_id: str) -> IssuedKey:
    """A new secret for a key (shown once); the old token is refused from the next request on."""
    by = app.participant(actor_id) if actor_id else None
    key = load_key(app, key_id)
    issued = key.rotate(by=by)
    app._commit(key)
    return issued


def _revoke_down(
    app: BatteryTrace,
    roots: list[ApiKey],
    *,
    by: Participant | None,
    reason: str,
    keep: set[str] | None = None,
) -> list[ApiKey]:
    """Revoke the roots (``by`` must be allowed to) and, breadth first, every key issued through
    them, except the keys in ``keep`` and what hangs below them; the keys this changed. Each key
    is loaded once, so that a key reached twice is not revoked twice."""
    keep = keep or set()
    loaded = {key.key_id: key for key in roots}
    queue: list[tuple[ApiKey, str | None]] = [(key, None) for key in roots]
    seen: set[str] = set()
    changed: list[ApiKey] = []
    while queue:
        key, through = queue.pop(0)
        if key.key_id in seen or key.key_id in keep:
            continue
        seen.add(key.key_id)
        if key.revoke(by=by, reason=reason, through=through):
            changed.append(key)
        for child_id in key.issued:
            if child_id not in loaded:
                loaded[child_id] = load_key(app, child_id)
            queue.append((loaded[child_id], key.key_id))
    return changed


def _again_if_raced(act: Callable[[], T]) -> T:
    """Key writes touch several streams (the key, its ring, the key it was issued with); one that
    lost a race to another write is done once more on fresh reads. A failed write recorded
    nothing, so doing it again is safe."""
    try:
        return act()
    except ConcurrentWrite:
        return act()


# -------------------------------------------------------------------------------- answers
def key_record(key: ApiKey, last_used_at: datetime | None) -> dict[str, Any]:
    """What the inventory shows of a key: never its digest. ``issued_by``/``revoked_by`` None
    means the operator's CLI on the server."""
    return {
        "key_id": key.key_id,
        "participant_id": key.participant_id,
        "label": key.label,
        "issued_at": cst(key.issued_at),
        "issued_by": key.issued_by,
        "issued_via": key.issued_via,
        "rotated_at": cst(key.rotated_at),
        "revoked": key.revoked,
        "revoked_at": cst(key.revoked_at),
        "revoked_by": key.revoked_by,
        "revoke_reason": key.revoke_reason if key.revoked else None,
        "revoked_through": key.revoked_through,
        "last_used_at": cst(last_used_at),
    }


def inventory(app: BatteryTrace, participant_id: str) -> list[dict[str, Any]]:
    """Every key of a participant with who issued it, how, and when it was last used."""
    participant = app.participant(participant_id)
    keys = keys_of(app, participant.id)
    used = app.key_usage.last_used(key.key_id for key in keys)
    return [key_record(key, used.get(key.key_id)) for key in keys]


def cst(moment: datetime | None) -> str | None:
    """Times are shown in China Standard Time with their zone, as the views' queries show them."""
    return moment.astimezone(CHINA_STANDARD_TIME).isoformat() if moment else None


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
