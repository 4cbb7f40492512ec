"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from batterytrace.trace.api.deps import Runner
from batterytrace.trace.api.metrics import REGISTRY
from batterytrace.trace.api.problems import problem

router = APIRouter(tags=["operations"])
log = logging.getLogger("batterytrace.api")

STORE_HEAD = Gauge(
    "batterytrace_store_head", "Notification id of the newest stored event.", registry=REGISTRY
)
VIEW_LAG = Gauge(
    "batterytrace_projection_lag", "Events a view has not applied yet.", ["view"], registry=REGISTRY
)


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:  # async: answers while every worker thread is busy
    return {"status": "ok"}


@router.get(
    "/readyz", summary="The database answers and the views are close to the store", response_model=None
)
def readyz(request: Request, runner: Runner) -> Any:
    limit = request.app.state.settings.ready_max_lag
    try:
        status = runner.status()
    except Exception as error:  # any database failure means not ready; its text is for the log only
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        log.warning("not ready: the database does not answer: %s", first_line)
        return problem(503, "the database is not reachable; see the service's log", kind="not-ready")
    lag = {s.view: s.lag for s in status}
    if max(lag.values(), default=0) > limit:
        return problem(
            503, f"views lag behind the store by more than {limit} events", kind="not-ready", lag=lag
        )
    return {"status": "ready", "head": status[0].head if status else 0, "lag": lag}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(runner: Runner) -> Response:
    try:
        for s in runner.status():
            STORE_HEAD.set(s.head)
            VIEW_LAG.labels(s.view).set(s.lag)
    except Exception:  # metrics must answer even while the database is down
        pass
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
