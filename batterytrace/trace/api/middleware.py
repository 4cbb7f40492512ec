"""Request ids, structured access logs, request metrics, security headers and request-body limits.

One pure ASGI middleware, wrapped around the whole application (outside Starlette's error
middleware, so that even an unexpected error's 500 carries the request id and the headers).

Body limits are counted in the ASGI ``receive`` path, so a body sent chunked (no
``Content-Length``) is stopped at the limit too (where FastAPI reads the body, that is before
authentication):

- a JSON body (``application/json``, ``…+json``) may have ``max_json_body_bytes``
  (BATTERYTRACE_MAX_JSON_KB) at most, on every route; so may any body FastAPI reads whole before
  the route runs (a route that declares a body model);
- routes that read a non-JSON body as a stream themselves (bulk import, photo scans: FastAPI
  declares no body for them) may receive up to ``max_body_bytes`` (BATTERYTRACE_MAX_BODY_MB) and
  keep their own limits inside.

Over the limit the client gets a 413 problem at once (with ``Connection: close``: the rest of the
body is never read) and the route, which was reading, stops with an exception nobody logs.

A JSON body is read whole (it is small) and checked for a key given twice in one object (JSON
parsers keep the last, silently): it is refused with 422 naming the key.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, params
from fastapi.routing import APIRoute
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batterytrace.trace.api.metrics import REQUEST_LATENCY, method_label
from batterytrace.trace.api.problems import problem
from batterytrace.trace.api.throttle import AuthGuard
from batterytrace.trace.settings import Settings

access_log = logging.getLogger("batterytrace.access")
API_PREFIX = "/api/v1"
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
SECURITY_HEADERS = {"x-content-type-options": "nosniff"}
PARSE_IN_THREAD_BYTES = 64 * 1024


def install(app: FastAPI, settings: Settings) -> None:
    """Wrap the whole middleware stack (built on the first request) in ``Observe``; also give
    the app the authentication throttle ``deps.optional_caller`` uses."""
    app.state.auth_guard = AuthGuard(settings.auth_failures_per_minute)
    build = app.build_middleware_stack

    def build_observed() -> ASGIApp:
        return Observe(build(), settings)

    app.build_middleware_stack = build_observed  # type: ignore[method-assign]


def request_id_of(scope: Scope) -> str:
    """The client's ``X-Request-ID`` if it is a short token; otherwise a new one (the header is
    echoed and logged, so it must not carry arbitrary bytes or size)."""
    given = Headers(scope=scope).get("x-request-id", "")
    return given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class BodyRefused(HTTPException):
    """Raised to the route that reads a refused body; its answer was sent already, so it is
    handled quietly (by the HTTP error handler, whose response is dropped)."""


class Observe:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await Exchange(self.app, self.settings, scope, receive, send).run()


class Exchange:
    """One request and its response, as seen by ``Observe``."""

    def __init__(self, app: ASGIApp, settings: Settings, scope: Scope, receive: Receive, send: Send) -> None:
        self.app, self.settings, self.scope = app, settings, scope
        self._receive, self._send = receive, send
        self.request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = self.request_id
        length = Headers(scope=scope).get("content-length", "")
        self.content_length = int(length) if length.isdigit() else None
        self.received = 0
        self.limit: int | None = None  # known at the first receive, once the route is
        self.streamed = True  # the route reads its body as a stream (a file), not whole
        self.status = 500
        self.started = False
        self.refused = False

    # ---------------------------------------------------------------------------- the exchange
    async def run(self) -> None:
        started = time.perf_counter()
        try:
            largest = max(self.settings.max_body_bytes, self.settings.max_json_body_bytes)
            if self.content_length is not None and self.content_length > largest:
                await self.refuse_length(largest)
            else:
                await self.app(self.scope, self.receive, self.send)
        except Exception:
            if not self.refused:
                raise
        finally:
            self.observe(time.perf_counter() - started)

    def observe(self, elapsed: float) -> None:
        method = self.scope["method"]
        path = self.scope["path"]
        template = getattr(self.scope.get("route"), "path", "unmatched")
        if path.startswith(API_PREFIX) and not template.startswith(API_PREFIX):
            template = API_PREFIX + template  # routers included with a prefix report their own path
        REQUEST_LATENCY.labels(method_label(method), template, str(self.status)).observe(elapsed)
        if not access_log.isEnabledFor(logging.INFO):
            return  # the line is made only where it is written
        line = {
            "request_id": self.request_id,
            "method": method[:16],
            "path": path[:512],
            "route": template,
            "status": self.status,
            "ms": round(elapsed * 1000, 2),
        }
        access_log.info(json.dumps(line))

    async def send(self, message: Message) -> None:
        if self.refused:
            return  # the refusal was answered; the route's own answer is dropped
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            headers = MutableHeaders(scope=message)
            headers["X-Request-ID"] = self.request_id
            for name, value in SECURITY_HEADERS.items():
                if name not in headers:
                    headers[name] = value
        await self._send(message)

    # ------------------------------------------------------------------------------- the body
    async def receive(self) -> Message:
        if self.refused:
            raise BodyRefused(413)
        if self.limit is None:
            self.limit, parsed_as_json = self.route_limit()
            if self.content_length is not None and self.content_length > self.limit:
                await self.refuse_length(self.limit)
            if parsed_as_json:
                return await self.whole_json_body()
        return await self.counted()

    async def counted(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            assert self.limit is not None
            if self.received > self.limit:
                await self.refuse(
                    413,
                    f"the body is larger than the limit of {self.limit} bytes ({self.received} bytes had "
                    f"arrived when it was stopped); {self.advice()}",
                    kind="payload-too-large",
                )
        return message

    def route_limit(self) -> tuple[int, bool]:
        """The body limit of the matched route, and whether the body is JSON (then read whole
        and checked for duplicated keys before the route parses it)."""
        route = self.scope.get("route")
        body_field = getattr(route, "body_field", None)
        json_limit = min(self.settings.max_json_body_bytes, self.settings.max_body_bytes)
        is_form = body_field is not None and isinstance(body_field.field_info, params.Form)
        if self.json_content() and not is_form:
            self.streamed = False
            return json_limit, True
        self.streamed = isinstance(route, APIRoute) and body_field is None
        return (self.settings.max_body_bytes if self.streamed else json_limit), False

    def json_content(self) -> bool:
        kind = Headers(scope=self.scope).get("content-type", "").partition(";")[0].strip().lower()
        return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))

    def advice(self) -> str:
        if self.streamed:
            return "split the file, or raise BATTERYTRACE_MAX_BODY_MB"
        return "send many batteries in a file to /api/v1/batteries/bulk, or raise BATTERYTRACE_MAX_JSON_KB"

    async def whole_json_body(self) -> Message:
        """Read the (bounded) body whole, refuse a duplicated key, and hand it on in one message."""
        parts = []
        while True:
            message = await self.counted()
            if message["type"] != "http.request":
                return message  # the client went away: the route sees it as usual
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(parts)
        if len(body) > PARSE_IN_THREAD_BYTES:  # parsing a large body would hold up the event loop
            duplicated = await anyio.to_thread.run_sync(duplicated_key, body)
        else:
            duplicated = duplicated_key(body)
        if duplicated is not None:
            await self.refuse(
                422,
                f"the JSON body names the key {duplicated[:100]!r} twice in one object; send each key once",
                kind="duplicate-key",
            )
        return {"type": "http.request", "body": body, "more_body": False}

    # ---------------------------------------------------------------------------- refusing
    async def refuse_length(self, limit: int) -> None:
        self.limit = limit
        await self.refuse(
            413,
            f"the body has {self.content_length} bytes; the limit is {limit} bytes ({self.advice()})",
            kind="payload-too-large",
        )

    async def refuse(self, status: int, detail: str, *, kind: str) -> None:
        """Answer at once (unless the response has begun) and stop the route that was reading."""
        if not self.started:
            # Connection: close when the rest of the body is unread: the server then never reads it
            headers = {"Connection": "close"} if status == 413 else None
            response = problem(status, detail, kind=kind, headers=headers)
            await self.send(
                {"type": "http.response.start", "status": status, "headers": response.raw_headers}
            )
            await self._send({"type": "http.response.body", "body": response.body})
        self.refused = True
        raise BodyRefused(status, detail)


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return found


def duplicated_key(body: bytes) -> str | None:
    """The first key given twice in one object of a JSON body; None if none is (or if the body is
    not JSON: FastAPI then says what is wrong with it)."""
    try:
        json.loads(body, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as duplicate:
        return duplicate.key
    except (ValueError, RecursionError):
        return None
    return None
