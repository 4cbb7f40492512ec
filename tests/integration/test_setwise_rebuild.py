"""The set-wise rebuild (``projections/rebuild.py``), on both stores:

- it gives exactly the rows the follower's path gives, also when battery rows are written out
  early to bound memory and read back later, and with pages of any size;
- interrupted at any point (an exception while folding, while writing, or inside the swap after
  the live tables were dropped), it leaves the previous view rows and positions as they were,
  and no half-built table behind;
- a view without a set-wise path still rebuilds through the follower's path beside the others;
- the ledger's tree (leaves, subtrees, chain heads) is the follower's row for row, also when its
  chain heads are written out early and read back; it is signed after the swap only by the
  follower's rule, and a failure while signing leaves the previous views as they were;
- the fast decoder gives the very events the library's mapper gives.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import Connection, Table, inspect, select
from sqlalchemy.exc import IntegrityError

import batterytrace.projections.fresh_tables as fresh_module
import batterytrace.projections.ledger_builder as ledger_builder_module
import batterytrace.projections.lifecycle_view as lifecycle_module
import batterytrace.projections.rebuild as rebuild_module
import batterytrace.projections.reports_view as reports_module
from batterytrace.projections.fresh_tables import FreshTables
from batterytrace.projections.ledger_config import LedgerConfig
from batterytrace.projections.ledger_view import LedgerView
from batterytrace.projections.lifecycle_view import LifecycleView
from batterytrace.projections.network_view import NetworkView
from batterytrace.projections.reports_view import ReportsView
from batterytrace.projections.runner import ViewRunner
from batterytrace.projections.stored_decoding import fast_decoder
from batterytrace.projections.tables import VIEW_TABLES, lifecycle_events, positions
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from bench.rebuild_rate import view_rates
from tests.utils.stores import fresh_schema
from tests.utils.views import demo_store, differences, varied_store, view_contents

SETWISE = ("lifecycle", "network", "reports", "ledger")


class Interrupted(Exception):
    """Injected: stands for any failure of the database or the process mid-way."""


def three_views(app: BatteryTrace) -> dict[str, Any]:
    """The views with a set-wise rebuild (the ledger unsigned: no key; signing is tested in
    ``test_ledger.py``)."""
    calendar = app.settings.working_calendar()
    return {
        "lifecycle": LifecycleView(calendar),
        "network": NetworkView(),
        "reports": ReportsView(calendar),
        "ledger": LedgerView(LedgerConfig(None)),
    }


@pytest.fixture
def runner(app: BatteryTrace) -> Iterator[ViewRunner]:
    made = ViewRunner(app, views=three_views(app))
    yield made
    made.engine.dispose()


def positions_of(runner: ViewRunner) -> dict[str, int]:
    with runner.engine.connect() as connection:
        rows = connection.execute(select(positions.c.view, positions.c.position)).all()
    return {view: position for view, position in rows if view in SETWISE}


def leftover_tables(runner: ViewRunner) -> list[str]:
    with runner.engine.connect() as connection:
        return sorted(t for t in inspect(connection).get_table_names() if t.endswith(fresh_module.SUFFIX))


def test_a_rebuild_gives_what_the_follower_gives_with_rows_written_early_and_small_pages(
    app: BatteryTrace, runner: ViewRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_store(app, batteries=60)
    followed = ViewRunner(app, engine=runner.engine, views=three_views(app), batch_size=37)
    followed.catch_up()
    expected = view_contents(runner.engine)
    # Battery rows written out whenever more than 5 are held, read back when a later event needs
    # them; pages of 11 events, so that a battery's life spans several pages.
    monkeypatch.setattr(lifecycle_module, "ROWS_IN_MEMORY", 5)
    monkeypatch.setattr(reports_module, "ROWS_IN_MEMORY", 5)
    # The ledger's chain heads likewise, and its tree written every few rows.
    monkeypatch.setattr(ledger_builder_module, "HEADS_IN_MEMORY", 5)
    monkeypatch.setattr(ledger_builder_module, "ROWS_PER_WRITE", 7)
    monkeypatch.setattr(rebuild_module, "PAGE_SIZE", 11)
    read_back: list[int] = []
    heads_read_back: list[int] = []
    real_read_back = fresh_module.FreshTables.read_back

    def counted(self: Any, table: Any, key: str, keys: Any) -> dict[str, dict[str, Any]]:
        found = real_read_back(self, table, key, keys)
        (heads_read_back if table.name == "ledger_heads" else read_back).append(len(found))
        return found

    monkeypatch.setattr(fresh_module.FreshTables, "read_back", counted)
    head = runner.head()
    assert runner.rebuild() == head * len(SETWISE)
    assert sum(read_back) > 0, "no battery row was read back: the test does not test that path"
    assert sum(heads_read_back) > 0, "no chain head was read back: the test does not test that path"
    after = view_contents(runner.engine)
    assert after == expected, differences(after, expected)
    assert positions_of(runner) == dict.fromkeys(SETWISE, head)
    assert leftover_tables(runner) == []


def test_the_rebuilt_tables_have_the_live_indexes_and_a_second_rebuild_works(
    app: BatteryTrace, runner: ViewRunner
) -> None:
    demo_store(app, batteries=40)
    runner.catch_up()

    def indexes() -> dict[str, list[Any]]:
        with runner.engine.connect() as connection:
            inspector = inspect(connection)
            return {
                table: sorted(
                    str((i["name"], i["column_names"], i["unique"])) for i in inspector.get_indexes(table)
                )
                + sorted(str((u["name"], u["column_names"])) for u in inspector.get_unique_constraints(table))
                + [str(inspector.get_pk_constraint(table))]
                for table in inspector.get_table_names()
            }

    before = indexes()
    leaves = " ".join(before["ledger_leaves"])
    assert "ix_ledger_leaves_stream" in leaves and "['notification_id']" in leaves  # unique
    assert "['code', 'version']" in before["lifecycle_events"][-1]  # its primary key
    expected = view_contents(runner.engine)
    runner.rebuild()
    runner.rebuild()  # the fresh tables' names (and PostgreSQL's primary key names) are free again
    assert indexes() == before
    assert view_contents(runner.engine) == expected


def _fail_in_a_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reports builder fails on its third page (after pages were written to fresh tables)."""
    monkeypatch.setattr(rebuild_module, "PAGE_SIZE", 50)
    real_add = reports_module.ReportsBuilder.add
    pages: list[int] = []

    def add(self: Any, events: Sequence[tuple[int, Any]]) -> None:
        pages.append(len(events))
        if len(pages) == 3:
            raise Interrupted
        real_add(self, events)

    monkeypatch.setattr(reports_module.ReportsBuilder, "add", add)


def _fail_while_writing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bulk write of the network's points fails (after other tables were written)."""
    real_insert = fresh_module.insert_tuples

    def insert(connection: Connection, table: Any, rows: Any) -> None:
        if table.name.startswith("network_points"):
            raise Interrupted
        real_insert(connection, table, rows)

    monkeypatch.setattr(fresh_module, "insert_tuples", insert)


def _fail_inside_the_swap(monkeypatch: pytest.MonkeyPatch) -> None:
    """The swap fails after dropping three live tables and renaming their fresh ones into
    place (with their indexes): only its transaction protects the old view."""
    real = Table.drop
    dropped: list[str] = []

    def drop(self: Table, bind: Any, checkfirst: bool = False) -> None:
        dropped.append(self.name)
        if len(dropped) == 4:
            raise Interrupted
        real(self, bind, checkfirst=checkfirst)

    monkeypatch.setattr(Table, "drop", drop)


def _fail_while_signing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger's checkpoint, signed in the swap's transaction, fails (say, its key is
    unreadable) after every table was swapped in."""

    def sign(self: Any, connection: Connection, frontier: Any) -> None:
        raise Interrupted

    monkeypatch.setattr(LedgerView, "_maybe_sign", sign)


@pytest.mark.parametrize(
    "inject", [_fail_in_a_builder, _fail_while_writing, _fail_inside_the_swap, _fail_while_signing]
)
def test_an_interrupted_rebuild_leaves_the_previous_views_and_positions_intact(
    app: BatteryTrace, runner: ViewRunner, monkeypatch: pytest.MonkeyPatch, inject: Any
) -> None:
    demo_store(app, batteries=40)
    runner.catch_up()
    before = view_contents(runner.engine)
    at = positions_of(runner)
    demo_events = runner.head()
    inject(monkeypatch)
    with pytest.raises(Interrupted):
        runner.rebuild()
    monkeypatch.undo()
    after = view_contents(runner.engine)
    assert after == before, differences(after, before)
    assert positions_of(runner) == at == dict.fromkeys(SETWISE, demo_events)
    assert leftover_tables(runner) == []
    assert runner.rebuild() == demo_events * len(SETWISE)  # and the next rebuild succeeds
    assert view_contents(runner.engine) == before


def test_a_key_written_twice_fails_the_rebuild_and_changes_nothing(
    app: BatteryTrace, runner: ViewRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fold that makes one timeline row twice (a bug) is refused by the fresh table's key: on
    SQLite at the insert, on PostgreSQL (keys added once the rows are in) before the swap."""
    demo_store(app, batteries=40)
    runner.catch_up()
    before = view_contents(runner.engine)
    at = positions_of(runner)
    insert = fresh_module.insert_tuples

    def twice(connection: Connection, table: Any, rows: Any) -> None:
        insert(connection, table, [*rows, rows[0]] if table.name == "lifecycle_events_rebuild" else rows)

    monkeypatch.setattr(fresh_module, "insert_tuples", twice)
    with pytest.raises((IntegrityError, sqlite3.IntegrityError)):
        runner.rebuild()
    monkeypatch.undo()
    assert view_contents(runner.engine) == before
    assert positions_of(runner) == at
    assert leftover_tables(runner) == []


def test_fresh_tables_are_keyed_from_the_start_on_sqlite_or_when_following_a_writer(
    runner: ViewRunner,
) -> None:
    """On PostgreSQL a rebuild's fresh tables get their keys once the rows are in, except when
    its fold follows a writer (``keys_first``: the demo's views built beside it)."""

    def fresh_key(keys_first: bool) -> list[str]:
        fresh = FreshTables(runner.engine, [lifecycle_events], keys_first=keys_first)
        fresh.create()
        try:
            with runner.engine.connect() as connection:
                return inspect(connection).get_pk_constraint("lifecycle_events_rebuild")[
                    "constrained_columns"
                ]
        finally:
            fresh.drop()

    assert fresh_key(keys_first=True) == ["code", "version"]
    postgres = runner.engine.dialect.name == "postgresql"
    assert fresh_key(keys_first=False) == ([] if postgres else ["code", "version"])


class FollowerPathOnly:
    """A view with ``apply`` only (as a new view may be): it has no set-wise rebuild."""

    def __init__(self, view: Any) -> None:
        self.name = view.name
        self._view = view

    def apply(self, connection: Connection, events: Sequence[tuple[int, Any]]) -> None:
        self._view.apply(connection, events)


def test_each_view_rebuilt_alone_gives_the_rows_of_all_rebuilt_together(
    app: BatteryTrace, runner: ViewRunner
) -> None:
    """What a release that changes one view's tables does, and ``bench.rebuild_rate --per-view``
    times: each view rebuilt on its own (one process) gives the rows it had."""
    demo_store(app, batteries=40)
    runner.rebuild()
    together = view_contents(runner.engine)
    head = runner.head()
    with runner.engine.begin() as connection:  # rows a rebuild must make again, view by view
        for name in runner.views:
            for table in VIEW_TABLES[name]:
                connection.execute(table.delete())

    rates = view_rates(runner, head)

    assert sorted(rates) == sorted(runner.views)
    assert all(rate > 0 for rate in rates.values()), rates
    alone = view_contents(runner.engine)
    assert alone == together, differences(alone, together)
    assert positions_of(runner) == dict.fromkeys(SETWISE, head)


def test_a_view_without_a_setwise_path_rebuilds_through_the_follower_path_beside_the_others(
    app: BatteryTrace, runner: ViewRunner
) -> None:
    demo_store(app, batteries=40)
    runner.catch_up()
    expected = view_contents(runner.engine)
    views = three_views(app)
    views["network"] = FollowerPathOnly(views["network"])
    mixed = ViewRunner(app, engine=runner.engine, views=views)
    head = mixed.head()
    assert mixed.rebuild() == head * len(SETWISE)
    assert view_contents(runner.engine) == expected
    assert positions_of(runner) == dict.fromkeys(SETWISE, head)


@pytest.mark.parametrize("store", ["varied", "demo"])
def test_the_fast_decoder_gives_the_mappers_events(app: BatteryTrace, store: str, request: Any) -> None:
    if store == "varied":
        varied_store(app, request.getfixturevalue("cast"))
    else:
        demo_store(app, batteries=40)
    decode = fast_decoder(app.mapper)
    assert decode != app.mapper.to_domain_event  # the fast path is in use on this store
    notifications = app.recorder.select_notifications(start=1, limit=100_000)
    kinds = set()
    for notification in notifications:
        mine, theirs = decode(notification), app.mapper.to_domain_event(notification)
        assert type(mine) is type(theirs), notification.topic
        assert vars(mine) == vars(theirs), notification.topic
        assert [type(v) for v in vars(mine).values()] == [type(v) for v in vars(theirs).values()]
        kinds.add(type(mine).__qualname__)
    assert len(notifications) > 80 and len(kinds) >= 15, kinds


def test_a_mapper_that_compresses_is_used_as_it_is(app: BatteryTrace) -> None:
    class Compressing:
        transcoder = app.mapper.transcoder
        cipher = None
        compressor = zlib

        def to_domain_event(self, stored: Any) -> Any:
            return ("mapper's", stored)

    mapper = Compressing()
    assert fast_decoder(mapper) == mapper.to_domain_event


def test_readers_see_the_previous_views_until_the_swap(
    app: BatteryTrace, runner: ViewRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo_store(app, batteries=40)
    runner.catch_up()
    before, at = view_contents(runner.engine), positions_of(runner)
    monkeypatch.setattr(rebuild_module, "PAGE_SIZE", 100)
    real_add = reports_module.ReportsBuilder.add
    seen: list[bool] = []

    def add_and_look(self: Any, events: Sequence[tuple[int, Any]]) -> None:
        real_add(self, events)  # pages already written to the fresh tables by now
        seen.append(view_contents(runner.engine) == before and positions_of(runner) == at)

    monkeypatch.setattr(reports_module.ReportsBuilder, "add", add_and_look)
    runner.rebuild()
    assert len(seen) > 3 and all(seen)
    assert view_contents(runner.engine) == before


def test_a_second_rebuild_is_refused_while_one_runs(runner: ViewRunner, app: BatteryTrace) -> None:
    demo_store(app, batteries=40)
    runner.rebuild()
    before = view_contents(runner.engine)

    with rebuild_module.only_rebuild(runner.engine):  # another process's rebuild, as far as the lock goes
        with pytest.raises(rebuild_module.RebuildRunning, match="another rebuild of the views is running"):
            runner.rebuild(list(SETWISE))
        assert view_contents(runner.engine) == before
        assert leftover_tables(runner) == []

    runner.rebuild(list(SETWISE))  # the lock is released with its holder
    assert view_contents(runner.engine) == before


@pytest.mark.postgres
def test_rebuilds_in_two_schemas_of_one_postgres_database_do_not_refuse_each_other(
    postgres_server: str,
) -> None:
    """The rebuild lock guards one set of view tables: a deployment (or a test run) in another
    schema of the same database rebuilds its own views meanwhile."""
    with fresh_schema(postgres_server) as first_url, fresh_schema(postgres_server) as second_url:
        first, second = (BatteryTrace(Settings(database_url=url)) for url in (first_url, second_url))
        runners = [ViewRunner(app, views=three_views(app)) for app in (first, second)]
        try:
            demo_store(second, batteries=40)
            with rebuild_module.only_rebuild(runners[0].engine):
                runners[1].rebuild(list(SETWISE))
                with pytest.raises(rebuild_module.RebuildRunning):
                    runners[0].rebuild(list(SETWISE))
            assert view_contents(runners[1].engine)
        finally:
            for runner, app in zip(runners, (first, second), strict=True):
                runner.engine.dispose()
                app.close()
