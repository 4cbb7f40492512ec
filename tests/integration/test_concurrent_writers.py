"""Two writers, one battery: the store lets exactly one of them save (optimistic concurrency).

Each round, two writers load the battery at the same version, wait for each other at a barrier,
and then both try to append the next event. The store's unique (stream, version) key must let
exactly one of them save; the other must get ``ConcurrentWrite`` and store nothing, so the stream
grows by exactly one event per round, and that event is the winner's.

The writers are separate OS processes (``spawn``), each with its own ``BatteryTrace`` on the same
database URL, kept alive across rounds and driven through queues so that hundreds of rounds stay
fast. A thread-based variant runs two application instances inside one process. The writers call
the domain and ``BatteryTrace._commit`` directly: that is what makes "both loaded the same
version" certain rather than likely.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from batterytrace.events.battery import Battery, ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.commands import Deliver, Install, Remove, Reporting
from batterytrace.events.errors import ConcurrentWrite, NotAuthorised
from batterytrace.events.participant import Participant
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.utils.cast import NationalCast, credit_code

PROCESS_ROUNDS = 200
THREAD_ROUNDS = 100
WAIT_SECONDS = 30
VINS = {"A": "LSVAU2180N2183294", "B": "LFV3A23C1K3000001"}
REASONS = {"A": "repair", "B": "replacement"}
WRITERS = ("A", "B")


def make_pack(app: BatteryTrace, cast: NationalCast, serial: int) -> str:
    """A pack produced, delivered to the vehicle maker and installed in a vehicle (held by it)."""
    pack = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2024, 7, 15), serial)
    app.produce(
        actor_id=cast.manufacturer,
        spec=ProductionSpec(
            code=pack, rated_capacity_ah=150, nominal_voltage_v=100, energy_kwh=15, mass_kg=110
        ),
    )
    delivered = datetime(2024, 7, 25)
    app.execute(
        Deliver(
            actor_id=cast.manufacturer,
            code=pack,
            receiver_id=cast.vehicle_maker,
            reporting=Reporting(occurred_at=delivered),
        )
    )
    app.execute(
        Install(
            actor_id=cast.vehicle_maker,
            code=pack,
            vin=VINS["A"],
            reporting=Reporting(occurred_at=datetime(2024, 8, 1)),
        )
    )
    return pack


def conflicting_write(battery: Battery, actor: Participant, writer: str, final: bool) -> None:
    """The write each writer attempts on the version it loaded. In ordinary rounds both make the
    same move with different data (remove for repair vs replacement, install in vehicle A vs B),
    so the stored event tells whose write won; in the final round one retires while the other
    removes."""
    now = datetime.now(UTC)
    if final and writer == "A":
        battery.retire(actor=actor, reason="end of first life", occurred_at=now)
    elif battery.state == "installed":
        battery.remove(actor=actor, reason=REASONS[writer], occurred_at=now)
    else:
        battery.install(actor=actor, vin=VINS[writer], occurred_at=now)


def attempt(
    app: BatteryTrace, actor_id: str, code: str, writer: str, final: bool, wait: Callable[[], Any]
) -> tuple[str, int, int | str | None]:
    """Load, wait for the other writer to have loaded too, write: (outcome, loaded version, detail)."""
    actor = app.participant(actor_id)
    battery = app.battery(code)
    loaded = battery.version
    wait()
    conflicting_write(battery, actor, writer, final)
    try:
        result = app._commit(battery)
    except ConcurrentWrite as error:
        return "lost", loaded, error.message
    return "won", loaded, result.notification_id


def process_writer(
    database_url: str,
    writer: str,
    actor_id: str,
    barrier: Any,
    orders: multiprocessing.Queue,
    answers: multiprocessing.Queue,
) -> None:
    """One writer process: its own application on the shared store, one attempt per order."""
    app = BatteryTrace(Settings(database_url=database_url))
    try:
        while (order := orders.get()) is not None:
            round_no, code, final = order
            try:
                outcome = attempt(
                    app, actor_id, code, writer, final, lambda: barrier.wait(timeout=WAIT_SECONDS)
                )
            except BaseException as error:  # report, don't die: the test shows what went wrong
                answers.put((round_no, writer, "error", -1, f"{type(error).__name__}: {error}"))
                continue
            answers.put((round_no, writer, *outcome))
    finally:
        app.close()


def check_rounds(
    app: BatteryTrace, code: str, start_version: int, answers: list[list[tuple[Any, ...]]]
) -> None:
    """Exactly one winner per round, the loser refused, one new event per round, the winner's."""
    history = app.history(code)
    rounds = len(answers)
    assert len(history) == start_version + rounds
    assert [e.originator_version for e in history] == list(range(1, start_version + rounds + 1))
    winners_notifications = []
    for round_no, replies in enumerate(answers):
        replies = sorted(replies, key=lambda reply: reply[2])
        assert [r[2] for r in replies] == ["lost", "won"], (round_no, replies)
        (_, _loser, _, loser_loaded, why), (_, winner, _, winner_loaded, notification_id) = replies
        assert loser_loaded == winner_loaded == start_version + round_no, (round_no, replies)
        assert "changed while this request was being processed" in why
        winners_notifications.append(notification_id)
        stored = history[start_version + round_no]
        name = type(stored).__name__
        if name == "Removed":
            assert stored.reason == REASONS[winner], (round_no, replies)
        elif name == "Installed":
            assert stored.vin == VINS[winner], (round_no, replies)
        else:
            assert (name, winner) == ("Retired", "A"), (round_no, replies)
    assert winners_notifications == sorted(winners_notifications)
    assert len(set(winners_notifications)) == rounds


# ----------------------------------------------------------------------------------- processes
def receive(answers: multiprocessing.Queue, processes: list[Any]) -> tuple[Any, ...]:
    """The next answer, failing at once (not after a long timeout) if a writer process died."""
    for _ in range(WAIT_SECONDS * 10):
        try:
            return answers.get(timeout=0.1)
        except queue.Empty:
            dead = [p for p in processes if not p.is_alive()]
            if dead:
                pytest.fail(f"writer process exited early with code {dead[0].exitcode}")
    pytest.fail(f"no answer from the writer processes within {WAIT_SECONDS} s")


@pytest.mark.slow
def test_two_writer_processes_on_one_battery_exactly_one_wins_each_round(
    app: BatteryTrace, cast: NationalCast, database_url: str
) -> None:
    code = make_pack(app, cast, 1)
    start_version = app.battery(code).version
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    answers_queue = context.Queue()
    orders = {writer: context.Queue() for writer in WRITERS}
    processes = [
        context.Process(
            target=process_writer,
            args=(database_url, writer, cast.vehicle_maker, barrier, orders[writer], answers_queue),
            daemon=True,
        )
        for writer in WRITERS
    ]
    for process in processes:
        process.start()
    answers: list[list[tuple[Any, ...]]] = []
    try:
        for round_no in range(PROCESS_ROUNDS + 1):
            final = round_no == PROCESS_ROUNDS
            for writer in WRITERS:
                orders[writer].put((round_no, code, final))
            replies = [receive(answers_queue, processes) for _ in WRITERS]
            assert all(r[0] == round_no for r in replies), replies
            assert not [r for r in replies if r[2] == "error"], replies
            answers.append(replies)
    finally:
        for writer in WRITERS:
            orders[writer].put(None)
        for process in processes:
            process.join(timeout=20)
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)

    assert [p.exitcode for p in processes] == [0, 0]
    check_rounds(app, code, start_version, answers)


# ------------------------------------------------------------------------------------- threads
def test_two_writer_threads_with_their_own_applications_exactly_one_wins_each_round(
    app: BatteryTrace, cast: NationalCast, database_url: str
) -> None:
    code = make_pack(app, cast, 2)
    start_version = app.battery(code).version
    barrier = threading.Barrier(2)
    apps = {writer: BatteryTrace(Settings(database_url=database_url)) for writer in WRITERS}
    answers: list[list[tuple[Any, ...]]] = []
    try:
        for round_no in range(THREAD_ROUNDS + 1):
            final = round_no == THREAD_ROUNDS
            replies: queue.Queue[tuple[Any, ...]] = queue.Queue()

            def write(
                writer: str,
                round_no: int = round_no,
                final: bool = final,
                replies: queue.Queue[tuple[Any, ...]] = replies,
            ) -> None:
                try:
                    outcome = attempt(
                        apps[writer],
                        cast.vehicle_maker,
                        code,
                        writer,
                        final,
                        lambda: barrier.wait(timeout=WAIT_SECONDS),
                    )
                except BaseException as error:
                    replies.put((round_no, writer, "error", -1, f"{type(error).__name__}: {error}"))
                    return
                replies.put((round_no, writer, *outcome))

            threads = [threading.Thread(target=write, args=(writer,)) for writer in WRITERS]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            round_replies = [replies.get_nowait() for _ in WRITERS]
            assert not [r for r in round_replies if r[2] == "error"], round_replies
            answers.append(round_replies)
    finally:
        for writer_app in apps.values():
            writer_app.close()

    check_rounds(app, code, start_version, answers)


# -------------------------------------------------------------------------- opening the store
def test_many_applications_opening_one_store_at_once_all_open(database_url: str) -> None:
    """Server workers and a CLI start together: each creates the store's tables if missing. On
    PostgreSQL their concurrent catalogue changes once failed with "tuple concurrently updated";
    on a new SQLite file their switches to WAL failed with "database is locked". A lock now
    serialises opening (an advisory lock; a flock on the SQLite file's folder), so every one of
    them opens, in every round; on SQLite each round opens a new file."""
    openers = 6
    for round_no in range(8):
        url = database_url.replace("batterytrace.db", f"opened-{round_no}.db")
        barrier = threading.Barrier(openers)
        outcomes: queue.Queue[str] = queue.Queue()

        def open_store(
            url: str = url, barrier: threading.Barrier = barrier, outcomes: queue.Queue[str] = outcomes
        ) -> None:
            barrier.wait(timeout=WAIT_SECONDS)
            try:
                BatteryTrace(Settings(database_url=url)).close()
            except Exception as error:
                outcomes.put(f"{type(error).__name__}: {error}")
            else:
                outcomes.put("opened")

        threads = [threading.Thread(target=open_store) for _ in range(openers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert [outcomes.get_nowait() for _ in range(openers)] == ["opened"] * openers, round_no


# --------------------------------------------------------------------------- the public API
def pause_after_first_load(app: BatteryTrace, barrier: threading.Barrier) -> dict[str, bool]:
    """Make ``app``'s next battery load wait at ``barrier`` (re-arm through the returned dict), so
    that two commands through the public API certainly load the same version; the retry that
    follows a lost race loads again without waiting."""
    load = app.battery
    armed = {"armed": False}

    def battery(code: str) -> Battery:
        loaded = load(code)
        if armed["armed"]:
            armed["armed"] = False
            barrier.wait(timeout=WAIT_SECONDS)
        return loaded

    app.battery = battery  # type: ignore[method-assign]
    return armed


def race_public_commands(
    database_url: str, cast: NationalCast, code: str, rounds: int, request_id: Callable[[int], str | None]
) -> list[list[tuple[str, Any]]]:
    """Each round both applications send the next remove or install of ``code`` at once."""
    barrier = threading.Barrier(2)
    apps = {writer: BatteryTrace(Settings(database_url=database_url)) for writer in WRITERS}
    triggers = {writer: pause_after_first_load(apps[writer], barrier) for writer in WRITERS}
    outcomes: list[list[tuple[str, Any]]] = []
    try:
        for round_no in range(rounds):
            removing = round_no % 2 == 0
            replies: queue.Queue[tuple[str, Any]] = queue.Queue()

            def send(
                writer: str,
                removing: bool = removing,
                round_no: int = round_no,
                replies: queue.Queue[tuple[str, Any]] = replies,
            ) -> None:
                app = apps[writer]
                try:
                    if removing:
                        result = app.execute(
                            Remove(
                                actor_id=cast.vehicle_maker,
                                code=code,
                                reason=REASONS[writer],
                                reporting=Reporting(request_id=request_id(round_no)),
                            )
                        )
                    else:
                        result = app.execute(
                            Install(
                                actor_id=cast.vehicle_maker,
                                code=code,
                                vin=VINS[writer],
                                reporting=Reporting(request_id=request_id(round_no)),
                            )
                        )
                except BaseException as error:
                    replies.put((writer, error))
                    return
                replies.put((writer, result))

            for writer in WRITERS:
                triggers[writer]["armed"] = True
            threads = [threading.Thread(target=send, args=(writer,)) for writer in WRITERS]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            outcomes.append([replies.get_nowait() for _ in WRITERS])
    finally:
        for app in apps.values():
            app.close()
    return outcomes


def test_the_same_request_sent_twice_at_once_is_recorded_once(
    app: BatteryTrace, cast: NationalCast, database_url: str
) -> None:
    """A client replay racing its original: the loser's retry finds its own request done."""
    code = make_pack(app, cast, 3)
    start_version = app.battery(code).version
    rounds = 40

    outcomes = race_public_commands(database_url, cast, code, rounds, lambda n: f"request-{n}")

    history = app.history(code)
    assert len(history) == start_version + rounds
    for round_no, replies in enumerate(outcomes):
        results = [r for _, r in replies]
        assert not [r for r in results if isinstance(r, BaseException)], (round_no, replies)
        recorded = [r for r in results if not r.replayed]
        answered = [r for r in results if r.replayed]
        assert len(recorded) == 1 and len(answered) == 1, (round_no, replies)
        assert recorded[0].events == [f"{code}:{'Removed' if round_no % 2 == 0 else 'Installed'}"]
        assert answered[0].events == [] and answered[0].notification_id is None
        assert history[start_version + round_no].request_id == f"request-{round_no}"


def test_without_a_request_id_the_loser_of_a_race_is_told_to_read_again(
    app: BatteryTrace, cast: NationalCast, database_url: str
) -> None:
    code = make_pack(app, cast, 4)
    start_version = app.battery(code).version
    rounds = 20

    outcomes = race_public_commands(database_url, cast, code, rounds, lambda n: None)

    history = app.history(code)
    assert len(history) == start_version + rounds
    for round_no, replies in enumerate(outcomes):
        won = [(w, r) for w, r in replies if not isinstance(r, BaseException)]
        lost = [(w, r) for w, r in replies if isinstance(r, BaseException)]
        assert len(won) == 1 and len(lost) == 1, (round_no, replies)
        assert isinstance(lost[0][1], ConcurrentWrite), (round_no, replies)
        assert "read it again and retry" in lost[0][1].message
        stored = history[start_version + round_no]
        winner = won[0][0]
        if round_no % 2 == 0:
            assert stored.reason == REASONS[winner]
        else:
            assert stored.vin == VINS[winner]


# --------------------------------------------------------------------------- bootstrap race
def test_two_first_regulators_racing_cannot_both_bootstrap(database_url: str) -> None:
    barrier = threading.Barrier(2)
    apps = [BatteryTrace(Settings(database_url=database_url)) for _ in range(2)]
    codes = [credit_code("11100000000013127"), credit_code("11100000000013135")]
    outcomes: dict[str, str] = {}

    def register(app: BatteryTrace, code: str) -> None:
        seen = app.regulators

        def regulators_then_wait() -> list[Participant]:
            found = seen()
            barrier.wait(timeout=WAIT_SECONDS)  # both have checked before either saves
            return found

        app.regulators = regulators_then_wait  # type: ignore[method-assign]
        try:
            app.register_participant(actor_id=None, credit_code=code, name=code, roles=["regulator"])
            outcomes[code] = "registered"
        except (NotAuthorised, ConcurrentWrite) as error:
            outcomes[code] = type(error).__name__

    try:
        threads = [threading.Thread(target=register, args=pair) for pair in zip(apps, codes, strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(outcomes) == 2
        assert sorted(outcomes.values()).count("registered") == 1, outcomes
        reader = apps[0]
        del reader.regulators
        assert len(reader.regulators()) == 1
    finally:
        for app in apps:
            app.close()
