"""What a route needs, declared in its signature: the service, the views, and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import Engine

from batterytrace.events.api_key import parse_token
from batterytrace.events.credit_code import EXAMPLE_CREDIT_CODE, parse_credit_code
from batterytrace.events.errors import InvalidInput, NotAuthenticated, NotAuthorised
from batterytrace.events.participant import Participant, Role
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.api.errors import ViewsBehind
from batterytrace.trace.api.throttle import AuthGuard
from batterytrace.trace.application import BatteryTrace

MAX_WAIT_SECONDS = 10  # ``timeout`` of a read-your-writes wait

_bearer = HTTPBearer(auto_error=False, description="API key issued by a regulator: bt_<key id>_<secret>")


def get_service(request: Request) -> BatteryTrace:
    return request.app.state.service


def get_runner(request: Request) -> ViewRunner:
    return request.app.state.runner


Service = Annotated[BatteryTrace, Depends(get_service)]
Runner = Annotated[ViewRunner, Depends(get_runner)]


def optional_caller(
    request: Request,
    service: Service,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Participant | None:
    """The participant behind the bearer token, or None for the public. Wrong keys are throttled
    per client address and key id (429), logged and counted: see ``throttle``."""
    if credentials is None:
        return None
    guard: AuthGuard = request.app.state.auth_guard
    return guard.authenticate(
        service,
        credentials.credentials,
        address=request.client.host if request.client else "unknown",
        request_id=getattr(request.state, "request_id", "-"),
    )


def caller(participant: Annotated[Participant | None, Depends(optional_caller)]) -> Participant:
    if participant is None:
        raise NotAuthenticated("this needs an API key: send 'Authorization: Bearer bt_…'")
    return participant


OptionalCaller = Annotated[Participant | None, Depends(optional_caller)]
Caller = Annotated[Participant, Depends(caller)]


def regulator(participant: Caller) -> Participant:
    participant.require_role(Role.REGULATOR, to="use regulator endpoints")
    return participant


Regulator = Annotated[Participant, Depends(regulator)]


class AfterBeyondHead(InvalidInput):
    """``?after=`` names a notification the store has not got: waiting could never end well."""

    kind = "after-beyond-head"


async def consistent_views(
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
    """The views' engine, once they include the caller's last write (when it says which).

    Waiting happens on the event loop (no worker thread is held), and only for a notification
    the store has: one beyond its head is refused at once."""
    wanted = after if after is not None else x_after
    if wanted is None or await runner.views_reached(wanted, timeout=0):
        return runner.engine
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
    return runner.engine


Views = Annotated[Engine, Depends(consistent_views)]


# ------------------------------------------------------------- participants, as paths and callers
CreditCodePath = Annotated[
    str, Path(description="Unified Social Credit Code (18 characters).", examples=[EXAMPLE_CREDIT_CODE])
]


def _caller_key_id(request: Request, _caller: Caller) -> str:
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
