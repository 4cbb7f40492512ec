"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from batterytrace.trace.api.deps import Runner, read_replicas
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
REPLICA_LAG = Gauge(
    "batterytrace_read_replica_lag_seconds",
    "How far a read replica is at most behind the views' database (NaN: never seen caught up).",
    ["replica"],
    registry=REGISTRY,
)
REPLICA_USED = Gauge(
    "batterytrace_read_replica_usable",
    "1 while a read replica answers reads; 0 while it is skipped (down, lagging, not a standby).",
    ["replica"],
    registry=REGISTRY,
)


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:  # async: answers while every worker thread is busy
    return {"status": "ok"}


@router.get(
    "/readyz", summary="The database answers and the views are close to the store", response_model=None
)
def readyz(request: Request, runner: Runner) -> Any:
    """Ready while the database answers and the views lag at most BATTERYTRACE_READY_MAX_LAG
    events. Read replicas are listed with their state, but one that is down or lagging does not
    make the service unready: its reads go to the views' database."""
    limit = request.app.state.settings.ready_max_lag
    replicas = read_replicas(request.app)
    shown = {"read_replicas": [s.as_json() for s in replicas.status()]} if replicas else {}
    try:
        status = runner.status()
    except Exception as error:  # any database failure means not ready; its text is for the log only
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        log.warning("not ready: the database does not answer: %s", first_line)
        return problem(503, "the database is not reachable; see the service's log", kind="not-ready", **shown)
    lag = {s.view: s.lag for s in status}
    if max(lag.values(), default=0) > limit:
        return problem(
            503, f"views lag behind the store by more than {limit} events", kind="not-ready", lag=lag, **shown
        )
    return {"status": "ready", "head": status[0].head if status else 0, "lag": lag, **shown}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request, runner: Runner) -> Response:
    try:
        for s in runner.status():
            STORE_HEAD.set(s.head)
            VIEW_LAG.labels(s.view).set(s.lag)
    except Exception:  # metrics must answer even while the database is down
        pass
    replicas = read_replicas(request.app)
    for replica in replicas.status() if replicas else ():
        REPLICA_LAG.labels(replica.name).set(
            float("nan") if replica.lag_seconds is None else replica.lag_seconds
        )
        REPLICA_USED.labels(replica.name).set(1 if replica.usable else 0)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
