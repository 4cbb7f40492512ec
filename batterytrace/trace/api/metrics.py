"""Prometheus metrics: request latency by route, events appended, the store head and view lag,
failed authentications.

Every label takes its value from a fixed set (route templates, known methods, status codes), so
no request can add series: a series lives for as long as the process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUEST_LATENCY = Histogram(
    "batterytrace_request_seconds",
    "HTTP request latency by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_APPENDED = Counter(
    "batterytrace_events_appended", "Domain events recorded by this process.", registry=REGISTRY
)
AUTH_FAILURES = Counter(
    "batterytrace_auth_failures",
    "Requests whose API key was refused (invalid, revoked) or not even tried (throttled).",
    ["outcome"],
    registry=REGISTRY,
)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """The method as a label: one of the standard ones, else ``other`` (a client may send any
    token as a method, and each new label value would be a new series for good)."""
    return method if method in KNOWN_METHODS else "other"
