"""The endpoints an app serves, as (method, path template) pairs, for tests that must cover every one."""

from __future__ import annotations

from typing import Any


def _flat_routes(app: Any) -> list[Any]:
    """Every route of the app. FastAPI ≥ 0.16x keeps an included router as one entry of
    ``app.routes``; ``iter_route_contexts`` flattens it into the routes it serves."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def app_endpoints(app: Any) -> set[tuple[str, str]]:
    """(method, path template) of every route. A GET route's implicit HEAD (Starlette adds it to
    plain routes such as /docs) is left out; a route without methods (a mount, a websocket) is
    listed under its kind, so that a table of endpoints has to say something about it too."""
    endpoints: set[tuple[str, str]] = set()
    for route in _flat_routes(app):
        path = getattr(route, "path", None) or repr(route)
        methods = set(getattr(route, "methods", None) or ())
        if not methods:
            kind = type(getattr(route, "original_route", route)).__name__.upper()
            endpoints.add((kind, path))
            continue
        if "GET" in methods:
            methods.discard("HEAD")
        endpoints.update((method, path) for method in methods)
    return endpoints
