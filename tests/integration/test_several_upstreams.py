"""One set of views following two event stores (README "Past one primary": the write side split
by province, each province its own store), on PostgreSQL (two stores in two schemas, the views in
a third) and SQLite (three files).

Each store holds one province's participants, collection point and batteries (disjoint codes, as
a split by province or manufacturer code gives). One runner per store (the default upstream, and
``upstream="sc"``) follows it into the shared views:

- caught up concurrently, in two threads with small batches: the views equal the union of what
  each store alone gives (views built per store, compared table by table), each upstream has its
  own position row at its store's head, the ledger holds the default store's history only, and a
  battery query finds batteries of both stores;
- a manufacturer producing in both provinces: its monthly rows, shared by the two upstreams,
  equal the sum of each store's alone (each event added once, with the runners interleaving);
- runner processes, one per upstream, killed with SIGKILL mid-way and restarted, several times:
  after every kill each upstream's events up to its position are in the views exactly once
  (timeline rows, collection counters and monthly counts of that store's batteries), and at the
  end the views equal the union;
- a set-wise rebuild from both stores gives the same views; a rebuild given one store only is
  refused, since the views hold the other's events; a follower's-path rebuild resets both
  upstreams' positions and the two runners bring the views back to the union.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from batterytrace.events.battery import ProductionSpec
from batterytrace.events.commands import Collect, Deliver, HandOver, Install, Recycle, Reporting, Retire
from batterytrace.projections import queries
from batterytrace.projections.event_data import event_name
from batterytrace.projections.network_view import NetworkView
from batterytrace.projections.rebuild import RebuildNeedsUpstreams
from batterytrace.projections.runner import ViewRunner
from batterytrace.projections.tables import VIEWS, positions
from batterytrace.store import InvalidSetting
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.utils.cast import credit_code
from tests.utils.stores import fresh_schema
from tests.utils.views import MATERIALS, VIN, at, battery_code, differences, rows_as_dicts, view_contents

UPSTREAM = "sc"  # the second store's upstream name (Sichuan)
BATTERIES = 30  # per store, besides a pack built from two modules
STAGES = ("produced", "installed", "retired", "collected", "recycled")
SHARED = ("lifecycle", "network", "reports")  # the views both upstreams write
SEED = int(os.environ.get("BATTERYTRACE_CRASH_SEED", "20261128"))
KILL_ROUNDS = 4
CHILD_BATCH_SIZE = {"sqlite": 3, "postgresql": 5}
READY_TIMEOUT = 30
CHILD_RUNNER = """
import sys
from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace

runner = ViewRunner(BatteryTrace(), batch_size=int(sys.argv[1]), upstream=sys.argv[2] or None)
print("ready", flush=True)
runner.catch_up()
print("done", flush=True)
"""


# ---------------------------------------------------------------------------------- provinces
@dataclass(frozen=True)
class Province:
    """One store's participants and codes, disjoint from every other store's."""

    maker: str  # the manufacturer code its batteries carry
    regulator: str
    manufacturer: str
    vehicle_maker: str
    outlet_operator: str
    recycler: str
    point: str
    division: str

    def owns(self, code: str) -> bool:
        return code.startswith(self.maker)


BEIJING = Province(
    maker="3CA",
    regulator=credit_code("11110000000013127"),
    manufacturer=credit_code("91110105MA0000001"),
    vehicle_maker=credit_code("91110105MA0000002"),
    outlet_operator=credit_code("91110105MA0000003"),
    recycler=credit_code("91110105MA0000004"),
    point="CP-110105-0001",
    division="110105",
)
SICHUAN = Province(
    maker="5SC",
    regulator=credit_code("11510000000013120"),
    manufacturer=credit_code("91510104MA6C00001"),
    vehicle_maker=credit_code("91510104MA6C00002"),
    outlet_operator=credit_code("91510104MA6C00003"),
    recycler=credit_code("91510104MA6C00004"),
    point="CP-510104-0001",
    division="510104",
)


def spec(code: str, *, components: tuple[str, ...] = ()) -> ProductionSpec:
    return ProductionSpec(
        code=code,
        rated_capacity_ah=150,
        nominal_voltage_v=50 if code[3] == "M" else 100,
        energy_kwh=7.5 if code[3] == "M" else 15.3,
        mass_kg=50.25 if code[3] == "M" else 110.5,
        components=components,
    )


def write_province(app: BatteryTrace, p: Province, batteries: int = BATTERIES) -> list[str]:
    """The province's participants and point, a pack of two modules, and ``batteries`` packs,
    each left at one of ``STAGES``; returns every battery code."""
    app.register_participant(actor_id=None, credit_code=p.regulator, name="Regulator", roles=["regulator"])
    for code, name, roles, makers in (
        (p.manufacturer, "Cells", ["manufacturer"], [p.maker]),
        (p.vehicle_maker, "Motors", ["vehicle_maker"], None),
        (p.outlet_operator, "Outlets", ["outlet_operator"], None),
        (p.recycler, "Recycling", ["recycler"], None),
    ):
        app.register_participant(
            actor_id=p.regulator,
            credit_code=code,
            name=f"{p.maker} {name}",
            roles=roles,
            manufacturer_codes=makers,
            division_code=p.division,
        )
    app.grant_whitelist(actor_id=p.regulator, participant_id=p.recycler, activity="recycling")
    app.register_collection_point(
        actor_id=p.regulator,
        point_id=p.point,
        operator_id=p.outlet_operator,
        name=f"{p.maker} outlet",
        kind="collection",
        capacity_kg=5000,
        address=f"1 Battery Road, {p.division}",
        division_code=p.division,
    )
    modules = [battery_code("M", serial, maker=p.maker) for serial in (1, 2)]
    for module in modules:
        app.produce(actor_id=p.manufacturer, spec=spec(module))
    pack = battery_code("P", 3, maker=p.maker)
    app.produce(actor_id=p.manufacturer, spec=spec(pack, components=tuple(modules)))
    codes = [*modules, pack]
    for serial in range(10, 10 + batteries):
        code = battery_code("P", serial, maker=p.maker)
        stage = STAGES.index(STAGES[serial % len(STAGES)])
        app.produce(actor_id=p.manufacturer, spec=spec(code))
        codes.append(code)
        if stage >= 1:
            app.execute(
                Deliver(
                    actor_id=p.manufacturer,
                    code=code,
                    receiver_id=p.vehicle_maker,
                    reporting=Reporting(occurred_at=at(2024, 7, 25)),
                )
            )
            app.execute(
                Install(
                    actor_id=p.vehicle_maker,
                    code=code,
                    vin=VIN,
                    reporting=Reporting(occurred_at=at(2024, 8, 1)),
                )
            )
        if stage >= 2:
            app.execute(
                Retire(
                    actor_id=p.vehicle_maker,
                    code=code,
                    reason="capacity below 80%",
                    reporting=Reporting(occurred_at=at(2026, 9, 1)),
                )
            )
        if stage >= 3:
            app.execute(
                Collect(
                    actor_id=p.outlet_operator,
                    code=code,
                    collection_point_id=p.point,
                    reporting=Reporting(occurred_at=at(2026, 10, 1)),
                )
            )
        if stage >= 4:
            app.execute(
                HandOver(actor_id=p.outlet_operator, code=code, receiver_id=p.recycler, activity="recycling")
            )
            app.execute(Recycle(actor_id=p.recycler, code=code, recovered_kg=MATERIALS))
    return codes


# ------------------------------------------------------------------------------------ fixture
@dataclass
class TwoStores:
    """Two province stores and a views database apart from both."""

    kind: str  # "postgresql" or "sqlite"
    default_url: str  # Beijing's store: the default upstream
    other_url: str  # Sichuan's store: upstream ``UPSTREAM``
    views_url: str
    default: BatteryTrace
    other: BatteryTrace
    codes: dict[str, list[str]]

    def app(self, store_url: str, views_url: str | None = None) -> BatteryTrace:
        """Another application on ``store_url`` with its views in ``views_url`` (default: the
        shared views database); closed with the fixture."""
        made = BatteryTrace(Settings(database_url=store_url, views_database_url=views_url or self.views_url))
        self._made.append(made)
        return made

    def runner(self, store_url: str, *, upstream: str | None = None, **options: Any) -> ViewRunner:
        made = ViewRunner(self.app(store_url, options.pop("views_url", None)), upstream=upstream, **options)
        self._runners.append(made)
        return made

    def __post_init__(self) -> None:
        self._made: list[BatteryTrace] = []
        self._runners: list[ViewRunner] = []

    def close(self) -> None:
        for runner in self._runners:
            runner.engine.dispose()
        for app in self._made:
            app.close()


@pytest.fixture(params=("postgres", "sqlite"))
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TwoStores]:
    def database(name: str) -> AbstractContextManager[str]:
        if request.param == "postgres":
            return fresh_schema(request.getfixturevalue("postgres_server"), name)
        return nullcontext(f"sqlite:///{tmp_path / name}.db")

    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
    with ExitStack() as stack:
        default_url, other_url, views_url = (stack.enter_context(database(n)) for n in ("bj", "sc", "views"))
        default = BatteryTrace(Settings(database_url=default_url, views_database_url=views_url))
        stack.callback(default.close)
        other = BatteryTrace(Settings(database_url=other_url, views_database_url=views_url))
        stack.callback(other.close)
        codes = {"default": write_province(default, BEIJING), UPSTREAM: write_province(other, SICHUAN)}
        kind = "postgresql" if request.param == "postgres" else "sqlite"
        made = TwoStores(kind, default_url, other_url, views_url, default, other, codes)
        stack.callback(made.close)
        yield made


# ------------------------------------------------------------------------------------ helpers
def alone(stores: TwoStores, store_url: str, tmp_path: Path, name: str) -> dict[str, Any]:
    """The views of one store alone, built in a views database of their own."""
    views_url = f"sqlite:///{tmp_path / name}-alone.db"
    runner = stores.runner(store_url, views_url=views_url)
    runner.catch_up()
    return view_contents(runner.engine)


def union(left: dict[str, Any], right: dict[str, Any], views: tuple[str, ...] = SHARED) -> dict[str, Any]:
    from tests.utils.views import VIEW_TABLES

    tables = [t.name for name in views for t in VIEW_TABLES[name]]
    return {table: sorted(left[table] + right[table], key=repr) for table in tables}


def shared_part(contents: dict[str, Any], views: tuple[str, ...] = SHARED) -> dict[str, Any]:
    from tests.utils.views import VIEW_TABLES

    return {t.name: sorted(contents[t.name], key=repr) for name in views for t in VIEW_TABLES[name]}


def same(left: dict[str, Any], right: dict[str, Any]) -> None:
    assert left == right, differences(left, right)


def stored_events(app: BatteryTrace) -> list[tuple[int, Any]]:
    found: list[tuple[int, Any]] = []
    start = 1
    while page := app.recorder.select_notifications(start=start, limit=1000):
        found += [(n.id, app.mapper.to_domain_event(n)) for n in page]
        start = page[-1].id + 1
    return found


def position_rows(runner: ViewRunner) -> dict[str, int]:
    from sqlalchemy import select

    with runner.engine.connect() as connection:
        return {
            row.view: row.position
            for row in connection.execute(select(positions.c.view, positions.c.position))
        }


def check_prefix(
    contents: dict[str, Any], events: list[tuple[int, Any]], at: dict[str, int], p: Province
) -> str:
    """Each view holds the province's events up to its position ``at[view]`` exactly once; ""
    when it does, else what differs."""
    problems = []

    def upto(view: str, name: str) -> list[Any]:
        return [e for n, e in events if n <= at[view] and event_name(e) == name]

    timeline = sorted(r["position"] for r in rows_as_dicts(contents, "lifecycle_events") if p.owns(r["code"]))
    expected = [n for n, e in events if n <= at["lifecycle"] and event_name(e).startswith("Battery.")]
    if timeline != expected:
        problems.append(
            f"lifecycle timeline: {len(timeline)} rows, {len(expected)} events up to {at['lifecycle']}"
        )
    points = {r["id"]: r for r in rows_as_dicts(contents, "network_points") if r["id"] == p.point}
    collected = len(upto("network", "Battery.Collected"))
    if (points[p.point]["collected_count"] if points else 0) != collected:
        problems.append(f"network: {points} collected, {collected} events up to {at['network']}")
    monthly = [r for r in rows_as_dicts(contents, "report_monthly") if r["manufacturer_id"] == p.manufacturer]
    for kind, counter in (("Produced", "produced"), ("Retired", "retired"), ("Recycled", "recycled")):
        if sum(r[counter] for r in monthly) != len(upto("reports", f"Battery.{kind}")):
            problems.append(f"reports {counter} at {at['reports']}")
    return "; ".join(problems)


# -------------------------------------------------------------------------------------- tests
def test_two_runners_following_two_stores_give_the_union_of_each_store_alone(
    stores: TwoStores, tmp_path: Path
) -> None:
    runners = [
        stores.runner(stores.default_url, batch_size=7),
        stores.runner(stores.other_url, upstream=UPSTREAM, batch_size=5),
    ]
    assert "ledger" not in runners[1].views  # the ledger signs one store's history
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    applied: dict[str | None, int] = {}

    def work(runner: ViewRunner) -> None:
        try:
            barrier.wait(timeout=30)
            applied[runner.upstream] = runner.catch_up()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors

    heads = {
        None: stores.default.recorder.max_notification_id(),
        UPSTREAM: stores.other.recorder.max_notification_id(),
    }
    # each (view, upstream) pair applied each of its store's events once
    assert applied == {None: heads[None] * len(runners[0].views), UPSTREAM: heads[UPSTREAM] * len(SHARED)}
    assert position_rows(runners[0]) == {
        **{view: heads[None] if view in runners[0].views else 0 for view in VIEWS},
        **{f"{view}@{UPSTREAM}": heads[UPSTREAM] for view in SHARED},
    }
    for runner in runners:
        status = runner.status()
        assert {(s.upstream, s.head, s.lag) for s in status} == {(runner.upstream, heads[runner.upstream], 0)}
        assert runner.wait_until(heads[runner.upstream], timeout=0)

    shared = view_contents(runners[0].engine)
    beijing = alone(stores, stores.default_url, tmp_path, "bj")
    sichuan = alone(stores, stores.other_url, tmp_path, "sc")
    same(shared_part(shared), union(beijing, sichuan))
    same(shared_part(shared, ("ledger",)), shared_part(beijing, ("ledger",)))

    for province, key in ((BEIJING, "default"), (SICHUAN, UPSTREAM)):
        pack = battery_code("P", 3, maker=province.maker)
        found = queries.battery_lifecycle(runners[0].engine, pack)
        assert found is not None and found["battery"]["code"] == pack, (key, found)
        assert found["battery"]["manufacturer_id"] == province.manufacturer
        assert [c["code"] for c in found["lineage"]["components"]] == stores.codes[key][:2]
        recycled = battery_code("P", 14, maker=province.maker)
        document = queries.battery_lifecycle(runners[0].engine, recycled)
        assert document is not None and document["battery"]["state"] == "recycled", document
        assert [e["event"] for e in document["timeline"]][-1] == "Recycled", document["timeline"]

    # one more event in each store: applied once per (view, upstream), nothing else moves
    stores.other.produce(actor_id=SICHUAN.manufacturer, spec=spec(battery_code("P", 99, maker=SICHUAN.maker)))
    assert runners[0].catch_up() == 0
    assert runners[1].catch_up() == len(SHARED)
    assert position_rows(runners[0])[f"lifecycle@{UPSTREAM}"] == heads[UPSTREAM] + 1


def test_a_manufacturer_with_batteries_in_both_stores_has_its_counters_summed_once_per_event(
    stores: TwoStores, tmp_path: Path
) -> None:
    """Under a split by the producer's province a manufacturer may produce in two provinces:
    its monthly rows are shared by both upstreams, and each event adds to them once."""
    stores.other.register_participant(
        actor_id=SICHUAN.regulator,
        credit_code=BEIJING.manufacturer,
        name=f"{BEIJING.maker} Cells",
        roles=["manufacturer"],
        manufacturer_codes=[BEIJING.maker],
        division_code=BEIJING.division,
    )
    for serial in range(500, 520):
        stores.other.produce(
            actor_id=BEIJING.manufacturer, spec=spec(battery_code("P", serial, maker=BEIJING.maker))
        )
    runners = [
        stores.runner(stores.default_url, batch_size=2),
        stores.runner(stores.other_url, upstream=UPSTREAM, batch_size=1),
    ]
    threads = [threading.Thread(target=runner.catch_up) for runner in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    from batterytrace.projections.reports_view import MONTH_COUNTERS

    expected: Counter[tuple[str, str, str]] = Counter()
    for store_url, name in ((stores.default_url, "bj"), (stores.other_url, "sc")):
        for row in rows_as_dicts(alone(stores, store_url, tmp_path, name), "report_monthly"):
            for counter in MONTH_COUNTERS:
                expected[(row["manufacturer_id"], row["month"], counter)] += row[counter]
    shared: Counter[tuple[str, str, str]] = Counter()
    for row in rows_as_dicts(view_contents(runners[0].engine, "reports"), "report_monthly"):
        for counter in MONTH_COUNTERS:
            shared[(row["manufacturer_id"], row["month"], counter)] += row[counter]
    assert shared == expected
    produced = sum(
        n
        for (maker, _, counter), n in shared.items()
        if maker == BEIJING.manufacturer and counter == "produced"
    )
    assert produced == len(stores.codes["default"]) + 20


def start_child(stores: TwoStores, upstream: str | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATTERYTRACE_")}
    env.update(
        BATTERYTRACE_DATABASE_URL=stores.other_url if upstream else stores.default_url,
        BATTERYTRACE_VIEWS_DATABASE_URL=stores.views_url,
        NO_COLOR="1",
    )
    return subprocess.Popen(
        [sys.executable, "-c", CHILD_RUNNER, str(CHILD_BATCH_SIZE[stores.kind]), upstream or ""],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def wait_ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        readable, _, _ = select.select([process.stdout], [], [], 0.1)
        if readable:
            line = process.stdout.readline()
            if line.startswith("ready"):
                return
            if not line and process.poll() is not None:
                break
    process.kill()
    out, err = process.communicate()
    pytest.fail(f"the runner process never became ready (exit {process.returncode}):\n{out}\n{err}")


def test_runners_of_both_upstreams_killed_mid_way_apply_each_event_once(
    stores: TwoStores, tmp_path: Path
) -> None:
    rng = random.Random(f"{SEED}-{stores.kind}")
    checker = stores.runner(stores.default_url)  # creates the tables before the children start
    stores.runner(stores.other_url, upstream=UPSTREAM)
    events = {None: stored_events(stores.default), UPSTREAM: stored_events(stores.other)}
    province = {None: BEIJING, UPSTREAM: SICHUAN}
    journal: list[str] = []
    for number in range(KILL_ROUNDS):
        before = position_rows(checker)
        children = {upstream: start_child(stores, upstream) for upstream in (None, UPSTREAM)}
        for child in children.values():
            wait_ready(child)
        delays = {upstream: rng.uniform(0.05, 0.8) for upstream in children}
        started = time.monotonic()
        for upstream, delay in sorted(delays.items(), key=lambda item: item[1]):
            time.sleep(max(0.0, started + delay - time.monotonic()))
            children[upstream].send_signal(signal.SIGKILL)
        for child in children.values():
            child.communicate(timeout=30)
        after = position_rows(checker)
        journal.append(f"round {number}: SIGKILL after {delays}, positions {before} -> {after}")
        contents = view_contents(checker.engine)
        for upstream in (None, UPSTREAM):
            at = {view: after[f"{view}@{upstream}" if upstream else view] for view in SHARED}
            problem = check_prefix(contents, events[upstream], at, province[upstream])
            assert not problem, f"upstream {upstream or 'default'}: {problem}\n" + "\n".join(journal)

    stores.runner(stores.default_url).catch_up()
    stores.runner(stores.other_url, upstream=UPSTREAM).catch_up()
    beijing = alone(stores, stores.default_url, tmp_path, "bj")
    sichuan = alone(stores, stores.other_url, tmp_path, "sc")
    same(shared_part(view_contents(checker.engine)), union(beijing, sichuan))
    print("\n".join(journal))  # how far each kill let the runners get (shown with -s)


def test_a_rebuild_takes_every_upstream_or_is_refused(stores: TwoStores, tmp_path: Path) -> None:
    default = stores.runner(stores.default_url)
    other = stores.runner(stores.other_url, upstream=UPSTREAM)
    default.catch_up()
    other.catch_up()
    followed = view_contents(default.engine)
    before = position_rows(default)

    with pytest.raises(RebuildNeedsUpstreams, match=f"'{UPSTREAM}'"):
        default.rebuild()
    with pytest.raises(RebuildNeedsUpstreams, match="the default one"):
        other.rebuild()
    assert position_rows(default) == before
    same(view_contents(default.engine), followed)

    # set-wise from both stores: the same views, each upstream at its head
    assert default.rebuild(upstreams={UPSTREAM: stores.app(stores.other_url)}) > 0
    same(view_contents(default.engine), followed)
    assert position_rows(default) == before

    # from the other side: the default store given as the other upstream (the ledger is left out)
    other.rebuild(upstreams={None: stores.app(stores.default_url)})
    same(view_contents(default.engine), followed)
    assert position_rows(default) == before

    # a follower's-path rebuild (a view without a set-wise builder) resets both upstreams'
    # positions; the two runners then bring the view back
    plain_network = {"network": _FollowerOnly(NetworkView())}
    alone_default = stores.runner(stores.default_url, views=plain_network)
    alone_other = stores.runner(stores.other_url, upstream=UPSTREAM, views=plain_network)
    alone_default.rebuild()
    assert position_rows(default)[f"network@{UPSTREAM}"] == 0
    alone_other.catch_up()
    same(view_contents(default.engine), followed)
    assert position_rows(default) == before


class _FollowerOnly:
    """A view without a set-wise builder: it is rebuilt through the follower's path."""

    def __init__(self, view: Any) -> None:
        self.view = view
        self.name = view.name

    def apply(self, connection: Any, events: Any) -> None:
        self.view.apply(connection, events)


def test_an_upstream_name_is_checked_and_the_ledger_follows_the_default_store_only(stores: TwoStores) -> None:
    from batterytrace.projections.ledger_view import LedgerView

    with pytest.raises(InvalidSetting, match="upstream name"):
        stores.runner(stores.other_url, upstream="Sichuan Province")
    with pytest.raises(InvalidSetting, match="ledger"):
        stores.runner(stores.other_url, upstream=UPSTREAM, views={"ledger": LedgerView()})
