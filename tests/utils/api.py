"""An in-process HTTP client on a store with the national cast, and an API key for each member."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from fastapi.testclient import TestClient

from batterytrace.trace.api.app import create_app
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.utils.cast import NationalCast, register_cast

CAST_ROLES = (
    "regulator",
    "manufacturer",
    "other_manufacturer",
    "vehicle_maker",
    "outlet_operator",
    "dismantler",
    "recycler",
    "informal_recycler",
    "cascade_user",
)


@dataclass
class Api:
    client: TestClient
    cast: NationalCast
    keys: dict[str, str] = field(default_factory=dict)

    def auth(self, member: str | None) -> dict[str, str]:
        """Headers acting as a cast member (e.g. "recycler"), or none for the public."""
        return {"Authorization": f"Bearer {self.keys[member]}"} if member else {}

    @property
    def service(self) -> BatteryTrace:
        return self.client.app.state.service  # type: ignore[attr-defined]


@contextmanager
def api_on(database_url: str, *, run_projections: bool = True, **settings: object) -> Iterator[Api]:
    """Register the cast, issue keys, then serve the app in-process (lifespan included)."""
    service = BatteryTrace(Settings(database_url=database_url))
    cast = register_cast(service)
    keys = {
        member: service.issue_api_key(actor_id=None, participant_id=getattr(cast, member)).token
        for member in CAST_ROLES
    }
    service.close()
    app = create_app(Settings(database_url=database_url, **settings), run_projections=run_projections)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, cast=cast, keys=keys)
