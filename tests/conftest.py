"""Fixtures shared by every layer of tests: the stores, the application, a national cast.

Storage tests run on both SQLite and PostgreSQL. PostgreSQL is found through
BATTERYTRACE_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test); each test gets a
schema of its own, dropped afterwards, so tests never see each other's events. Where the server is
unreachable the PostgreSQL tests skip with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.utils.api import Api
from tests.utils.cast import NationalCast, register_cast

POSTGRES_URL = os.environ.get("BATTERYTRACE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
STORES = ("sqlite", "postgres")


def postgres_unreachable_reason() -> str | None:
    """None when PostgreSQL answers, else why not (checked once per session)."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except Exception as error:  # any failure to connect means the same: no server for tests
        return f"PostgreSQL at {POSTGRES_URL} is unreachable: {str(error).strip().splitlines()[0]}"
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    reason = postgres_unreachable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run, not skip)")
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A database URL pointing at a fresh schema of the test server."""
    from tests.utils.stores import fresh_schema

    with fresh_schema(postgres_server) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'batterytrace.db'}"


@pytest.fixture(params=STORES)
def database_url(request: pytest.FixtureRequest) -> str:
    """Each storage test runs once per store."""
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        return request.getfixturevalue("postgres_url")
    return request.getfixturevalue("sqlite_url")


@pytest.fixture
def app(database_url: str) -> Iterator[BatteryTrace]:
    application = BatteryTrace(Settings(database_url=database_url))
    yield application
    application.close()


@pytest.fixture
def cast(app: BatteryTrace) -> NationalCast:
    """A regulator, manufacturers, a vehicle maker, outlets, recyclers and a cascade-use
    enterprise, registered in ``app``."""
    return register_cast(app)


@pytest.fixture
def fixed_now() -> datetime:
    return datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    """The HTTP API in-process on each store, with the cast registered and a key per member."""
    from tests.utils.api import api_on

    with api_on(database_url) as client:
        yield client


# ------------------------------------------------------------------ the suite's time, per layer
# The suite must stay within a few minutes on 2 cores as it grows: every run ends with the time
# each layer took (setup, call and teardown of its tests), beside pytest's --durations list of the
# slowest tests (pyproject.toml), so a test that makes its layer slow shows in the run that adds it.
_layer_seconds: dict[str, float] = {}
_layer_tests: dict[str, set[str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    layer = report.nodeid.split("/")[1] if report.nodeid.startswith("tests/") else "other"
    _layer_seconds[layer] = _layer_seconds.get(layer, 0.0) + report.duration
    _layer_tests.setdefault(layer, set()).add(report.nodeid)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _layer_seconds:
        return
    terminalreporter.section("time per layer")
    for layer, seconds in sorted(_layer_seconds.items(), key=lambda item: -item[1]):
        tests, minutes = len(_layer_tests[layer]), seconds / 60
        terminalreporter.write_line(f"{layer:<12} {tests:>5} tests {seconds:>6.0f} s = {minutes:.1f} min")
