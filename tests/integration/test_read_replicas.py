"""Choosing the database a read runs on (trace/read_replicas.py), on real streaming replication:
a standby that is up and caught up answers; one that lags beyond the bound, is down or is no
standby is skipped and used again once it is fit; a read naming a write waits for the standby to
include it, else goes to the primary; a connection opened while the standby is down goes to the
primary, and is replaced once it is back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

import pytest
from sqlalchemy import Engine, text

from batterytrace.projections.runner import ViewRunner
from batterytrace.store import ConfigurationError
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.read_replicas import ReadReplicas, lsn_number
from batterytrace.trace.settings import Settings
from tests.utils.cast import register_cast
from tests.utils.event_loops import run_alone
from tests.utils.replication import Replication, replication_for_tests

pytestmark = [pytest.mark.slow]
MAX_LAG = 2  # seconds; checks here are explicit (check()), so a healthy standby is well within
T = TypeVar("T")


@dataclass
class Setup:
    clusters: Replication
    service: BatteryTrace
    runner: ViewRunner
    replicas: ReadReplicas

    regulator: str

    def write_and_project(self) -> int:
        """One more event in the store (an API key issued), applied to the views on the primary;
        the views' position then."""
        self.service.issue_api_key(actor_id=None, participant_id=self.regulator)
        self.runner.catch_up()
        return self.runner.views_position()


@pytest.fixture(scope="module")
def clusters() -> Iterator[Replication]:
    yield from replication_for_tests()


@pytest.fixture
def setup(clusters: Replication) -> Iterator[Setup]:
    if not clusters.replica_running():
        clusters.start_replica()
    with clusters.primary.connect() as connection:
        connection.execute("DROP SCHEMA IF EXISTS public CASCADE")
        connection.execute("CREATE SCHEMA public")
    service = BatteryTrace(Settings(database_url=clusters.primary_url))
    runner = ViewRunner(service)
    cast = register_cast(service)
    runner.catch_up()
    clusters.wait_replayed()
    replicas = ReadReplicas(
        [clusters.replica_url],
        primary=runner.engine,
        views_url=clusters.primary_url,
        view_names=list(runner.views),
        max_lag_seconds=MAX_LAG,
    )
    try:
        yield Setup(clusters, service, runner, replicas, cast.regulator)
    finally:
        replicas.close()
        runner.engine.dispose()
        service.close()
        with clusters.replica.connect() as connection:
            if connection.execute("SELECT pg_is_wal_replay_paused()").fetchone() == (True,):
                connection.execute("SELECT pg_wal_replay_resume()")


def served_by_standby(engine: Engine) -> bool:
    with engine.connect() as connection:
        return bool(connection.execute(text("SELECT pg_is_in_recovery()")).scalar())


def test_a_caught_up_standby_answers_reads(setup: Setup) -> None:
    assert setup.replicas.choose() is None  # not checked yet: the primary answers
    setup.replicas.check()
    (status,) = setup.replicas.status()
    assert status.state == "ok", status
    assert status.lag_seconds is not None and status.lag_seconds < MAX_LAG
    assert status.position == setup.runner.views_position() > 0
    replica = setup.replicas.choose()
    assert replica is not None and served_by_standby(replica.engine)
    with replica.engine.connect() as connection:  # the views are there, in the views' schema
        assert connection.execute(text("SELECT count(*) FROM view_positions")).scalar() == len(
            setup.runner.views
        )


def test_a_standby_lagging_beyond_the_bound_is_skipped_until_it_catches_up(setup: Setup) -> None:
    setup.replicas.check()
    assert setup.replicas.choose() is not None
    with setup.clusters.replica.connect() as connection:
        connection.execute("SELECT pg_wal_replay_pause()")
    with setup.clusters.primary.connect() as connection:
        connection.execute("CREATE TABLE lag_marker (id int)")
    deadline = time.monotonic() + MAX_LAG + 10
    while setup.replicas.choose() is not None and time.monotonic() < deadline:
        time.sleep(0.2)
        setup.replicas.check()
    (status,) = setup.replicas.status()
    assert status.state == "lagging" and status.lag_seconds > MAX_LAG, status
    assert setup.replicas.choose() is None
    with setup.clusters.replica.connect() as connection:
        connection.execute("SELECT pg_wal_replay_resume()")
    setup.clusters.wait_replayed()
    setup.replicas.check()
    assert setup.replicas.status()[0].state == "ok"
    assert setup.replicas.choose() is not None


def test_a_read_naming_a_write_waits_for_the_standby_else_the_primary_answers(setup: Setup) -> None:
    setup.replicas.check()
    position = setup.runner.views_position()
    assert run_alone(setup.replicas.replica_for(position, wait=0.5)) is not None
    with setup.clusters.replica.connect() as connection:
        connection.execute("SELECT pg_wal_replay_pause()")
    newer = setup.write_and_project()
    assert newer > position
    started = time.monotonic()
    assert run_alone(setup.replicas.replica_for(newer, wait=0.5)) is None  # the primary answers
    assert 0.4 < time.monotonic() - started < 5
    with setup.clusters.replica.connect() as connection:
        connection.execute("SELECT pg_wal_replay_resume()")
    setup.replicas.check()
    replica = run_alone(setup.replicas.replica_for(newer, wait=5.0))
    assert replica is not None and served_by_standby(replica.engine)


def test_a_stopped_standby_is_skipped_its_reads_go_to_the_primary_and_it_is_used_again(setup: Setup) -> None:
    setup.replicas.check()
    replica = setup.replicas.choose()
    assert replica is not None and served_by_standby(replica.engine)
    setup.clusters.stop_replica()
    try:
        # chosen just before it stopped: the read is answered anyway, by the primary
        assert not served_by_standby(replica.engine)
        assert setup.replicas.status()[0].state == "down"
        assert setup.replicas.choose() is None
        setup.replicas.check()
        (status,) = setup.replicas.status()
        assert status.state == "down" and status.detail, status
    finally:
        setup.clusters.start_replica()
    setup.write_and_project()  # written while it was away (or starting)
    setup.clusters.wait_replayed()
    setup.replicas.check()
    assert setup.replicas.status()[0].state == "ok"
    again = setup.replicas.choose()
    assert again is replica
    assert served_by_standby(again.engine)  # the pooled connection to the primary was replaced
    with again.engine.connect() as connection:
        position = connection.execute(text("SELECT min(position) FROM view_positions")).scalar()
    assert position == setup.runner.views_position()


def test_a_server_that_is_not_a_standby_is_never_chosen(setup: Setup) -> None:
    not_standby = ReadReplicas(
        [setup.clusters.primary_url],
        primary=setup.runner.engine,
        views_url=setup.clusters.primary_url,
        view_names=list(setup.runner.views),
        max_lag_seconds=MAX_LAG,
    )
    try:
        not_standby.check()
        assert not_standby.status()[0].state == "not-standby"
        assert not_standby.choose() is None
    finally:
        not_standby.close()


def test_wal_positions_compare_as_numbers() -> None:
    assert lsn_number("0/16B3748") == 0x16B3748
    assert lsn_number("1/0") > lsn_number("0/FFFFFFFF")
    assert lsn_number(None) is None


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        (
            {"BATTERYTRACE_READ_DATABASE_URLS": "postgresql://r@replica:5432/bt"},
            "the views are not in PostgreSQL",
        ),
        (
            {
                "BATTERYTRACE_DATABASE_URL": "postgresql://p@primary:5432/bt",
                "BATTERYTRACE_READ_DATABASE_URLS": "postgresql://r@replica:5432/bt, mysql://x:secret@other/bt",
            },
            "'other/bt' is not a PostgreSQL URL",
        ),
        ({"BATTERYTRACE_READ_MAX_LAG_SECONDS": "0"}, "BATTERYTRACE_READ_MAX_LAG_SECONDS='0' must be"),
    ],
)
def test_read_settings_are_checked_at_start(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    for name in ("BATTERYTRACE_DATABASE_URL", "BATTERYTRACE_VIEWS_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=message) as refused:
        Settings.from_environment()
    assert "secret" not in str(refused.value)


def test_read_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATTERYTRACE_DATABASE_URL", "postgresql://p@primary:5432/bt")
    monkeypatch.setenv("BATTERYTRACE_READ_DATABASE_URLS", " postgresql://r@a:5432/bt ,postgresql://r@b/bt,")
    monkeypatch.setenv("BATTERYTRACE_READ_MAX_LAG_SECONDS", "3")
    settings = Settings.from_environment()
    assert settings.read_database_urls == ("postgresql://r@a:5432/bt", "postgresql://r@b/bt")
    assert settings.read_max_lag_seconds == 3
    monkeypatch.delenv("BATTERYTRACE_READ_DATABASE_URLS")
    monkeypatch.delenv("BATTERYTRACE_READ_MAX_LAG_SECONDS")
    assert Settings.from_environment().read_database_urls == ()
    assert Settings.from_environment().read_max_lag_seconds == 5
