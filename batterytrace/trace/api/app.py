"""The HTTP service: one FastAPI application over the same application service as the CLI.

The lifespan opens the event store and the views once per process; unless told otherwise it also
runs the projection follower in a background thread, so a single process is a whole deployment.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.api import middleware, problems
from batterytrace.trace.api.batch_thread import BatchThread
from batterytrace.trace.api.metrics import EVENTS_APPENDED
from batterytrace.trace.api.routes import (
    api_keys,
    batches,
    batteries,
    collection_points,
    epcis,
    ledger,
    lifecycle,
    ops,
    outlet,
    participants,
    passport,
    production,
    reports,
    resolver,
    scan,
    vehicles,
)
from batterytrace.trace.api.written_together import write_together
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.pages import docs, home
from batterytrace.trace.pages import routes as pages
from batterytrace.trace.settings import Settings

log = logging.getLogger("batterytrace.api")

DESCRIPTION = """
Full-lifecycle traceability of EV power batteries (GB/T 34014 codes): production, installation,
retirement, collection at recycling service outlets, handover, cascade use and recycling.

Every write needs an API key (`Authorization: Bearer bt_…`) and is authorised for the caller's own
codes and collection points. Writes answer with the notification id of their last event; pass it
as `?after=ID` (or the `X-After-Notification` header) to a query to read your own write.
Errors are RFC 9457 problem details.
"""


def create_app(
    settings: Settings | None = None, *, run_projections: bool = True, freeze_start_up: bool = False
) -> FastAPI:
    """The application; ``freeze_start_up``: a serving process's (``create_app_from_environment``),
    see ``_freeze_start_up``."""
    settings = settings or Settings.from_environment()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = BatteryTrace(settings)
        service.recorded_listeners.append(EVENTS_APPENDED.inc)
        runner = ViewRunner(service)
        runner.catch_up()
        app.state.service = service
        app.state.runner = runner
        app.state.writes = BatchThread(partial(write_together, service), name="writes")
        service.key_usage.share(runner.engine)  # when keys were last used: beside the views
        stop = threading.Event()
        follower = None
        if run_projections:
            follower = threading.Thread(target=runner.follow, args=(stop,), name="projections", daemon=True)
            follower.start()
        log.info("batterytrace ready (projections %s)", "in-process" if run_projections else "external")
        if freeze_start_up:
            _freeze_start_up()
        try:
            yield
        finally:
            app.state.writes.close()
            stop.set()
            if follower is not None:
                follower.join(timeout=10)
            runner.engine.dispose()
            replicas = getattr(app.state, "read_replicas", None)
            if replicas is not None:
                replicas.close()
            service.close()

    app = FastAPI(
        title="batterytrace",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from pages.docs: vendored assets, strict headers
        redoc_url=None,
        openapi_tags=[
            {"name": "production", "description": "Manufacturers record batteries, one or in bulk."},
            {
                "name": "lifecycle",
                "description": "Install, remove, retire, cascade reuse, hand over, recycle.",
            },
            {"name": "scan", "description": "Collection points take batteries in by scanning them."},
            {
                "name": "outlet",
                "description": "An outlet's points, the batteries it holds, receivers and whitelists.",
            },
            {"name": "batteries", "description": "One battery's lifecycle and lineage."},
            {"name": "reports", "description": "Network and regulator reports."},
            {"name": "participants", "description": "Regulators register participants and manage keys."},
            {"name": "epcis", "description": "GS1 EPCIS 2.0: documents, the events query, capture."},
            {
                "name": "passport",
                "description": "EU battery passport: model data, readings, a battery's passport.",
            },
            {
                "name": "ledger",
                "description": "Tamper evidence: signed checkpoints, proofs, a battery's evidence file.",
            },
            {"name": "resolver", "description": "QR codes and the public battery page."},
            {"name": "operations", "description": "Health, readiness and metrics."},
        ],
    )
    app.state.settings = settings
    problems.install(app)
    middleware.install(app, settings)
    # Routes are matched in the order they are included: the scan, the busiest route (an
    # outlet's handhelds), first; matching it behind three routers cost ~20 µs a scan.
    for module in (
        scan,
        production,
        lifecycle,
        vehicles,
        batteries,
        reports,
        participants,
        api_keys,
        collection_points,
        outlet,
        batches,
        epcis,
        passport,
        ledger,
    ):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(resolver.router)
    app.include_router(epcis.resolver_router)  # /loc/… and /party/…: what EPCIS documents name
    app.include_router(ops.router)
    app.include_router(ledger.well_known_router)  # the ledger's public key
    app.include_router(pages.router)
    app.include_router(docs.router)
    app.include_router(home.router)  # the start page at /
    return app


def create_app_from_environment() -> FastAPI:
    """Factory for uvicorn workers (``--workers N``): settings from the environment; the
    projection follower runs unless BATTERYTRACE_NO_PROJECTIONS is set."""
    import os

    return create_app(run_projections=not os.environ.get("BATTERYTRACE_NO_PROJECTIONS"), freeze_start_up=True)


def _freeze_start_up() -> None:
    """Move what start-up made (modules, the app, its routes and schemas, the store's pools) out
    of the cyclic collector's sight, once the service is ready.

    Why: a full collection walks every tracked object, and the ~150,000 that start-up leaves took
    each one 50-70 ms in a serving process under load, with every request in flight waiting:
    ten of them in an 8 s scan run were PostgreSQL's p99 (76-81 ms at 16 connections; 45-49 ms
    frozen, two interleaved pairs of ``python -m bench.scan_rate``, issue 13). Objects made later
    are collected as before; frozen ones are still freed when their last reference goes. Only the
    serving processes freeze: a test process that makes many apps would keep their cycles."""
    gc.collect()
    gc.freeze()
