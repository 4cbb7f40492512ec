"""``batterytrace demo``: a deterministic, realistic national data set to explore the platform.

The same seed, battery count and batch size give the same events on the same calendar day:
real-world history runs from 2017 up to yesterday, relative to the application's clock, and
second-life products are assembled within a batch. Recording times are simulated too (see
``ReportClock``): each report reaches the platform a short, seeded delay after its event, within
the working-day deadline, but never after the application's clock, so they are the same when the
clock reads the same moment (reports of the last days are the ones a later reading could change).

The generator plants one of each case a regulator looks for (an overdue retired battery, a
handover to a non-whitelisted recycler, a late correction dated before its predecessor, a report
recorded past its deadline, an outlet over capacity, a scrapped vehicle's battery left with the
dismantler past its deadline) so that every report has something to show even in a small demo;
apart from the planted late report, every event is reported on time. A pack from a scrapped
vehicle is taken in with the vehicle by a dismantler (``VehicleScrapped``) before it retires it;
after the ordinary lives, ``vehicles.py`` adds a swap operator's pool of packs swapped in and out
of vehicles, and the scrapped vehicles' stories. Last, ``passports.py`` posts every model's EU
battery passport data and readings of some batteries in service, so their passports answer.

Speed: the cast and outlets are registered first; then each battery's whole life is built in
memory with the domain's commands and ``batch_size`` batteries are saved per transaction, so the
cost is dominated by encoding and inserting events, not by round trips.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from eventsourcing.persistence import IntegrityError

from batterytrace.demo.cast import CAST, DemoCast, DemoPoints, register_cast, register_points
from batterytrace.demo.life import NO_TWIST, LifeWriter, Twist
from batterytrace.demo.passports import PASSPORT_EXAMPLE, PassportCandidates, post_passports
from batterytrace.demo.reports import ReportClock
from batterytrace.demo.vehicles import STORY_PACKS, VehicleStories
from batterytrace.events.base import CHINA_STANDARD_TIME, recording_clock
from batterytrace.events.errors import AlreadyExists, ConcurrentWrite, InvalidInput
from batterytrace.events.lifecycle import State
from batterytrace.trace.application import BatteryTrace

MIN_BATTERIES = 40  # room for every planted case and the vehicle stories (STORY_PACKS)
EARLIEST_TODAY = date(2020, 1, 1)  # history starts in 2017 and needs a few years to unfold
OVER_CAPACITY_PREFECTURE = "440300"  # Shenzhen: the outlet planted over capacity
OVER_CAPACITY_FACTOR = 1.1  # planted load: 110 % of the outlet's capacity

# Planted cases: example key, final stage, twist. The state each must end in is checked, so a
# case that could not be planted is simply not offered as an example. PLAIN rules out the
# random non-whitelisted receiver, which would stop a planted "recycled" short of recycling.
PLAIN = Twist(non_compliant=False)
PLANTED: tuple[tuple[str, str, Twist], ...] = (
    ("produced", "produced", PLAIN),
    ("installed", "installed", PLAIN),
    ("removed", "removed", PLAIN),
    ("retired", "retired", PLAIN),
    ("collected", "collected", PLAIN),
    ("handed_over", "handed_over", PLAIN),
    ("recycled", "recycled", PLAIN),
    ("cascade_reused", "cascade_reused", Twist(lfp=True)),
    ("cascade_reused", "cascade_reused", Twist(lfp=True)),
    ("overdue", "overdue", PLAIN),
    ("non_compliant_handover", "handed_over", Twist(non_compliant=True)),
    ("backwards_date", "collected", Twist(backwards=True)),
    ("late_report", "collected", Twist(reported_late=True)),
    ("pack_with_modules", "installed", Twist(modules=True)),
)
EXPECTED_STATE = {
    "produced": State.PRODUCED,
    "installed": State.INSTALLED,
    "removed": State.REMOVED,
    "retired": State.RETIRED,
    "overdue": State.RETIRED,
    "collected": State.COLLECTED,
    "backwards_date": State.COLLECTED,
    "late_report": State.COLLECTED,
    "handed_over": State.HANDED_OVER,
    "non_compliant_handover": State.HANDED_OVER,
    "recycled": State.RECYCLED,
    "cascade_reused": State.HANDED_OVER,  # to the cascade-use enterprise; reused at flush
    "pack_with_modules": State.INSTALLED,
}
ACTOR_KEYS = {
    "manufacturer": "manufacturer-1",
    "vehicle_maker": "vehicle-maker-1",
    "outlet_operator": "outlet-1",
    "dismantler": "dismantler-1",
    "recycler": "recycler-1",
    "non_whitelisted_recycler": "informal-1",
    "cascade_user": "cascade-1",
    "swap_operator": "swap-1",
}
EMPTY_STORE_NEEDED = (
    "the store already holds data; demo needs an empty store: point BATTERYTRACE_DATABASE_URL at a new file"
)


@dataclass
class DemoSummary:
    """What was generated, and where to look first."""

    participants: int
    collection_points: int
    batteries: int  # every battery stream: packs, their modules, second-life products
    events: int
    examples: dict[str, str]  # lifecycle stage or planted case -> battery code (or outlet id)
    actors: dict[str, str]  # role label -> credit code of a demo participant
    packs: int = 0
    modules: int = 0
    second_life_products: int = 0


def generate_demo(
    app: BatteryTrace,
    *,
    seed: int = 7,
    batteries: int = 2000,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 500,
) -> DemoSummary:
    """Fill an empty store with ``batteries`` first-life packs and everything around them.

    ``progress(n)`` is called after each saved batch with the packs it finished.
    """
    now = app.clock()
    today = now.astimezone(CHINA_STANDARD_TIME).date()
    _check_arguments(batteries, batch_size, today)
    _require_empty(app)
    rng = random.Random(seed)
    reports = ReportClock(seed, now)
    with recording_clock(reports):  # every event is stamped with the report time set before it
        cast = register_cast(app, rng, reports)
        points = register_points(app, cast, rng, batteries, reports)
        writer = LifeWriter(rng, cast, points, today, reports)
        cases = _cases(writer, points)
        candidates = PassportCandidates(seed)
        events = cast.events + points.events
        done, lives = 0, batteries - STORY_PACKS
        while done < lives:
            size = min(batch_size, lives - done)
            for _ in range(size):
                key, stage, twist = next(cases)
                battery = writer.pack(stage, twist)
                if key and battery.state == EXPECTED_STATE.get(key, battery.state):
                    writer.examples.setdefault(key, battery.code)
            batch = writer.flush()
            events += _save(app, [*batch, *candidates.note(batch, app, cast, reports)])
            done += size
            if progress:
                progress(size)
        stories = VehicleStories(cast, writer.models, writer.grants, writer.last_day, reports, seed)
        batch = stories.write()
        events += _save(app, [*batch, *candidates.note(batch, app, cast, reports)])
        writer.packs += STORY_PACKS
        writer.examples.update(stories.examples)
        posted, passport_example = post_passports(app, cast, writer.models, candidates, reports)
        events += posted
        if passport_example:
            writer.examples[PASSPORT_EXAMPLE] = passport_example
        if progress:
            progress(STORY_PACKS)
    return _summary(cast, points, writer, events)


def _check_arguments(batteries: int, batch_size: int, today: date) -> None:
    if batteries < MIN_BATTERIES:
        raise InvalidInput(
            f"a demo needs at least {MIN_BATTERIES} batteries to plant every example case; got {batteries}"
        )
    if batch_size < 1:
        raise InvalidInput(f"batch size must be 1 or more, got {batch_size}")
    if today < EARLIEST_TODAY:
        raise InvalidInput(
            f"the demo's history runs from 2017 to yesterday; the application's clock says "
            f"{today.isoformat()}, too early (needs {EARLIEST_TODAY.isoformat()} or later)"
        )


def _require_empty(app: BatteryTrace) -> None:
    """Demo data mixed into real data would be indistinguishable from it: refuse."""
    if app.recorder.select_notifications(start=1, limit=1):
        raise AlreadyExists(EMPTY_STORE_NEEDED)


def _save(app: BatteryTrace, batch: list[Any]) -> int:
    """One transaction per batch; a collision means someone else writes to this store too."""
    try:
        return len(app.save(*batch))
    except IntegrityError:
        raise ConcurrentWrite(
            "another writer added the same batteries while the demo ran; " + EMPTY_STORE_NEEDED
        ) from None


def _cases(writer: LifeWriter, points: DemoPoints) -> Iterator[tuple[str | None, str | None, Twist]]:
    """The planted cases first, then ordinary lives for ever."""
    yield from PLANTED
    outlet = points.by_prefecture[OVER_CAPACITY_PREFECTURE][0]
    points.reserved.add(outlet)
    writer.examples["over_capacity_outlet"] = outlet
    limit = points.by_id[outlet].capacity_kg * OVER_CAPACITY_FACTOR
    while points.held_kg.get(outlet, 0.0) <= limit:
        yield None, "collected", Twist(point_id=outlet, heavy=True)
    while True:
        yield None, None, NO_TWIST


def _summary(cast: DemoCast, points: DemoPoints, writer: LifeWriter, events: int) -> DemoSummary:
    actors = {"regulator": cast.regulator.id}
    actors.update({label: cast.by_key[key].id for label, key in ACTOR_KEYS.items()})
    return DemoSummary(
        participants=1 + len(CAST),
        collection_points=len(points.by_id),
        batteries=writer.packs + writer.modules + writer.products,
        events=events,
        examples=dict(writer.examples),
        actors=actors,
        packs=writer.packs,
        modules=writer.modules,
        second_life_products=writer.products,
    )
