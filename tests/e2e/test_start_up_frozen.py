"""A serving process moves what its start-up made out of the cyclic collector's sight once it is
ready (``api/app.py``, ``_freeze_start_up``: full collections under load were PostgreSQL's p99),
and only a serving process does: a test process making many apps must not keep their cycles."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from batterytrace.trace.api.app import create_app
from batterytrace.trace.settings import Settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_serving_app_freezes_its_start_up_once_ready(sqlite_url: str, unfrozen: None) -> None:
    app = create_app(Settings(database_url=sqlite_url), run_projections=False, freeze_start_up=True)
    assert gc.get_freeze_count() == 0
    with TestClient(app) as client:
        assert gc.get_freeze_count() > 10_000  # the modules, the app, its routes and schemas
        assert client.get("/healthz").status_code == 200


def test_an_app_made_by_a_test_freezes_nothing(sqlite_url: str, unfrozen: None) -> None:
    with TestClient(create_app(Settings(database_url=sqlite_url), run_projections=False)):
        assert gc.get_freeze_count() == 0
