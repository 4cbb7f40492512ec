"""Views in a database of their own (``BATTERYTRACE_VIEWS_DATABASE_URL``), on real stores, in every
combination: the store on SQLite with the views in another SQLite file or in PostgreSQL, the store
on PostgreSQL with the views in another schema or in a SQLite file.

Each combination: the service answers scans, reports, the battery and its public page from the
views' database (HTTP, and the CLI's quick and full read paths); ``projections rebuild`` rebuilds
there; the event store's database holds no view table; runners and the follower process killed
mid-way leave views equal to a rebuild (the position commits with the rows in the views' database,
and the store is only read); a wrong or unreachable views URL is one line naming the setting. With
the default (no views URL) everything stays in the store's database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import inspect

from batterytrace.projections.database import create_view_engine
from batterytrace.projections.freshness import views_are_current
from batterytrace.projections.plain_reads import open_current_views
from batterytrace.projections.runner import ViewRunner
from batterytrace.projections.tables import VIEW_TABLES, VIEWS
from batterytrace.store import ConfigurationError
from batterytrace.trace.api.app import create_app
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.e2e.test_api_scan import retired, scan_text
from tests.e2e.test_cli import Cli
from tests.integration.test_projection_crash import CHILD_RUNNER
from tests.utils.api import api_on
from tests.utils.cast import credit_code, register_cast
from tests.utils.stores import fresh_schema
from tests.utils.views import demo_store, differences, varied_store, view_contents

COMBINATIONS = ("sqlite+sqlite", "postgres+postgres", "sqlite+postgres", "postgres+sqlite")
# The slow stories (CLI processes, killed runners) run in both directions between the two
# databases; the combinations of one kind are covered by the quicker tests.
BOTH_DIRECTIONS = ("sqlite+postgres", "postgres+sqlite")
VIEW_TABLE_NAMES = {table.name for tables in VIEW_TABLES.values() for table in tables} | {"view_positions"}


@dataclass(frozen=True)
class Split:
    """An event store and a views database apart from it."""

    store_url: str
    views_url: str
    name: str

    @property
    def settings(self) -> Settings:
        return Settings(database_url=self.store_url, views_database_url=self.views_url)


@pytest.fixture(params=COMBINATIONS)
def split(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Split]:
    store_kind, views_kind = request.param.split("+")
    with (
        _database(request, tmp_path, store_kind, "store") as store,
        _database(request, tmp_path, views_kind, "views") as views,
    ):
        yield Split(store, views, request.param)


def _database(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str, name: str
) -> AbstractContextManager[str]:
    """A fresh schema of the test server, or a SQLite file of its own."""
    if kind == "postgres":
        request.applymarker(pytest.mark.postgres)
        return fresh_schema(request.getfixturevalue("postgres_server"), name)
    return nullcontext(f"sqlite:///{tmp_path / name}.db")


def table_names(database_url: str) -> set[str]:
    engine = create_view_engine(database_url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def assert_views_only_in_their_database(split: Split) -> None:
    in_store = table_names(split.store_url)
    assert not in_store & VIEW_TABLE_NAMES, f"view tables in the event store: {in_store & VIEW_TABLE_NAMES}"
    assert in_store & {"stored_events", "batterytrace_events"}, in_store  # the store is there
    assert table_names(split.views_url) >= VIEW_TABLE_NAMES


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# ------------------------------------------------------------------------------------- HTTP
def test_the_service_answers_scans_reports_and_pages_from_the_views_database(split: Split) -> None:
    with api_on(split.store_url, views_database_url=split.views_url) as api:
        pack = retired(api, 1)
        scanned = scan_text(api, pack, "views-apart-1")
        assert scanned.status_code == 201, scanned.text
        after = scanned.json()["notification_id"]

        battery = api.client.get(f"/api/v1/batteries/{pack}", params={"after": after})
        assert battery.status_code == 200, battery.text
        assert battery.json()["battery"]["state"] == "collected"
        network = api.client.get(
            "/api/v1/reports/network", params={"after": after}, headers=api.auth("regulator")
        )
        assert network.status_code == 200, network.text
        [point] = [row for row in network.json()["items"] if row["id"] == api.cast.collection_point]
        assert point["collected_count"] == 1
        page = api.client.get(f"/b/{pack}", params={"after": after})
        assert page.status_code == 200 and pack in page.text

        wait_for(lambda: api.client.get("/readyz").json().get("lag") == dict.fromkeys(VIEWS, 0), what="lag 0")
        ready = api.client.get("/readyz").json()
        assert ready["head"] == api.service.recorder.max_notification_id() == after
        metrics = api.client.get("/metrics").text
        assert 'batterytrace_projection_lag{view="lifecycle"} 0.0' in metrics, metrics
        assert f"batterytrace_store_head {float(after)}" in metrics

        # When keys were last used is kept beside the views, not in the event store.
        assert "api_key_usage" in table_names(split.views_url)
    assert_views_only_in_their_database(split)
    assert "api_key_usage" not in table_names(split.store_url)


def test_a_views_url_that_does_not_answer_stops_the_service_with_one_line(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'store.db'}",
        views_database_url="postgresql://postgres@127.0.0.1:1/test",
    )
    with pytest.raises(ConfigurationError) as refused:
        from fastapi.testclient import TestClient

        with TestClient(create_app(settings)):
            pass
    message = refused.value.message
    assert message.startswith("cannot open the views database at postgresql://postgres@127.0.0.1:1/test: ")
    assert message.endswith("check BATTERYTRACE_VIEWS_DATABASE_URL and that its database server is running")
    assert "\n" not in message


# -------------------------------------------------------------------------------------- CLI
@dataclass
class SplitCli(Cli):
    views_url: str = ""

    def env(self, **overrides: str) -> dict[str, str]:
        return super().env(BATTERYTRACE_VIEWS_DATABASE_URL=self.views_url, **overrides)


QUICK_SHOW = """import sys
from batterytrace.cli.main import run
sys.argv = ["batterytrace", "show", "{code}", "--format", "json"]
try:
    run()
except SystemExit as end:
    assert not end.code, end.code
print("sqlalchemy loaded:", "sqlalchemy" in sys.modules, file=sys.stderr)
"""


@pytest.mark.parametrize("split", BOTH_DIRECTIONS, indirect=True)
def test_the_cli_reads_and_rebuilds_the_views_in_their_own_database(split: Split, tmp_path: Path) -> None:
    cli = SplitCli(split.store_url, tmp_path, views_url=split.views_url)
    init = cli.ok("init").stdout
    assert "event store ready at" in init and "views ready at" in init, init
    assert table_names(split.views_url) >= VIEW_TABLE_NAMES  # init made the views' tables there
    if split.store_url.startswith("sqlite"):  # the ledger key is the store's, wherever the views are
        store_file = Path(split.store_url.removeprefix("sqlite:///"))
        assert Path(f"{store_file}.ledger-key").exists()
    if split.views_url.startswith("sqlite"):
        assert not Path(split.views_url.removeprefix("sqlite:///") + ".ledger-key").exists()

    app = BatteryTrace(split.settings)
    try:
        written = varied_store(app, register_cast(app))
    finally:
        app.close()

    status = json.loads(cli.ok("projections", "status", "--format", "json").stdout)
    assert {row["view"]: row["lag"] for row in status} == dict.fromkeys(VIEWS, written.last_notification)
    shown = json.loads(cli.ok("show", written.pack, "--format", "json").stdout)  # catches up first
    assert shown["battery"]["state"] == "recycled"
    quick = json.loads(cli.ok("show", written.pack, "--format", "json").stdout)  # views are current now
    assert quick == shown
    # ... and answered through the drivers alone: the head from the store, the rows from the views.
    program = QUICK_SHOW.format(code=written.pack)
    done = subprocess.run([sys.executable, "-c", program], env=cli.env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == shown
    assert done.stderr.strip() == "sqlalchemy loaded: False", done.stderr
    findings = json.loads(cli.ok("report", "compliance", "--format", "json").stdout)
    assert any(row["code"] == written.non_compliant for row in findings), findings

    engine = create_view_engine(split.views_url)
    try:
        before = view_contents(engine)
        rebuilt = cli.ok("projections", "rebuild").stdout
        assert (
            f"rebuilt lifecycle, network, reports, ledger: {4 * written.last_notification} events" in rebuilt
        )
        after = view_contents(engine)
    finally:
        engine.dispose()
    assert before == after, differences(before, after)
    for url, locked in ((split.views_url, True), (split.store_url, False)):  # the views' rebuild lock
        if url.startswith("sqlite"):
            assert Path(url.removeprefix("sqlite:///") + ".rebuild-lock").exists() is locked, url
    status = json.loads(cli.ok("projections", "status", "--format", "json").stdout)
    assert {row["view"]: row["lag"] for row in status} == dict.fromkeys(VIEWS, 0)
    if split.store_url.startswith("sqlite"):  # signed with the store's key, checked against it
        assert "signed checkpoint(s) verified" in cli.ok("verify").stdout
    assert_views_only_in_their_database(split)


@pytest.mark.parametrize(
    ("views_url", "expected"),
    [
        (
            "postgresql://postgres@127.0.0.1:1/test",
            "error: cannot open the views database at postgresql://postgres@127.0.0.1:1/test: ",
        ),
        ("sqlite:///{tmp}/missing/views.db", "error: the folder of the SQLite file "),
        ("sqlite:///{tmp}/notes.txt", "error: '{tmp}/notes.txt' is not a SQLite database; point "),
        ("mysql://somewhere/views", "error: BATTERYTRACE_VIEWS_DATABASE_URL uses 'mysql'"),
    ],
)
def test_a_wrong_or_unreachable_views_url_is_one_line_naming_the_setting(
    views_url: str, expected: str, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("not a database\n" * 40, encoding="utf-8")
    cli = SplitCli(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, views_url=views_url.format(tmp=tmp_path))
    commands = [("report", "compliance")]  # the read path; all of them for the unreachable server
    if views_url.startswith("postgresql"):
        commands += [("projections", "status"), ("init",)]
    for command in commands:
        line = cli.refused(*command)
        assert line.startswith(expected.format(tmp=tmp_path)), line
        assert "BATTERYTRACE_VIEWS_DATABASE_URL" in line, line
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8").startswith("not a database")


@pytest.mark.postgres
def test_a_views_schema_that_does_not_exist_yet_is_created(postgres_server: str, tmp_path: Path) -> None:
    import psycopg

    schema = f"t_views_{uuid.uuid4().hex[:10]}"
    views_url = f"{postgres_server}{'&' if '?' in postgres_server else '?'}schema={schema}"
    try:
        cli = SplitCli(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, views_url=views_url)
        assert f"views ready at {views_url}" in cli.ok("init").stdout
        assert table_names(views_url) >= VIEW_TABLE_NAMES
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# ------------------------------------------------------------------------- the quick read path
def test_the_quick_read_path_reads_the_head_from_the_store_and_the_views_from_theirs(split: Split) -> None:
    app = BatteryTrace(split.settings)
    try:
        cast = register_cast(app)
        runner = ViewRunner(app)
        runner.catch_up()
        calendar = app.settings.working_calendar()
        store = create_view_engine(split.store_url)
        try:
            plain = open_current_views(split.views_url, calendar, store_url=split.store_url)
            assert plain is not None
            plain.close()
            assert views_are_current(runner.engine, calendar, store)
            # Read alone, the views' database has no store head: never taken for current.
            assert open_current_views(split.views_url, calendar) is None
            assert not views_are_current(runner.engine, calendar)

            app.register_participant(
                actor_id=cast.regulator, credit_code=cast.swap_operator, name="Swaps", roles=["swap_operator"]
            )  # one event the views have not applied
            assert open_current_views(split.views_url, calendar, store_url=split.store_url) is None
            assert not views_are_current(runner.engine, calendar, store)
            runner.catch_up()
            plain = open_current_views(split.views_url, calendar, store_url=split.store_url)
            assert plain is not None
            plain.close()
        finally:
            store.dispose()
            runner.engine.dispose()
    finally:
        app.close()


# ---------------------------------------------------------------------------------- killed
CHILD_BATCH_SIZE = 3
MORE = [credit_code(f"9144030{serial:02d}MA5F0009") for serial in range(20)]  # participants to register
KILLS = 2


def child_env(split: Split) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATTERYTRACE_")}
    env.update(
        BATTERYTRACE_DATABASE_URL=split.store_url,
        BATTERYTRACE_VIEWS_DATABASE_URL=split.views_url,
        NO_COLOR="1",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.mark.slow
@pytest.mark.parametrize("split", BOTH_DIRECTIONS, indirect=True)
def test_runners_and_the_follower_killed_mid_way_leave_views_equal_to_a_rebuild(split: Split) -> None:
    app = BatteryTrace(split.settings)
    runner = ViewRunner(app)
    try:
        regulator = demo_store(app, batteries=40).actors["regulator"]
        head = app.recorder.max_notification_id() or 0
        interrupted = 0
        for kill in range(KILLS):  # small batches: a kill lands inside the catch-up, often in a transaction
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD_RUNNER, str(CHILD_BATCH_SIZE)],
                env=child_env(split),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert child.stdout is not None
            assert child.stdout.readline().startswith("ready"), child.communicate()
            time.sleep(0.2 + 0.15 * kill)
            child.send_signal(signal.SIGKILL)
            child.communicate(timeout=30)
            reached = {s.view: s.position for s in runner.status()}
            interrupted += min(reached.values()) < head
        assert interrupted, "no kill landed before the end of the store; the test proves nothing"

        # The follower process serve keeps: killed while it follows new writes, then restarted.
        follower = [sys.executable, "-m", "batterytrace.cli.follower", "--parent", str(os.getpid())]
        process = subprocess.Popen(follower, env=child_env(split), stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: runner.views_position() >= head, what="the follower to catch up")
            for serial in range(20):  # more writes while it follows
                app.register_participant(
                    actor_id=regulator,
                    credit_code=MORE[serial],
                    name=f"Recycler {serial}",
                    roles=["recycler"],
                )
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            process = subprocess.Popen(follower, env=child_env(split), stderr=subprocess.DEVNULL)
            head = app.recorder.max_notification_id() or 0
            wait_for(lambda: runner.views_position() >= head, what="the restarted follower to catch up")
        finally:
            process.terminate()
            process.wait(timeout=30)

        followed = view_contents(runner.engine)
        runner.rebuild()
        rebuilt = view_contents(runner.engine)
        assert followed == rebuilt, differences(followed, rebuilt)
        assert {s.view: s.position for s in runner.status()} == dict.fromkeys(VIEWS, head)
    finally:
        runner.engine.dispose()
        app.close()
    assert_views_only_in_their_database(split)


# ----------------------------------------------------------------------------- the default
def test_without_a_views_url_the_views_stay_in_the_store_database(database_url: str) -> None:
    settings = Settings(database_url=database_url)
    assert settings.views_database_url == database_url and not settings.views_apart
    app = BatteryTrace(settings)
    runner = ViewRunner(app)
    try:
        register_cast(app)
        runner.catch_up()
        assert table_names(database_url) >= VIEW_TABLE_NAMES
        calendar = settings.working_calendar()
        plain = open_current_views(database_url, calendar, store_url=database_url)
        assert plain is not None
        plain.close()
    finally:
        runner.engine.dispose()
        app.close()
