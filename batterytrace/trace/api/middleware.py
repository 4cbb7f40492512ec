"""Request ids, structured access logs, request metrics and the body-size limit."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from batterytrace.trace.api.metrics import REQUEST_LATENCY
from batterytrace.trace.api.problems import problem
from batterytrace.trace.settings import Settings

access_log = logging.getLogger("batterytrace.access")
API_PREFIX = "/api/v1"


def install(app: FastAPI, settings: Settings) -> None:
    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        request.state.request_id = request_id
        started = time.perf_counter()
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_body_bytes:
            response: Response = problem(
                413,
                f"the body has {int(length)} bytes; the limit is {settings.max_body_bytes} bytes "
                "(split the file, or raise BATTERYTRACE_MAX_BODY_MB)",
                kind="payload-too-large",
            )
        else:
            response = await call_next(request)
        elapsed = time.perf_counter() - started
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        if request.url.path.startswith(API_PREFIX) and not template.startswith(API_PREFIX):
            template = API_PREFIX + template  # routers included with a prefix report their own path
        REQUEST_LATENCY.labels(request.method, template, str(response.status_code)).observe(elapsed)
        response.headers["X-Request-ID"] = request_id
        access_log.info(
            json.dumps(
                {
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.url.path,
                    "route": template,
                    "status": response.status_code,
                    "ms": round(elapsed * 1000, 2),
                }
            )
        )
        return response
