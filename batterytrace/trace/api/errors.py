"""HTTP-only refusals (the domain's own errors live in batterytrace.events.errors)."""

from __future__ import annotations

from batterytrace.store import StoreUnavailable


class ViewsBehind(StoreUnavailable):
    """Read-your-writes waited and the views did not catch up in time."""

    kind = "views-behind"


class PayloadTooLarge(Exception):
    """A body over the configured size."""
