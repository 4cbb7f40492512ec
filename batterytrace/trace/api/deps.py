"""What a route needs, declared in its signature: the service, the views, and the caller.

Every dependency here is ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread,
and each such hop costs more than the little work these do. The one that may read the store (the
caller's API key and participant) goes to a worker thread only when the token is not among the
callers authenticated in the last few seconds (``RecentCallers``).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from prometheus_client import Counter
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from batterytrace.events.api_key import parse_token
from batterytrace.events.credit_code import EXAMPLE_CREDIT_CODE, parse_credit_code
from batterytrace.events.errors import InvalidInput, NotAuthenticated, NotAuthorised
from batterytrace.events.participant import Participant, Role
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.api.errors import ViewsBehind
from batterytrace.trace.api.metrics import REGISTRY
from batterytrace.trace.api.throttle import AuthGuard
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.read_replicas import REPLICA_WAIT_SECONDS, ReadReplicas

MAX_WAIT_SECONDS = 10  # ``timeout`` of a read-your-writes wait

_bearer = HTTPBearer(auto_error=False, description="API key issued by a regulator: bt_<key id>_<secret>")


async def get_service(request: Request) -> BatteryTrace:
    return request.app.state.service


async def get_runner(request: Request) -> ViewRunner:
    return request.app.state.runner


Service = Annotated[BatteryTrace, Depends(get_service)]
Runner = Annotated[ViewRunner, Depends(get_runner)]


AUTH_CACHE_SECONDS = 5.0  # README (Security): how long another process may still accept a revoked key
AUTH_CACHE_ENTRIES = 4096


class RecentCallers:
    """Bearer tokens that authenticated in the last ``seconds`` (by the service's clock), with
    their participant, so that a client sending request after request with one key costs the
    store no read (the key and the participant: two reads and a worker-thread hop each time).

    Why this is safe: only tokens that authenticated are kept (a wrong key is looked up and
    throttled every time); an entry is dropped after ``seconds``; and a save in this process that
    changes any API key or participant (revoke, rotate, whitelist, …) drops every entry at once
    (``BatteryTrace.identity_version``). So a key revoked or rotated through this process stops
    working at the next request, and one revoked elsewhere (the CLI, another worker or machine)
    within ``seconds``; a participant's changed roles or whitelist reach its callers as fast.
    Tokens are held as SHA-256 digests, never as the secret; at most ``max_entries`` of them,
    the oldest dropped first."""

    def __init__(self, seconds: float = AUTH_CACHE_SECONDS, *, max_entries: int = AUTH_CACHE_ENTRIES) -> None:
        self.lifetime = timedelta(seconds=seconds)
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[Participant, datetime, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str, service: BatteryTrace) -> Participant | None:
        """The participant of a token that authenticated a moment ago, else None."""
        digest = _digest(token)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            participant, at, version = entry
            if version == service.identity_version and at <= service.clock() < at + self.lifetime:
                return participant
            del self._entries[digest]
            return None

    def put(self, token: str, participant: Participant, *, at: datetime, version: int) -> None:
        """Note a token that authenticated at ``at`` when identities were at ``version`` (read
        before the lookup, so that a revocation saved during it is not missed)."""
        with self._lock:
            self._entries[_digest(token)] = (participant, at, version)
            self._entries.move_to_end(_digest(token))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def recent_callers(app: FastAPI) -> RecentCallers:
    """The app's ``RecentCallers``, made on first use (on the event loop: no race)."""
    recent = getattr(app.state, "recent_callers", None)
    if recent is None:
        recent = app.state.recent_callers = RecentCallers()
    return recent


class _Known:
    """Stands in for the service in ``AuthGuard.authenticate`` for a token it knows, so that a
    known token still passes the guard's address throttle (a throttled address gets 429 for
    every key, right or wrong)."""

    def __init__(self, participant: Participant) -> None:
        self.participant = participant

    def authenticate(self, _token: str) -> Participant:
        return self.participant


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def optional_caller(request: Request, credentials: Credentials) -> Participant | None:
    """The participant behind the bearer token, or None for the public. Wrong keys are throttled
    per client address and key id (429), logged and counted: see ``throttle``. A token seen a
    moment ago is answered from ``RecentCallers`` on the event loop; any other is looked up in a
    worker thread."""
    if credentials is None:
        return None
    service: BatteryTrace = request.app.state.service
    guard: AuthGuard = request.app.state.auth_guard
    token = credentials.credentials
    address = request.client.host if request.client else "unknown"
    request_id = getattr(request.state, "request_id", "-")
    recent = recent_callers(request.app)
    known = recent.get(token, service)
    if known is not None:
        return guard.authenticate(_Known(known), token, address=address, request_id=request_id)  # type: ignore[arg-type]
    version = service.identity_version
    participant = await run_in_threadpool(
        guard.authenticate, service, token, address=address, request_id=request_id
    )
    recent.put(token, participant, at=service.clock(), version=version)
    return participant


def required(participant: Participant | None) -> Participant:
    """The caller of a route that needs a key: the public is refused."""
    if participant is None:
        raise NotAuthenticated("this needs an API key: send 'Authorization: Bearer bt_…'")
    return participant


async def caller(request: Request, credentials: Credentials) -> Participant:
    """``optional_caller``, the public refused. Called, not declared on it: FastAPI solves a
    route's dependency tree on every request, and each level costs (the tree was a sixth of a
    scan's CPU before it was cut, py-spy under ``bench.scan_rate``, 2026-11-29); the bearer
    scheme stays in the tree, so the OpenAPI documents the key."""
    return required(await optional_caller(request, credentials))


OptionalCaller = Annotated[Participant | None, Depends(optional_caller)]
Caller = Annotated[Participant, Depends(caller)]

BEARER_SECURITY = [{_bearer.scheme_name: []}]  # what ``Caller`` writes into a route's OpenAPI operation


async def caller_of(request: Request) -> Participant:
    """``Caller`` resolved by a route itself, with the same functions and the same refusals: the
    busiest route (the scan) takes only the request, no dependency tree at all. Such a route
    declares ``openapi_extra={"security": BEARER_SECURITY}``, so its documentation is as with
    ``Caller``."""
    return await caller(request, await _bearer(request))


async def regulator(participant: Caller) -> Participant:
    participant.require_role(Role.REGULATOR, to="use regulator endpoints")
    return participant


Regulator = Annotated[Participant, Depends(regulator)]


class AfterBeyondHead(InvalidInput):
    """``?after=`` names a notification the store has not got: waiting could never end well."""

    kind = "after-beyond-head"


async def consistent_views(
    request: Request,
    runner: Runner,
    after: Annotated[
        int | None,
        Query(ge=0, description="Wait until the views include this notification id (read your writes)."),
    ] = None,
    x_after: Annotated[int | None, Header(ge=0, alias="X-After-Notification")] = None,
    timeout: Annotated[
        float,
        Query(gt=0, le=MAX_WAIT_SECONDS, description=f"Seconds to wait for `after` (≤ {MAX_WAIT_SECONDS})."),
    ] = 5.0,
) -> Engine:
    """The engine a read of the views runs on, once they include the caller's last write (when it
    says which): a read replica's when one is usable (``read_replicas``), else the views' own.

    Waiting happens on the event loop (no worker thread is held), and only for a notification
    the store has: one beyond its head is refused at once. The views' own database is waited
    for first, so ``?after=`` means the same with replicas as without; a replica then gets a
    short wait of its own before the views' database answers instead."""
    wanted = after if after is not None else x_after
    if wanted is not None and not await runner.views_reached(wanted, timeout=0):
        head = await runner.store_head()
        if wanted > head:
            raise AfterBeyondHead(
                f"after={wanted} is beyond the newest notification in the store ({head}); pass the "
                "notification_id a write answered"
            )
        if not await runner.views_reached(wanted, timeout=timeout):
            raise ViewsBehind(
                f"the views have not reached notification {wanted} within {timeout:g} s; retry shortly"
            )
    replicas = read_replicas(request.app)
    replica = None
    if replicas is not None:
        replica = await replicas.replica_for(wanted, wait=min(REPLICA_WAIT_SECONDS, timeout))
    VIEW_READS.labels(replica.name if replica else "primary").inc()
    return replica.engine if replica else runner.engine


VIEW_READS = Counter(
    "batterytrace_view_reads",
    "Reads of the views by the database chosen to answer them: primary, or a read replica's host:port.",
    ["database"],
    registry=REGISTRY,
)
_replicas_lock = threading.Lock()


def read_replicas(app: FastAPI) -> ReadReplicas | None:
    """The app's read replicas (BATTERYTRACE_READ_DATABASE_URLS), made on first use, beside the
    views' engine the runner holds; None when none are configured."""
    replicas = getattr(app.state, "read_replicas", _NOT_MADE)
    if replicas is _NOT_MADE:
        with _replicas_lock:  # /readyz and /metrics run in worker threads: make it once
            replicas = getattr(app.state, "read_replicas", _NOT_MADE)
            if replicas is _NOT_MADE:
                settings, runner = app.state.settings, app.state.runner
                replicas = None
                if settings.read_database_urls:
                    replicas = ReadReplicas(
                        settings.read_database_urls,
                        primary=runner.engine,
                        views_url=getattr(settings, "views_database_url", "") or settings.database_url,
                        view_names=list(runner.views),
                        max_lag_seconds=settings.read_max_lag_seconds,
                    )
                app.state.read_replicas = replicas
    return replicas


_NOT_MADE = object()


Views = Annotated[Engine, Depends(consistent_views)]


# ------------------------------------------------------------- participants, as paths and callers
CreditCodePath = Annotated[
    str, Path(description="Unified Social Credit Code (18 characters).", examples=[EXAMPLE_CREDIT_CODE])
]


async def _caller_key_id(request: Request, _caller: Caller) -> str:
    """The id of the key this (authenticated) request was made with: a key issued by the request
    records it, so that revoking that key revokes the new one too."""
    _scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    return parse_token(token)[0]


CallerKeyId = Annotated[str, Depends(_caller_key_id)]


def self_or_regulator(caller: Participant, credit_code: str, *, to: str) -> str:
    """The normalised code, once the caller is a regulator or that participant itself."""
    code = parse_credit_code(credit_code, allow_bad_check=True)
    if not caller.is_regulator and caller.id != code:
        raise NotAuthorised(
            f"{caller.name} ({caller.id}) cannot {to} of {code}; a regulator can, or {code} itself"
        )
    return code
