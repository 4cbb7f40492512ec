"""``serve``: run the HTTP service with uvicorn (optionally on fresh demo data)."""

from __future__ import annotations

import copy
import logging.config
import os
import signal
import sys
from typing import Annotated, Any

import typer

from batterytrace.cli.common import console
from batterytrace.cli.follower import FollowerSupervisor
from batterytrace.cli.serve_demo import prepare_demo


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes.")] = 1,
    no_projections: Annotated[
        bool,
        typer.Option(
            "--no-projections",
            help="Do not start the view follower process (run 'projections run' apart).",
        ),
    ] = False,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Load demo data into an empty store and print demo API keys."),
    ] = False,
    demo_batteries: Annotated[int, typer.Option("--demo-batteries", help="Demo size.")] = 2000,
    log_level: Annotated[
        str | None,
        typer.Option("--log-level", help="critical, error, warning, info or debug (BATTERYTRACE_LOG_LEVEL)."),
    ] = None,
) -> None:
    """Start the HTTP API, the QR resolver and the pages."""
    import uvicorn

    from batterytrace.store import describe_database
    from batterytrace.trace.api.http_protocol import PROBLEM_PROTOCOL
    from batterytrace.trace.settings import LOG_LEVELS, Settings

    if workers < 1:
        raise typer.BadParameter("--workers must be 1 or more")
    settings = Settings.from_environment()
    level = (log_level or settings.log_level).lower()
    if level not in LOG_LEVELS:
        raise typer.BadParameter(f"--log-level must be one of {', '.join(LOG_LEVELS)}")
    address = f"http://{host}:{port}"
    if demo:
        prepare_demo(demo_batteries, address)
    where = f"store: {describe_database(settings.database_url)}"
    if settings.views_apart:
        from batterytrace.projections.database import VIEWS_SETTING, naming

        with naming(VIEWS_SETTING):
            where += f", views: {describe_database(settings.views_database_url)}"
    console.print(
        f"batterytrace on {address}  ({where})\n"
        f"  start page            {address}/\n"
        f"  outlet scanning page  {address}/outlet     (sign in with an outlet_operator key)\n"
        f"  regulator dashboard   {address}/regulator  (sign in with a regulator key)\n"
        f"  a battery's QR page   {address}/b/<battery code>\n"
        f"  API documentation     {address}/docs\n"
        f"  health probes         {address}/healthz  {address}/readyz"
    )
    # The HTTP workers never follow events themselves: the follower is a process of its own
    # (cli/follower.py), so that view updates do not compete with requests for the interpreter.
    os.environ["BATTERYTRACE_NO_PROJECTIONS"] = "1"
    logging.config.dictConfig(logging_config(level))
    probe_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    ready_url = f"http://{probe_host}:{port}/readyz"
    supervisor = None if no_projections else FollowerSupervisor(ready_url=ready_url)
    # uvicorn drains on SIGTERM, then raises the signal again with the handler it found: with
    # Python's default one a clean shutdown would still end as "killed by SIGTERM" (exit -15).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if supervisor is not None:
            supervisor.start()
        uvicorn.run(
            "batterytrace.trace.api.app:create_app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=level,
            log_config=logging_config(level),
            access_log=False,  # the service writes its own access line, as JSON with the request id
            http=PROBLEM_PROTOCOL,  # a request that is not HTTP is refused as a problem+json too
            timeout_graceful_shutdown=20,
        )
    finally:
        if supervisor is not None:
            supervisor.stop()


def logging_config(level: str) -> dict[str, Any]:
    """uvicorn's logging plus the service's loggers, all to stderr: ``batterytrace.access`` and
    ``batterytrace.security`` as one JSON object a line (for a log shipper), the others (errors,
    the projections, refusals) as text. Given to uvicorn, so each worker process applies it."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    stderr = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    config["formatters"]["batterytrace"] = {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    config["formatters"]["json_lines"] = {"format": "%(message)s"}
    config["handlers"]["batterytrace"] = {**stderr, "formatter": "batterytrace"}
    config["handlers"]["json_lines"] = {**stderr, "formatter": "json_lines"}
    for name, handler in (
        ("batterytrace", "batterytrace"),
        ("batterytrace.access", "json_lines"),
        ("batterytrace.security", "json_lines"),
    ):
        config["loggers"][name] = {"handlers": [handler], "level": level.upper(), "propagate": False}
    return config
