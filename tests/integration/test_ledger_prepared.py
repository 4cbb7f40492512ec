"""The ledger's batch prepared outside the follower's write transaction (``LedgerView.prepare``,
``ViewRunner._prepare``) is written only while the tree is still the one it was computed from.

- a batch prepared before the tree grew (another runner applied a batch meanwhile) is computed
  again, and the rows equal those of the batches applied one after the other without preparing;
- a batch prepared on a tree that was then replaced by another of the same size (reset and rebuilt
  from other events) is computed again too: the size alone is not enough, the right edge is
  compared;
- through the runner: another runner applying the batch between the prepare and the write
  transaction loses nothing and applies nothing twice, and the checkpoints are signed at the
  sizes a runner without the race signs them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from batterytrace.projections.database import read_session
from batterytrace.projections.ledger_config import LedgerConfig, write_new_key
from batterytrace.projections.ledger_view import LedgerView, PreparedBatch
from batterytrace.projections.runner import ViewRunner, _reset_view
from batterytrace.projections.tables import ledger_checkpoints, ledger_leaves
from batterytrace.trace.application import BatteryTrace
from tests.utils.cast import NationalCast
from tests.utils.views import differences, varied_store, view_contents

BATCH = 30
Events = list[tuple[int, Any]]


@pytest.fixture
def stored(app: BatteryTrace, cast: NationalCast) -> Events:
    """The store's last events as the runner decodes them: battery lives, so that a batch's
    streams have records in the batch before it (chain heads matter)."""
    varied_store(app, cast)
    notifications = app.recorder.select_notifications(start=1, limit=100_000)
    events = [(n.id, app.mapper.to_domain_event(n)) for n in notifications]
    assert len(events) >= 3 * BATCH
    return events[-3 * BATCH :]


@pytest.fixture
def ledger_runner(app: BatteryTrace) -> Any:
    runner = ViewRunner(app, views={"ledger": LedgerView(LedgerConfig(None))})
    yield runner
    runner.engine.dispose()


def _reset(runner: ViewRunner) -> None:
    with runner.engine.begin() as connection:
        _reset_view(connection, "ledger", runner.build_fingerprint("ledger"))


def _prepare(runner: ViewRunner, events: Events) -> PreparedBatch | None:
    with read_session(runner.engine) as connection:
        return runner.views["ledger"].prepare(connection, events)  # type: ignore[attr-defined]


def _apply(runner: ViewRunner, events: Events, prepared: PreparedBatch | None = None) -> None:
    view = runner.views["ledger"]
    with runner.engine.begin() as connection:
        if prepared is None:
            view.apply(connection, events)
        else:
            view.apply_prepared(connection, events, prepared)  # type: ignore[attr-defined]


def _applied_in_turn(runner: ViewRunner, *batches: Events) -> dict[str, Any]:
    _reset(runner)
    for batch in batches:
        _apply(runner, batch)
    return view_contents(runner.engine, "ledger")


def test_a_batch_prepared_before_the_tree_grew_is_computed_again(ledger_runner, stored) -> None:
    first, second = stored[:BATCH], stored[BATCH : 2 * BATCH]
    expected = _applied_in_turn(ledger_runner, first, second)

    _reset(ledger_runner)
    stale = _prepare(ledger_runner, second)  # on the empty tree
    _apply(ledger_runner, first)  # the view moves on meanwhile
    _apply(ledger_runner, second, stale)

    got = view_contents(ledger_runner.engine, "ledger")
    assert got == expected, differences(got, expected)


def test_a_batch_prepared_on_a_tree_since_replaced_by_one_of_the_same_size_is_computed_again(
    ledger_runner, stored
) -> None:
    first, other, last = stored[:BATCH], stored[BATCH : 2 * BATCH], stored[2 * BATCH :]
    expected = _applied_in_turn(ledger_runner, other, last)

    _applied_in_turn(ledger_runner, first)
    stale = _prepare(ledger_runner, last)  # on the tree of `first`
    _applied_in_turn(ledger_runner, other)  # reset and rebuilt: the same size, another tree
    _apply(ledger_runner, last, stale)

    got = view_contents(ledger_runner.engine, "ledger")
    assert got == expected, differences(got, expected)


def test_a_prepared_batch_still_current_is_written_as_apply_writes_it(ledger_runner, stored) -> None:
    first, second = stored[:BATCH], stored[BATCH : 2 * BATCH]
    expected = _applied_in_turn(ledger_runner, first, second)

    _applied_in_turn(ledger_runner, first)
    _apply(ledger_runner, second, _prepare(ledger_runner, second))

    got = view_contents(ledger_runner.engine, "ledger")
    assert got == expected, differences(got, expected)


class _Racing(LedgerView):
    """Lets ``rival`` apply the batch right after this view prepared it, once."""

    def __init__(self, config: LedgerConfig, rival: ViewRunner) -> None:
        super().__init__(config)
        self.rival: ViewRunner | None = rival

    def prepare(self, connection: Any, events: Any) -> PreparedBatch | None:
        prepared = super().prepare(connection, events)
        rival, self.rival = self.rival, None
        if rival is not None:
            assert rival.process_batch("ledger") == len(events)
        return prepared


def test_a_rival_runner_applying_the_batch_between_prepare_and_write_loses_nothing(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    varied_store(app, cast)
    key = tmp_path / "ledger.key"
    write_new_key(key, "test.example/ledger")
    config = LedgerConfig(key, checkpoint_events=BATCH // 2)
    rival = ViewRunner(app, views={"ledger": LedgerView(config)}, batch_size=BATCH)
    runner = ViewRunner(app, views={"ledger": _Racing(config, rival)}, batch_size=BATCH)
    try:
        runner.catch_up()
        assert runner.views["ledger"].rival is None  # type: ignore[attr-defined]
        got = view_contents(runner.engine, "ledger")
        signed = _checkpoints(runner)
        head = runner.head()
        assert runner.position("ledger") == head
        with runner.engine.connect() as connection:
            ids = list(connection.execute(select(ledger_leaves.c.notification_id)).scalars())
        assert sorted(ids) == list(range(1, head + 1))  # each event once

        with runner.engine.begin() as connection:
            connection.execute(ledger_checkpoints.delete())
            _reset_view(connection, "ledger", runner.build_fingerprint("ledger"))
        plain = ViewRunner(app, views={"ledger": LedgerView(config)}, batch_size=BATCH)
        plain.catch_up()
        expected = view_contents(plain.engine, "ledger")
        assert got == expected, differences(got, expected)
        assert signed == _checkpoints(plain)
        plain.engine.dispose()
    finally:
        rival.engine.dispose()
        runner.engine.dispose()


def _checkpoints(runner: ViewRunner) -> list[tuple[int, bytes]]:
    with runner.engine.connect() as connection:
        rows = connection.execute(
            select(ledger_checkpoints.c.tree_size, ledger_checkpoints.c.root).order_by(
                ledger_checkpoints.c.tree_size
            )
        )
        return [(row.tree_size, bytes(row.root)) for row in rows]


def test_the_check_under_the_lock_reads_the_right_edge_alone(tmp_path: Path) -> None:
    """The check ``apply_prepared`` makes while holding the write lock reads the stored right
    edge (a row per binary digit of the size), whatever the tree's size, and nothing else."""
    from sqlalchemy import create_engine

    from batterytrace.projections import ledger_view
    from batterytrace.projections.tables import ledger_edge

    engine = create_engine(f"sqlite:///{tmp_path / 'edge.db'}")
    ledger_edge.create(engine)
    edge = {0: bytes([1]) * 32, 3: bytes([2]) * 32}
    with engine.begin() as connection:
        connection.execute(ledger_edge.insert(), [{"level": lv, "hash": h} for lv, h in edge.items()])
        plan = " ".join(
            str(row[-1]) for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + ledger_view._EDGE_SQL)
        )
        assert "ledger_edge" in plan and "ledger_nodes" not in plan and "ledger_leaves" not in plan, plan
        assert ledger_view.read_edge(connection) == edge
    engine.dispose()
