"""The ledger on SQLite and PostgreSQL: built by the view runner, signed, and every kind of
tampering with the stored events found.

- the view's tree equals one recomputed from the store, with checkpoints signed by the key;
  ``verify`` passes; a rebuild (set-wise) reproduces the follower's tree row for row and every
  signed root, keeps the checkpoints, and signs the rebuilt tree only by the follower's rule and
  never over a rewritten history;
- one stored event's bytes edited in the database -> ``verify`` fails naming that event; a
  deleted or reordered event -> fails; a checkpoint signed by another key -> refused;
- a battery's evidence file verifies offline; with one record changed it does not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from batterytrace.events.ledger_evidence import EvidenceError, check_evidence
from batterytrace.events.ledger_merkle import Frontier
from batterytrace.events.ledger_note import Signer
from batterytrace.projections.ledger_config import LedgerConfig, write_new_key
from batterytrace.projections.ledger_view import LedgerView
from batterytrace.projections.runner import ViewRunner, default_views
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.ledger.reading import all_checkpoints, evidence, stream_records
from batterytrace.trace.ledger.verify import LedgerMismatch, verify_store, verify_stream
from tests.utils.cast import NationalCast
from tests.utils.views import VariedStore, varied_store, view_contents


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, Signer]:
    path = tmp_path / "ledger.key"
    return path, write_new_key(path, "test.example/ledger")


@pytest.fixture
def ledger(
    app: BatteryTrace, cast: NationalCast, key: tuple[Path, Signer]
) -> Iterator[tuple[ViewRunner, VariedStore]]:
    store = varied_store(app, cast)
    views = default_views(app.settings.working_calendar())
    views["ledger"] = LedgerView(LedgerConfig(key[0], checkpoint_events=20))
    runner = ViewRunner(app, views=views, batch_size=16)
    runner.catch_up()
    yield runner, store
    runner.engine.dispose()


def _stored(runner: ViewRunner, stream: str, version: int) -> bytes:
    with runner.engine.connect() as connection:
        return bytes(
            connection.execute(
                text(
                    f"SELECT state FROM {_events(runner)} "
                    "WHERE originator_id = :s AND originator_version = :v"
                ),
                {"s": stream, "v": version},
            ).scalar_one()
        )


def _events(runner: ViewRunner) -> str:
    """The library's events table (its name differs between SQLite and PostgreSQL)."""
    return runner.app.recorder.events_table_name  # type: ignore[attr-defined]


def _write(runner: ViewRunner, sql: str, **params: object) -> None:
    with runner.engine.begin() as connection:
        connection.execute(text(sql.replace("stored_events", _events(runner))), params)


def _edit_first_event(runner: ViewRunner, pack: str) -> None:
    """Rewrite the pack's first stored event in the database, as someone with database access
    could: its mass 110.5 becomes 100.5."""
    state = _stored(runner, pack, 1)
    assert b"110.5" in state
    _write(
        runner,
        "UPDATE stored_events SET state = :s WHERE originator_id = :o AND originator_version = 1",
        s=state.replace(b"110.5", b"100.5"),
        o=pack,
    )


def test_the_tree_is_the_store_recomputed_and_checkpoints_are_signed(ledger, app, key) -> None:
    runner, _store = ledger
    signer = key[1]
    report = verify_store(app, runner.engine, signer.verifier())
    head = app.recorder.max_notification_id()
    assert report.events == head and report.unlogged == 0
    with runner.engine.connect() as connection:
        checkpoints = all_checkpoints(connection)
    # every 20 events or so (batches of 16), and one at the end of the first batch
    assert len(checkpoints) >= head // 32 and report.checkpoints == len(checkpoints)
    frontier = Frontier()
    heads: dict[str, bytes] = {}
    sizes = {c.tree_size: c.root for c in checkpoints}
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        event = app.mapper.to_domain_event(notification)
        from batterytrace.events.ledger_record import record_of

        record = record_of(event, heads.get(event.originator_id))
        heads[event.originator_id] = record.leaf
        frontier.append(record.leaf)
        if frontier.size in sizes:
            assert sizes.pop(frontier.size) == frontier.root()
    assert not sizes


def test_rebuild_reproduces_the_signed_roots(ledger, app, key) -> None:
    runner, _ = ledger
    followed = view_contents(runner.engine, "ledger")  # built by the follower, batches of 16
    with runner.engine.connect() as connection:
        before = all_checkpoints(connection)
        nodes = connection.execute(
            text("SELECT level, idx, hash FROM ledger_nodes ORDER BY level, idx")
        ).all()
    assert before and before[-1].tree_size > app.recorder.max_notification_id() - 20  # none due
    runner.rebuild(["ledger"])
    with runner.engine.connect() as connection:
        assert all_checkpoints(connection) == before  # kept, none signed twice
        assert (
            connection.execute(text("SELECT level, idx, hash FROM ledger_nodes ORDER BY level, idx")).all()
            == nodes
        )
    assert view_contents(runner.engine, "ledger") == followed  # leaves and chain heads too
    assert verify_store(app, runner.engine, key[1].verifier()).checkpoints == len(before)


def test_a_rebuild_signs_the_rebuilt_tree_when_the_follower_would(ledger, app, cast, key) -> None:
    runner, _ = ledger
    app.issue_api_key(actor_id=None, participant_id=cast.regulator)  # beyond every checkpoint
    head = app.recorder.max_notification_id()
    view = runner.views["ledger"]
    with runner.engine.connect() as connection:
        before = all_checkpoints(connection)
    view.config = LedgerConfig(key[0], checkpoint_events=1)  # type: ignore[attr-defined]
    runner.rebuild(["ledger"])  # grown since the last checkpoint: one more, of the whole tree
    with runner.engine.connect() as connection:
        after = all_checkpoints(connection)
    assert after[:-1] == before and after[-1].tree_size == head > before[-1].tree_size
    report = verify_store(app, runner.engine, key[1].verifier())  # signature, root, consistency
    assert report.checkpoints == len(after) and report.events == head
    runner.rebuild(["ledger"])  # nothing grown: nothing signed
    with runner.engine.connect() as connection:
        assert all_checkpoints(connection) == after


def test_a_rebuild_never_signs_over_a_rewritten_history(ledger, app, cast, key, caplog) -> None:
    runner, store = ledger
    app.issue_api_key(actor_id=None, participant_id=cast.regulator)  # beyond every checkpoint
    _edit_first_event(runner, store.pack)
    with runner.engine.connect() as connection:
        before = all_checkpoints(connection)
    runner.views["ledger"].config = LedgerConfig(key[0], checkpoint_events=1)  # type: ignore[attr-defined]
    with caplog.at_level("ERROR", logger="batterytrace.projections.ledger_view"):
        runner.rebuild(["ledger"])
    with runner.engine.connect() as connection:
        assert all_checkpoints(connection) == before
    assert any("no longer give the root signed" in r.getMessage() for r in caplog.records)


def test_an_edited_event_is_named(ledger, app, key) -> None:
    runner, store = ledger
    _edit_first_event(runner, store.pack)
    with pytest.raises(LedgerMismatch, match=f"Battery.Produced of {store.pack} version 1 .*changed"):
        verify_store(app, runner.engine, key[1].verifier())
    with pytest.raises(LedgerMismatch, match=f"{store.pack} version 1 does not match"):
        verify_stream(app, runner.engine, key[1].verifier(), store.pack)


def test_a_deleted_event_is_found(ledger, app, key) -> None:
    runner, store = ledger
    _write(
        runner, "DELETE FROM stored_events WHERE originator_id = :o AND originator_version = 2", o=store.pack
    )
    with pytest.raises(LedgerMismatch, match=f"{store.pack} version 3 .*version 2 is missing"):
        verify_store(app, runner.engine, key[1].verifier())


def test_reordered_events_are_found(ledger, app, key) -> None:
    runner, store = ledger
    two, three = _stored(runner, store.pack, 2), _stored(runner, store.pack, 3)
    with runner.engine.connect() as connection:
        topics = dict(
            connection.execute(
                text(f"SELECT originator_version, topic FROM {_events(runner)} WHERE originator_id = :o"),
                {"o": store.pack},
            ).all()
        )
    for version, state, topic in ((2, three, topics[3]), (3, two, topics[2])):
        _write(
            runner,
            "UPDATE stored_events SET state = :s, topic = :t "
            "WHERE originator_id = :o AND originator_version = :v",
            s=state,
            t=topic,
            o=store.pack,
            v=version,
        )
    with pytest.raises(LedgerMismatch, match=f"of {store.pack} version 2 .*does not match"):
        verify_store(app, runner.engine, key[1].verifier())


def test_a_checkpoint_signed_by_another_key_is_refused(ledger, app, key) -> None:
    runner, _ = ledger
    other = Signer.generate("test.example/ledger")
    with pytest.raises(LedgerMismatch, match="not signed by"):
        verify_store(app, runner.engine, other.verifier())
    # a forged checkpoint row among the genuine ones
    from batterytrace.events.ledger_note import Checkpoint, sign_note

    with runner.engine.connect() as connection:
        last = all_checkpoints(connection)[-1]
    forged = sign_note(Checkpoint("test.example/ledger", last.tree_size, last.root).text(), other)
    _write(runner, "UPDATE ledger_checkpoints SET note = :n WHERE tree_size = :t", n=forged, t=last.tree_size)
    with pytest.raises(
        LedgerMismatch, match=f"checkpoint of tree size {last.tree_size}: the note is not signed"
    ):
        verify_store(app, runner.engine, key[1].verifier())


def test_evidence_verifies_offline_and_a_changed_record_does_not(ledger, app, key) -> None:
    runner, store = ledger
    events = list(app.events.get(store.pack))
    document = evidence(runner.engine, store.pack, events)
    data = json.dumps(document).encode()
    checked = check_evidence(data, key[1].verifier())
    assert (checked.records, checked.first_version, checked.last_version) == (len(events), 1, len(events))
    # a participant involved later: from its version on, still anchored
    assert (
        check_evidence(
            json.dumps(evidence(runner.engine, store.pack, events, from_version=3)).encode(),
            key[1].verifier(),
        ).first_version
        == 3
    )

    changed = json.loads(data)
    changed["records"][0]["record"] = changed["records"][0]["record"].replace("110.5", "100.5")
    with pytest.raises(EvidenceError, match=r"record 2 .*does not chain"):
        check_evidence(json.dumps(changed).encode(), key[1].verifier())
    last = json.loads(data)
    last["records"][-1]["record"] = last["records"][-1]["record"].replace('"v":1', '"v":1 ')
    with pytest.raises(EvidenceError, match="canonical"):
        check_evidence(json.dumps(last).encode(), key[1].verifier())
    dropped = json.loads(data)
    del dropped["records"][1]
    with pytest.raises(EvidenceError, match="missing"):
        check_evidence(json.dumps(dropped).encode(), key[1].verifier())
    with pytest.raises(EvidenceError, match="not signed by"):
        check_evidence(data, Signer.generate("test.example/ledger").verifier())
    assert [v for v, _, _ in stream_records(events)] == list(range(1, len(events) + 1))


def test_an_edit_hidden_by_a_rebuilt_view_still_breaks_the_signed_root(ledger, app, key) -> None:
    runner, store = ledger
    _edit_first_event(runner, store.pack)
    runner.rebuild(["ledger"])  # the leaves now agree with the edited event; the signatures do not
    with runner.engine.connect() as connection:
        produced = connection.execute(
            text("SELECT idx FROM ledger_leaves WHERE aggregate = :o AND version = 1"), {"o": store.pack}
        ).scalar_one()
        first = min(c.tree_size for c in all_checkpoints(connection) if c.tree_size > produced)
    with pytest.raises(LedgerMismatch, match=f"checkpoint {first}: the events stored now do not give"):
        verify_store(app, runner.engine, key[1].verifier())


def test_no_checkpoint_is_signed_over_a_rewritten_history(ledger, app, cast, key, caplog) -> None:
    runner, store = ledger
    _edit_first_event(runner, store.pack)
    runner.rebuild(["ledger"])
    runner.views["ledger"].config = LedgerConfig(key[0], checkpoint_events=1)  # type: ignore[attr-defined]
    with runner.engine.connect() as connection:
        before = all_checkpoints(connection)
    app.issue_api_key(actor_id=None, participant_id=cast.regulator)
    with caplog.at_level("ERROR", logger="batterytrace.projections.ledger_view"):
        assert runner.catch_up(["ledger"]) >= 1
    with runner.engine.connect() as connection:
        assert all_checkpoints(connection) == before
    assert any("no longer give the root signed" in r.getMessage() for r in caplog.records)


def test_a_tree_past_its_first_tiles_proves_as_the_whole_tree_in_memory(app: BatteryTrace, key) -> None:
    """Hundreds of events (stored interior nodes at level 8): the follower's tables equal a
    rebuild's, and the root, inclusion and consistency proofs read from the tiles equal those
    of the tree kept whole in memory (every complete subtree, ``Frontier.append``)."""
    from batterytrace.demo.national import generate_demo
    from batterytrace.events.ledger_merkle import consistency_proof, inclusion_proof, root
    from batterytrace.events.ledger_record import record_of
    from batterytrace.projections.ledger_view import node_source

    generate_demo(app, seed=5, batteries=80)
    runner = ViewRunner(app, views={"ledger": LedgerView(LedgerConfig(key[0]))}, batch_size=97)
    runner.catch_up()
    followed = view_contents(runner.engine, "ledger")
    whole: dict[tuple[int, int], bytes] = {}
    frontier, chain = Frontier(), {}
    for notification in app.recorder.select_notifications(start=1, limit=100_000):
        event = app.mapper.to_domain_event(notification)
        record = record_of(event, chain.get(event.originator_id))
        chain[event.originator_id] = record.leaf
        whole.update({(level, index): value for level, index, value in frontier.append(record.leaf)})
    size = frontier.size
    assert size > 2 * 256, size

    def memory(level: int, index: int) -> bytes:
        return whole[(level, index)]

    with runner.engine.connect() as connection:
        for compute in (
            lambda n: root(size, n),
            lambda n: root(size - 37, n),
            lambda n: inclusion_proof(3, size, n),
            lambda n: inclusion_proof(300, size - 5, n),
            lambda n: inclusion_proof(size - 1, size, n),
            lambda n: consistency_proof(7, size, n),
            lambda n: consistency_proof(257, size - 1, n),
            lambda n: consistency_proof(512, size, n),
        ):
            assert compute(node_source(connection, compute)) == compute(memory)
    runner.rebuild(["ledger"])
    assert view_contents(runner.engine, "ledger") == followed
    runner.engine.dispose()


def test_node_reads_fold_the_tiles_from_primary_key_ranges_and_never_scan_the_tree(tmp_path) -> None:
    """A proof reads O(log n) nodes, each from a range of one stored level (a tile), by primary
    key: on SQLite a row-value ``IN`` list was once planned as a scan of every node. A subtree
    between the stored levels is the fold of the stored ones under it, and one not complete
    (a stored node missing) is left out."""
    from sqlalchemy import create_engine

    from batterytrace.events.ledger_merkle import fold_complete, node_hash
    from batterytrace.projections import ledger_view
    from batterytrace.projections.tables import ledger_leaves, ledger_nodes

    def leaf(i: int) -> bytes:
        return hashlib.sha256(b"\x00" + i.to_bytes(4, "big")).digest()

    def level8(i: int) -> bytes:
        return hashlib.sha256(b"\x01" + i.to_bytes(4, "big")).digest()

    engine = create_engine(f"sqlite:///{tmp_path / 'nodes.db'}")
    ledger_nodes.create(engine)
    ledger_leaves.create(engine)
    with engine.begin() as connection:
        connection.execute(
            ledger_leaves.insert(),
            [
                {"idx": i, "notification_id": i + 1, "aggregate": "a", "version": i + 1, "hash": leaf(i)}
                for i in range(300)
            ],
        )
        connection.execute(
            ledger_nodes.insert(), [{"level": 8, "idx": i, "hash": level8(i)} for i in range(5)]
        )
        for statement, params in (
            (ledger_view._LEAVES_BETWEEN, {"first": 3, "last": 9}),
            (ledger_view._NODES_BETWEEN, {"level": 8, "first": 1, "last": 3}),
            (ledger_view._LEAVES_IN, {"indexes": [3, 290]}),
            (ledger_view._NODES_IN, {"level": 8, "indexes": [1, 4]}),
        ):
            sql = str(statement.params(**params).compile(engine, compile_kwargs={"literal_binds": True}))
            plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            assert "SCAN" not in plan and "SEARCH" in plan, plan
        found = ledger_view.read_nodes(
            connection, {(0, 3), (1, 4), (3, 2), (8, 0), (9, 1), (10, 1), (2, 74), (2, 75), (0, 290)}
        )
    assert found == {
        (0, 3): leaf(3),
        (1, 4): node_hash(leaf(8), leaf(9)),
        (3, 2): fold_complete([leaf(i) for i in range(16, 24)]),
        (8, 0): level8(0),  # stored: read as it is
        (9, 1): node_hash(level8(2), level8(3)),
        (2, 74): fold_complete([leaf(i) for i in range(296, 300)]),
        (0, 290): leaf(290),
    }
    with engine.connect() as connection:  # single nodes far apart: asked by IN lists
        assert ledger_view.read_nodes(connection, {(0, 3), (0, 290), (8, 0), (8, 4), (8, 9)}) == {
            (0, 3): leaf(3),
            (0, 290): leaf(290),
            (8, 0): level8(0),
            (8, 4): level8(4),
        }  # (10, 1) needs level-8 nodes 4-7 and (2, 75) leaves 300-303: not complete
    engine.dispose()
