"""The replication harness itself (tests/utils/replication.py): the replica is a real streaming
hot standby of the temporary primary, it refuses writes, a stopped one refuses connections, and a
restarted one catches up on what the primary wrote meanwhile; everything is gone afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.utils import replication as harness
from tests.utils.replication import Replication, replication, replication_for_tests, require_replication

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def clusters() -> Iterator[Replication]:
    yield from replication_for_tests()


def test_a_row_written_on_the_primary_is_read_on_the_replica(clusters: Replication) -> None:
    with clusters.primary.connect() as primary:
        primary.execute("CREATE TABLE harness_rows (id int PRIMARY KEY, note text)")
        primary.execute("INSERT INTO harness_rows VALUES (1, '第一')")
    clusters.wait_replayed()
    with clusters.replica.connect() as replica:
        assert replica.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        assert replica.execute("SELECT note FROM harness_rows WHERE id = 1").fetchone() == ("第一",)
    with clusters.primary.connect() as primary:
        senders = primary.execute("SELECT state FROM pg_stat_replication").fetchall()
    assert senders == [("streaming",)]


def test_the_replica_refuses_writes(clusters: Replication) -> None:
    with clusters.replica.connect() as replica, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        replica.execute("CREATE TABLE refused (id int)")


def test_a_stopped_replica_refuses_and_a_restarted_one_catches_up(clusters: Replication) -> None:
    with clusters.primary.connect() as primary:
        primary.execute("CREATE TABLE IF NOT EXISTS caught_up (id int PRIMARY KEY)")
    clusters.wait_replayed()
    clusters.stop_replica()
    try:
        assert not clusters.replica_running()
        with pytest.raises(psycopg.OperationalError):
            clusters.replica.connect(timeout=2).close()
        with clusters.primary.connect() as primary:  # the primary goes on while the replica is away
            primary.execute("INSERT INTO caught_up SELECT generate_series(1, 5000)")
    finally:
        clusters.start_replica()
    clusters.wait_replayed()
    with clusters.replica.connect() as replica:
        assert replica.execute("SELECT count(*) FROM caught_up").fetchone() == (5000,)


def test_the_clusters_are_removed_afterwards_even_on_failure() -> None:
    require_replication()
    folder: Path | None = None
    port = 0
    with pytest.raises(RuntimeError, match="a test failed"), replication() as setup:
        folder, port = setup.folder, setup.primary.port
        raise RuntimeError("a test failed")
    assert folder is not None and not folder.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=2).close()


def test_missing_server_tools_skip_with_the_reason_or_fail_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.os, "access", lambda *_args: False)
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match=r"initdb, pg_ctl, pg_basebackup\) are not installed"):
        require_replication()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: the replication tests must run"):
        require_replication()
