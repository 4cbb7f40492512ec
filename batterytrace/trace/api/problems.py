"""Errors as RFC 9457 problem details: every refusal says what is wrong, as JSON, with a status
that tells a program what to do (fix the request, authenticate, retry later …). No request may
end in a 500: anything unexpected is logged and answered as a problem too."""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from batterytrace.events import errors
from batterytrace.store import ConfigurationError, StoreUnavailable
from batterytrace.trace.api.throttle import TooManyFailures

log = logging.getLogger("batterytrace.api")
refusals = logging.getLogger("batterytrace.refusals")
PROBLEM_JSON = "application/problem+json"

STATUS_FOR: list[tuple[type[Exception], int]] = [
    (errors.NotAuthenticated, 401),
    (errors.NotAuthorised, 403),
    (errors.NotFound, 404),
    (errors.LifecycleViolation, 409),
    (errors.ChronologyViolation, 409),
    (errors.ConcurrentWrite, 409),
    (errors.AlreadyExists, 409),
    (errors.InvalidInput, 422),
    (StoreUnavailable, 503),
    (ConfigurationError, 503),
]
TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    503: "Service unavailable",
    504: "Views not up to date yet",
}


# Problems raised outside the domain (middleware, throttle, views) have a stable kind; this is the
# message key a page translates them by (see ``code`` in ``problem``).
KEYS_BY_KIND = {
    "payload-too-large": "request.too_large",
    "too-many-failures": "auth.rate_limited",
    "views-behind": "views.behind",
    "store-unavailable": "store.unavailable",
    "decoder-busy": "store.busy",
    "invalid-request": "request.invalid",
    "duplicate-key": "request.duplicate_key",
    "internal-error": "server.internal",
}


def problem(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    code: str | None = None,
    params: dict[str, Any] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An RFC 9457 problem. ``detail`` is the English sentence (API users, logs); ``code`` (a
    message key, by default the kind's) and ``params`` let a page say it in its own language and
    fall back to ``detail`` for a code it does not know."""
    body = {
        "type": f"/problems/{kind or status}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    key = code or KEYS_BY_KIND.get(kind or "")
    if key:
        body.update(code=key, params=params or {})
    standard = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if status == 503:
        standard = {"Retry-After": "5"}
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers={**standard, **(headers or {})}
    )


def status_of(error: Exception) -> int:
    return next((status for kind, status in STATUS_FOR if isinstance(error, kind)), 500)


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.DomainError)
    async def domain_error(_request: Request, error: errors.DomainError) -> JSONResponse:
        extra = {"segment": error.segment} if isinstance(error, errors.InvalidBatteryCode) else {}
        if error.detail:  # what the caller may not be told goes to the server log only
            refusals.info(
                "refused %s %s (request %s): %s; %s",
                _request.method,
                _request.url.path,
                getattr(_request.state, "request_id", "-"),
                error.message,
                error.detail,
            )
        return problem(
            status_of(error),
            error.message,
            kind=error.kind,
            code=error.message_key,
            params=error.params,
            **extra,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        fields = [
            {
                "field": ".".join(str(part) for part in e.get("loc", ()) if part != "body"),
                "message": e.get("msg", "invalid"),
            }
            for e in error.errors()
        ]
        detail = "; ".join(f"{f['field'] or 'body'}: {f['message']}" for f in fields) or "invalid request"
        named = ", ".join(f["field"] for f in fields if f["field"]) or "body"
        return problem(422, detail, kind="invalid-request", params={"fields": named}, errors=fields)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        return problem(error.status_code, str(error.detail), kind=str(error.status_code))

    @app.exception_handler(TooManyFailures)
    async def throttled(_request: Request, error: TooManyFailures) -> JSONResponse:
        return problem(
            429,
            error.detail,
            kind="too-many-failures",
            headers={"Retry-After": str(error.retry_after)},
            params={"seconds": error.retry_after},
        )

    @app.exception_handler(PersistenceError)
    async def store_error(_request: Request, error: PersistenceError) -> JSONResponse:
        log.warning("event store error: %s", error)
        return problem(503, "the event store is unavailable; retry shortly", kind="store-unavailable")

    @app.exception_handler(DBAPIError)
    async def views_error(_request: Request, error: DBAPIError) -> JSONResponse:
        log.warning("views database error: %s", str(error).splitlines()[0])
        return problem(503, "the database is unavailable; retry shortly", kind="store-unavailable")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, "internal error; it has been logged", kind="internal-error")
