"""Prometheus metrics: request latency by route, events appended, the store head and view lag."""

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
