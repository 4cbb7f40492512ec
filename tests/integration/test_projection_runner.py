"""The view runner on SQLite and PostgreSQL: every event applied exactly once to every view.

- ``catch_up`` applies each stored event once per view and leaves no lag; one more event is
  applied once more per view.
- Small batches (``batch_size=7``), views left at different positions, more events, then the
  rest in one go: the views hold what a rebuild from the first event gives.
- Rebuilding one view leaves the other views' rows and positions untouched.
- Two runners (each with its own application and engine) catching up at once, in two threads and
  in two processes: every event is applied by exactly one of them (counts add up to the store),
  counters equal the number of events, and the contents equal a rebuild.
- ``wait_until`` and ``follow``: read-your-writes with a follower in a background thread, a
  timeout without one, a prompt stop, and a new event seen within ~2 s (PostgreSQL: woken by
  LISTEN/NOTIFY with a poll interval far longer than that; SQLite: polling).
- ``queries.battery_lifecycle``: the timeline in version order with names, and the lineage
  (modules and pack, originals to depth, second-life product chain).

Snapshots are compared exactly (floats to 6 decimals): findings' wording included, which must not
depend on where batch boundaries fall.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.battery import ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import Collect, HandOver, Retire
from batterytrace.projections import queries, report_queries
from batterytrace.projections.event_data import event_name
from batterytrace.projections.lifecycle_view import FLAG_BACKWARDS
from batterytrace.projections.runner import ViewRunner
from batterytrace.projections.tables import VIEWS
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.utils.cast import NationalCast
from tests.utils.views import (
    VariedStore,
    demo_store,
    differences,
    rows_as_dicts,
    varied_store,
    view_contents,
)

WAIT_SECONDS = 60
CONCURRENT_BATCH_SIZE = 5


# ------------------------------------------------------------------------------------ helpers
@pytest.fixture
def store(app: BatteryTrace, cast: NationalCast) -> VariedStore:
    return varied_store(app, cast)


@pytest.fixture
def runners(app: BatteryTrace) -> Iterator[Callable[..., ViewRunner]]:
    """Makes runners (on ``app`` unless told otherwise); their engines are disposed afterwards."""
    made: list[ViewRunner] = []

    def make(application: BatteryTrace | None = None, **options: Any) -> ViewRunner:
        runner = ViewRunner(application or app, **options)
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.engine.dispose()


@pytest.fixture
def apps(database_url: str) -> Iterator[Callable[[], BatteryTrace]]:
    """More applications on the same store (closed afterwards)."""
    made: list[BatteryTrace] = []

    def make() -> BatteryTrace:
        made.append(BatteryTrace(Settings(database_url=database_url)))
        return made[-1]

    yield make
    for application in made:
        application.close()


def stored_events(app: BatteryTrace) -> list[tuple[int, Any]]:
    """Every (notification id, domain event) in the store, in order."""
    found: list[tuple[int, Any]] = []
    start = 1
    while page := app.recorder.select_notifications(start=start, limit=500):
        found += [(n.id, app.mapper.to_domain_event(n)) for n in page]
        start = page[-1].id + 1
    return found


def named(events: list[tuple[int, Any]], name: str) -> list[Any]:
    return [e for _, e in events if event_name(e) == name]


def same_facts(left: dict[str, Any], right: dict[str, Any]) -> None:
    assert left == right, differences(left, right)


def rebuilt_contents(make: Callable[..., ViewRunner], **options: Any) -> dict[str, Any]:
    runner = make(**options)
    runner.rebuild()
    return view_contents(runner.engine)


def check_counters(engine: Any, events: list[tuple[int, Any]]) -> None:
    """Counters that an event applied twice (or not at all) would put out: per collection point,
    per event kind per month, one timeline row per battery event at its own position."""
    contents = view_contents(engine)
    points = {row["id"]: row for row in rows_as_dicts(contents, "network_points")}
    collected = Counter(e.collection_point_id for e in named(events, "Battery.Collected"))
    assert {p: row["collected_count"] for p, row in points.items() if row["collected_count"]} == collected
    handed = Counter(e.from_collection_point_id for e in named(events, "Battery.HandedOver"))
    handed.pop(None, None)
    assert {p: row["handed_over_count"] for p, row in points.items() if row["handed_over_count"]} == handed
    flows = rows_as_dicts(contents, "network_flows")
    assert sum(f["count"] for f in flows) == len(named(events, "Battery.HandedOver"))
    monthly = rows_as_dicts(contents, "report_monthly")
    for kind, counter in (
        ("Produced", "produced"),
        ("Installed", "installed"),
        ("Retired", "retired"),
        ("Collected", "collected"),
        ("CascadeReused", "cascade_used"),
        ("Recycled", "recycled"),
    ):
        assert sum(row[counter] for row in monthly) == len(named(events, f"Battery.{kind}")), kind
    timeline = rows_as_dicts(contents, "lifecycle_events")
    battery_positions = [n for n, e in events if event_name(e).startswith("Battery.")]
    assert sorted(row["position"] for row in timeline) == battery_positions
    assert len(rows_as_dicts(contents, "lifecycle_batteries")) == len(named(events, "Battery.Produced"))


def positions(runner: ViewRunner) -> dict[str, int]:
    return {s.view: s.position for s in runner.status()}


def nudge(app: BatteryTrace) -> None:
    """On PostgreSQL, NOTIFY the channel a follower LISTENs to (no event written)."""
    channel = getattr(app.recorder, "channel_name", None)
    if not channel:
        return
    import psycopg
    from psycopg import sql

    with psycopg.connect(app.settings.database_url.split("?")[0], autocommit=True) as connection:
        connection.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(channel)))


class Follower:
    """``runner.follow`` in a background thread."""

    def __init__(self, runner: ViewRunner, poll_seconds: float) -> None:
        self.runner = runner
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=runner.follow, args=(self.stop,), kwargs={"poll_seconds": poll_seconds}, daemon=True
        )

    def __enter__(self) -> Follower:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.halt()

    def halt(self, *, nudge_listener: bool = True, timeout: float = 15) -> float:
        """Set the stop event and wait for the thread: the seconds it took to stop. The listener
        is nudged unless asked not to, so a long poll interval does not hold the test up (see
        ``test_follow_with_a_long_poll_interval_stops_as_soon_as_stop_is_set``)."""
        started = time.monotonic()
        self.stop.set()
        if nudge_listener:
            nudge(self.runner.app)
        self.thread.join(timeout)
        return time.monotonic() - started


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


# ------------------------------------------------------------------------------- catching up
def test_catch_up_applies_every_event_once_to_each_view_and_leaves_no_lag(
    app: BatteryTrace, cast: NationalCast, store: VariedStore, runners: Callable[..., ViewRunner]
) -> None:
    events = stored_events(app)
    head = events[-1][0]
    assert head == store.last_notification
    runner = runners()
    assert [(s.view, s.position, s.head, s.lag) for s in runner.status()] == [
        (v, 0, head, head) for v in VIEWS
    ]

    assert runner.catch_up() == len(events) * len(VIEWS)

    assert [(s.view, s.position, s.head, s.lag) for s in runner.status()] == [
        (v, head, head, 0) for v in VIEWS
    ]
    assert runner.catch_up() == 0
    check_counters(runner.engine, events)

    code = store.others["installed"]
    result = app.execute(Retire(actor_id=cast.vehicle_maker, code=code, reason="capacity below 80%"))
    assert runner.catch_up() == len(VIEWS)
    assert set(positions(runner).values()) == {result.notification_id}
    document = queries.battery_lifecycle(runner.engine, code)
    assert document is not None
    assert document["battery"]["state"] == "retired"
    assert [e["event"] for e in document["timeline"]] == ["Produced", "Delivered", "Installed", "Retired"]
    check_counters(runner.engine, stored_events(app))


def test_small_batches_and_then_the_rest_give_what_a_rebuild_gives(
    app: BatteryTrace, cast: NationalCast, store: VariedStore, runners: Callable[..., ViewRunner]
) -> None:
    small = runners(batch_size=7)
    for name, batches in (("lifecycle", 3), ("network", 5), ("reports", 1)):
        for _ in range(batches):
            assert small.process_batch(name) == 7
    assert positions(small) == {"lifecycle": 21, "network": 35, "reports": 7, "ledger": 0}

    # More events arrive while the views stand at different positions.
    code = store.others["installed"]
    app.execute(Retire(actor_id=cast.vehicle_maker, code=code, reason="scrapped"))
    app.execute(Collect(actor_id=cast.outlet_operator, code=code, collection_point_id=cast.collection_point))
    app.execute(
        HandOver(actor_id=cast.outlet_operator, code=code, receiver_id=cast.recycler, activity="recycling")
    )
    small.catch_up(["network"])
    head = small.head()
    assert positions(small) == {"lifecycle": 21, "network": head, "reports": 7, "ledger": 0}

    rest = runners()  # the default batch size: the rest in one batch per view
    rest.catch_up()
    assert set(positions(rest).values()) == {head}
    incremental = view_contents(rest.engine)
    check_counters(rest.engine, stored_events(app))

    same_facts(incremental, rebuilt_contents(runners))


def test_one_event_per_batch_gives_what_a_rebuild_gives_findings_wording_included(
    app: BatteryTrace, store: VariedStore, runners: Callable[..., ViewRunner]
) -> None:
    """A backwards-dated event's finding quotes the previous event's time: from the batch in
    memory or read back from the table, it must read the same (it once did not)."""
    one_by_one = runners(batch_size=1)
    one_by_one.catch_up()
    incremental = view_contents(one_by_one.engine)
    findings = rows_as_dicts(incremental, "report_findings")
    backwards = [f for f in findings if f["kind"] == "backwards_date"]
    assert [f["code"] for f in backwards] == [store.others["collected"]]
    assert "+08:00" in backwards[0]["detail"] and "+00:00" not in backwards[0]["detail"]
    rebuilt = rebuilt_contents(runners)
    assert incremental == rebuilt, differences(incremental, rebuilt)


def test_rebuilding_one_view_leaves_the_other_views_untouched(
    app: BatteryTrace, cast: NationalCast, store: VariedStore, runners: Callable[..., ViewRunner]
) -> None:
    runner = runners()
    runner.catch_up()
    before = view_contents(runner.engine)
    at = positions(runner)

    code = store.others["removed"]
    app.execute(Retire(actor_id=cast.vehicle_maker, code=code, reason="worn out"))
    app.execute(
        Collect(actor_id=cast.vehicle_maker, code=code, collection_point_id=cast.other_collection_point)
    )
    head = runner.head()

    assert runner.rebuild(["network"]) == len(stored_events(app))
    assert positions(runner) == {**at, "network": head}
    for view in ("lifecycle", "reports"):
        untouched = view_contents(runner.engine, view)
        assert untouched == {t: before[t] for t in untouched}, view
    network = view_contents(runner.engine, "network")
    assert network != {t: before[t] for t in network}  # the new Collected is counted

    runner.catch_up()
    assert set(positions(runner).values()) == {head}
    caught_up = view_contents(runner.engine)
    assert {t: caught_up[t] for t in network} == network  # catching up left network alone
    check_counters(runner.engine, stored_events(app))
    same_facts(caught_up, rebuilt_contents(runners))


def test_views_built_by_an_earlier_version_are_brought_up_to_date_after_an_upgrade(
    app: BatteryTrace, store: VariedStore, runners: Callable[..., ViewRunner]
) -> None:
    earlier = runners()
    earlier.catch_up()
    with earlier.engine.begin() as connection:  # the table as the previous version created it
        connection.exec_driver_sql("ALTER TABLE report_monthly DROP COLUMN retired_then_formal")

    upgraded = runners()
    upgraded.catch_up()
    rows = report_queries.monthly(upgraded.engine)

    assert rows and all("retired_then_formal" in row for row in rows)
    assert view_contents(upgraded.engine) == rebuilt_contents(runners)


# ------------------------------------------------------------------------ concurrent runners
class _ContentionLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "advanced by another runner" in record.getMessage():
            self.lost += 1


def catch_up_counting(runner: ViewRunner) -> dict[str, int]:
    """Catch up; how many events this runner applied to each view."""
    applied = dict.fromkeys(VIEWS, 0)

    def progress(view: str, done: int) -> None:
        applied[view] += done

    runner.catch_up(progress=progress)
    return applied


def check_exactly_once(
    app: BatteryTrace,
    answers: list[dict[str, int]],
    runners: Callable[..., ViewRunner],
    lost_races: int,
) -> None:
    events = stored_events(app)
    print(f"applied per runner: {answers}; batches lost to the other runner: {lost_races}")
    for view in VIEWS:
        assert sum(a[view] for a in answers) == len(events), (view, answers)
    checker = runners()
    assert [s.lag for s in checker.status()] == [0] * len(checker.status())
    check_counters(checker.engine, events)
    contents = view_contents(checker.engine)
    same_facts(contents, rebuilt_contents(runners, batch_size=CONCURRENT_BATCH_SIZE))


def test_two_runner_threads_with_their_own_apps_never_apply_an_event_twice(
    app: BatteryTrace,
    apps: Callable[[], BatteryTrace],
    runners: Callable[..., ViewRunner],
) -> None:
    demo_store(app, batteries=60)
    runners()  # creates the view tables (two runners creating them at once: see the xfail below)
    barrier = threading.Barrier(2)
    answers: list[dict[str, int]] = []
    errors: list[BaseException] = []
    contention = _ContentionLog()
    logging.getLogger("batterytrace.projections.runner").addHandler(contention)
    logging.getLogger("batterytrace.projections.runner").setLevel(logging.INFO)

    def work(runner: ViewRunner) -> None:
        try:
            barrier.wait(timeout=WAIT_SECONDS)
            answers.append(catch_up_counting(runner))
        except BaseException as error:
            errors.append(error)

    pair = [runners(apps(), batch_size=CONCURRENT_BATCH_SIZE) for _ in range(2)]
    threads = [threading.Thread(target=work, args=(runner,)) for runner in pair]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_SECONDS)
    finally:
        logging.getLogger("batterytrace.projections.runner").removeHandler(contention)
    assert not errors, errors
    assert len(answers) == 2
    check_exactly_once(app, answers, runners, contention.lost)


def _catch_up_in_a_process(database_url: str, barrier: Any, answers: Any) -> None:
    """A runner process: its own application and engine on the shared store."""
    application = BatteryTrace(Settings(database_url=database_url))
    contention = _ContentionLog()
    logging.getLogger("batterytrace.projections.runner").addHandler(contention)
    logging.getLogger("batterytrace.projections.runner").setLevel(logging.INFO)
    try:
        runner = ViewRunner(application, batch_size=CONCURRENT_BATCH_SIZE)
        barrier.wait(timeout=WAIT_SECONDS)
        answers.put(("ok", catch_up_counting(runner), contention.lost))
        runner.engine.dispose()
    except BaseException as error:
        answers.put(("error", f"{type(error).__name__}: {error}", 0))
    finally:
        application.close()


def test_two_runner_processes_never_apply_an_event_twice(
    database_url: str, app: BatteryTrace, runners: Callable[..., ViewRunner]
) -> None:
    demo_store(app, batteries=60)
    runners()  # creates the view tables first
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    answers = context.Queue()
    processes = [
        context.Process(target=_catch_up_in_a_process, args=(database_url, barrier, answers))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    replies = []
    try:
        for _ in processes:
            try:
                replies.append(answers.get(timeout=WAIT_SECONDS))
            except queue.Empty:
                pytest.fail(f"no answer from the runner processes within {WAIT_SECONDS} s")
    finally:
        for process in processes:
            process.join(WAIT_SECONDS)
            if process.is_alive():
                process.kill()
    assert [r[0] for r in replies] == ["ok", "ok"], replies
    assert [p.exitcode for p in processes] == [0, 0]
    check_exactly_once(app, [r[1] for r in replies], runners, sum(r[2] for r in replies))


def test_two_runners_started_at_once_on_a_new_store_both_start(
    request: pytest.FixtureRequest, database_url: str, apps: Callable[[], BatteryTrace]
) -> None:
    """Two workers (``projections run``, or a report while a follower starts) on a store whose
    view tables do not exist yet. Five fresh stores, so that the race is not left to chance."""
    errors: list[str] = []
    for round_no in range(5):
        url = _fresh_store_url(database_url, round_no)
        pair = [BatteryTrace(Settings(database_url=url)) for _ in range(2)]
        barrier = threading.Barrier(2)
        made: list[ViewRunner] = []
        threads = [
            threading.Thread(target=_start_runner, args=(a, barrier, made, errors, f"round {round_no}"))
            for a in pair
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT_SECONDS)
        for runner in made:
            runner.engine.dispose()
        for application in pair:
            application.close()
    assert errors == []


def _start_runner(
    application: BatteryTrace,
    barrier: threading.Barrier,
    made: list[ViewRunner],
    errors: list[str],
    label: str,
) -> None:
    barrier.wait(timeout=WAIT_SECONDS)
    try:
        made.append(ViewRunner(application))
    except Exception as error:
        errors.append(f"{label}: {type(error).__name__}: {str(error).splitlines()[0]}")


def _fresh_store_url(database_url: str, round_no: int) -> str:
    """Another empty store beside the test's own: a new SQLite file, or a new PostgreSQL schema
    (created here, dropped with the test's schema because it is named after it)."""
    if database_url.startswith("sqlite"):
        stem, _, suffix = database_url.rpartition(".")
        return f"{stem}-{round_no}.{suffix}"
    import psycopg

    base, _, schema = database_url.partition("?schema=")
    fresh = f"{schema}_{round_no}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{fresh}"')
    _schemas_to_drop.append((base, fresh))
    return f"{base}?schema={fresh}"


_schemas_to_drop: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def _drop_extra_schemas() -> Iterator[None]:
    yield
    if not _schemas_to_drop:
        return
    import psycopg

    while _schemas_to_drop:
        base, schema = _schemas_to_drop.pop()
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# ---------------------------------------------------------------------- following and waiting
def test_wait_until_is_true_once_a_follower_catches_up_and_false_on_timeout_without_one(
    app: BatteryTrace, cast: NationalCast, store: VariedStore, runners: Callable[..., ViewRunner]
) -> None:
    reader = runners()
    assert reader.wait_until(store.last_notification, timeout=0.2) is False  # nothing applied yet
    reader.catch_up()
    assert reader.wait_until(store.last_notification, timeout=0) is True

    written = app.execute(
        Retire(actor_id=cast.vehicle_maker, code=store.others["installed"], reason="scrapped")
    )
    started = time.monotonic()
    assert reader.wait_until(written.notification_id, timeout=0.3) is False
    assert 0.3 <= time.monotonic() - started < 2

    with Follower(runners(), poll_seconds=0.1):
        assert reader.wait_until(written.notification_id, timeout=10) is True
        assert set(positions(reader).values()) == {written.notification_id}
        later = app.execute(
            Collect(
                actor_id=cast.outlet_operator,
                code=store.others["installed"],
                collection_point_id=cast.collection_point,
            )
        )
        assert reader.wait_until(later.notification_id, timeout=10) is True
    document = queries.battery_lifecycle(reader.engine, store.others["installed"])
    assert document is not None and document["battery"]["state"] == "collected"


def test_follow_stops_promptly_when_stop_is_set(
    app: BatteryTrace, store: VariedStore, runners: Callable[..., ViewRunner]
) -> None:
    already = threading.Event()
    already.set()
    started = time.monotonic()
    runners().follow(already, poll_seconds=30)  # a stop set before it starts: returns at once
    assert time.monotonic() - started < 2

    follower = Follower(runners(), poll_seconds=0.2)
    with follower:
        assert wait_for(lambda: follower.runner.status()[-1].lag == 0, timeout=10)
        time.sleep(0.3)  # idle, waiting for news
        took = follower.halt(nudge_listener=False)
    assert not follower.thread.is_alive()
    assert took < 1.5


def test_follow_with_a_long_poll_interval_stops_as_soon_as_stop_is_set(
    request: pytest.FixtureRequest,
    app: BatteryTrace,
    apps: Callable[[], BatteryTrace],
    store: VariedStore,
    runners: Callable[..., ViewRunner],
) -> None:
    following = apps()
    if getattr(following.recorder, "channel_name", None):
        # NOTIFY is database-wide and every schema's events table has the same channel name, so
        # other tests writing to the server would wake the follower early; give it a channel
        # nobody notifies.
        following.recorder.channel_name = f"quiet_{uuid.uuid4().hex}"
    follower = Follower(runners(following), poll_seconds=5)
    with follower:
        assert wait_for(lambda: follower.runner.status()[-1].lag == 0, timeout=10)
        time.sleep(0.3)
        follower.halt(nudge_listener=False, timeout=1.5)
        assert not follower.thread.is_alive(), "follow() was still waiting 1.5 s after stop was set"


def test_an_event_written_while_following_reaches_the_views_within_two_seconds(
    app: BatteryTrace, cast: NationalCast, store: VariedStore, runners: Callable[..., ViewRunner]
) -> None:
    """PostgreSQL: the poll interval is 30 s, so only LISTEN/NOTIFY can wake the follower in
    time. SQLite: polling every 0.25 s."""
    listening = bool(getattr(app.recorder, "channel_name", None))
    follower = Follower(runners(), poll_seconds=30 if listening else 0.25)
    reader = runners()
    with follower:
        assert reader.wait_until(store.last_notification, timeout=10)
        time.sleep(0.5)  # the follower is idle, waiting
        for step in range(2):
            started = time.monotonic()
            if step == 0:
                written = app.execute(
                    Retire(actor_id=cast.vehicle_maker, code=store.others["installed"], reason="old")
                )
            else:
                written = app.execute(
                    Collect(
                        actor_id=cast.vehicle_maker,
                        code=store.others["installed"],
                        collection_point_id=cast.other_collection_point,
                    )
                )
            assert reader.wait_until(written.notification_id, timeout=5), f"step {step}"
            took = time.monotonic() - started
            assert took < 2, f"step {step}: the follower took {took:.2f} s"
            time.sleep(0.3)
    document = queries.battery_lifecycle(reader.engine, store.others["installed"])
    assert document is not None and document["battery"]["state"] == "collected"


# ----------------------------------------------------------------------- one battery's life
def test_one_batterys_lifecycle_has_its_timeline_in_order_with_names_and_its_lineage(
    app: BatteryTrace, cast: NationalCast, store: VariedStore, runners: Callable[..., ViewRunner]
) -> None:
    # A third life: the second-life product retires and is cascade-reused again.
    app.execute(Retire(actor_id=cast.cascade_user, code=store.product, reason="second life ended"))
    app.execute(
        Collect(actor_id=cast.outlet_operator, code=store.product, collection_point_id=cast.collection_point)
    )
    app.execute(
        HandOver(
            actor_id=cast.outlet_operator,
            code=store.product,
            receiver_id=cast.cascade_user,
            activity="cascade_use",
        )
    )
    made_at = app.clock() - timedelta(minutes=5)
    third = make_battery_code(
        "9CU", "P", "B", "01", "SECLIFE", made_at.astimezone(CHINA_STANDARD_TIME).date(), 2
    )
    app.cascade_reuse(
        actor_id=cast.cascade_user,
        originals=[store.product],
        product=ProductionSpec(
            code=third, rated_capacity_ah=100, nominal_voltage_v=51.2, energy_kwh=5.1, mass_kg=300,
            occurred_at=made_at,
        ),
    )  # fmt: skip
    runner = runners(batch_size=9)
    runner.catch_up()
    engine = runner.engine

    # The pack: its timeline in version order, every actor named, modules as components.
    pack = queries.battery_lifecycle(engine, store.pack)
    assert pack is not None
    timeline = pack["timeline"]
    assert [e["version"] for e in timeline] == list(range(1, 10))
    assert [e["event"] for e in timeline] == [
        "Produced", "Delivered", "Installed", "Removed", "Installed", "Retired", "Collected", "HandedOver",
        "Recycled",
    ]  # fmt: skip
    assert [e["position"] for e in timeline] == sorted(e["position"] for e in timeline)
    assert [e["event"] for e in timeline] == [type(e).__name__ for e in app.history(store.pack)]
    assert [e["actor_name"] for e in timeline] == [
        "Ningde Cells Co.", "Ningde Cells Co.", "Shenzhen Motors", "Shenzhen Motors", "Shenzhen Motors",
        "Shenzhen Motors", "Beijing Green Outlets", "Beijing Green Outlets", "Ganzhou Recycling",
    ]  # fmt: skip
    for entry, stored in zip(timeline, app.history(store.pack), strict=True):
        assert datetime.fromisoformat(entry["recorded_at"]) == stored.timestamp
        assert datetime.fromisoformat(entry["occurred_at"]) == stored.occurred_at
    assert timeline[1]["details"]["receiver_id"] == cast.vehicle_maker
    assert timeline[7]["details"]["receiver_id"] == cast.recycler
    battery = pack["battery"]
    assert battery["state"] == "recycled" and battery["version"] == 9
    assert battery["manufacturer_name"] == "Ningde Cells Co."
    assert battery["holder"] == {"kind": None, "id": None, "responsible_id": None}
    assert battery["second_life"] is False
    assert pack["lineage"]["components"] == [
        {"code": m, "level": "module", "state": "assembled"} for m in store.modules
    ]
    assert pack["lineage"]["parent_packs"] == []

    module = queries.battery_lifecycle(engine, store.modules[0])
    assert module is not None
    assert [e["event"] for e in module["timeline"]] == ["Produced", "AssembledInto"]
    assert module["lineage"]["parent_packs"] == [{"code": store.pack, "level": "pack", "state": "recycled"}]
    assert module["battery"]["holder"]["kind"] == "pack"

    # The third-life product: originals to depth (product, then the two first-life packs).
    newest = queries.battery_lifecycle(engine, third)
    assert newest is not None
    assert newest["battery"]["second_life"] is True
    assert newest["battery"]["manufacturer_name"] == "Changsha Second Life"
    assert newest["lineage"]["originals"] == [
        {
            "code": store.product,
            "level": "pack",
            "state": "cascade-reused",
            "originals": [
                {"code": original, "level": "pack", "state": "cascade-reused"} for original in store.originals
            ],
        }
    ]
    # A first-life pack: the chain of products it lives on in.
    original = queries.battery_lifecycle(engine, store.originals[1])
    assert original is not None
    assert original["lineage"]["second_life_products"] == [
        {"code": store.product, "level": "pack", "state": "cascade-reused"},
        {"code": third, "level": "pack", "state": "produced"},
    ]
    assert original["lineage"]["originals"] == []
    assert [e["event"] for e in original["timeline"]][-1] == "CascadeReused"

    # Flags: non-compliant handover, backwards date, and overdue as of a given moment.
    flagged = queries.battery_lifecycle(engine, store.non_compliant)
    assert flagged is not None and "non-compliant handover" in flagged["battery"]["flags"]
    backwards = queries.battery_lifecycle(engine, store.others["collected"])
    assert backwards is not None
    assert FLAG_BACKWARDS in backwards["battery"]["flags"]
    assert backwards["timeline"][-1]["late_correction"] is True
    retired = store.others["retired"]
    soon = queries.battery_lifecycle(engine, retired, now=datetime(2026, 9, 2, tzinfo=UTC), overdue_days=90)
    late = queries.battery_lifecycle(engine, retired, now=datetime(2027, 1, 1, tzinfo=UTC), overdue_days=90)
    assert soon is not None and late is not None
    assert not any(f.startswith("overdue") for f in soon["battery"]["flags"])
    assert any(f.startswith("overdue") for f in late["battery"]["flags"])

    assert queries.battery_lifecycle(engine, make_battery_code(
        "3CA", "P", "B", "12", "0A1B2C3", datetime(2024, 7, 15).date(), 999
    )) is None  # fmt: skip
