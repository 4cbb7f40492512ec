"""Commands that arrive together, run as one: an outlet's hand-over of N batteries, the scans its
page queued while the server was away.

Why one command and one transaction instead of N: the ``eventsourcing`` PostgreSQL recorder
takes ``LOCK TABLE … IN EXCLUSIVE MODE`` on every insert, so that notification order is commit
order; one application's writes are serial and a write's fixed cost (a round trip, the lock, a
commit) is paid per transaction, not per event. The library's ``save(*aggregates)`` stores
several aggregates' events in one transaction, so N batteries handed over together cost about one
write (bench P8 measures it: ``bench/write_ceiling.py``).

All or nothing: each battery goes through exactly the handler its single command uses
(``battery_commands.py``: the same rules, the same refusals, the same request-id replay); if any
battery is refused, nothing is stored and ``BatchRefused`` carries one outcome per battery —
which were refused and why (each refusal's own message key and params, so pages say it in the
reader's language), and which would have been recorded. A refusal's ``detail`` (who really holds
a battery) stays in the server log, as for the single commands.

Authorisation is the single commands': the caller must operate the collection point the batch is
recorded at (checked before anything else, like a scan), and each battery must be the caller's to
hand over (its holder). A hand-over from a point takes only batteries held at that point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from batterytrace.events.battery import Battery
from batterytrace.events.battery_code import parse_battery_code
from batterytrace.events.collection_point import CollectionPoint
from batterytrace.events.commands import Collect, HandOver
from batterytrace.events.errors import DomainError, InvalidInput, LifecycleViolation
from batterytrace.events.lifecycle import Action, State
from batterytrace.events.participant import Participant
from batterytrace.trace.battery_commands import Attempt, handler_for
from batterytrace.trace.scanning import code_from_text

if TYPE_CHECKING:
    from batterytrace.trace.application import BatteryTrace, WriteResult

MAX_BATCH = 500  # batteries per batch: ~100 ms of work, a JSON body well under the 1 MB limit

ItemCommand = HandOver | Collect
Verdict = Literal["recorded", "replayed", "refused", "not_stored"]


@dataclass(frozen=True, kw_only=True)
class Batch:
    """Commands by one actor at one collection point, to be recorded together or not at all:
    hand-overs of batteries the point holds, or scans (``Collect``) at the point. Each command
    keeps its own battery and request id."""

    actor_id: str
    collection_point_id: str
    commands: tuple[ItemCommand, ...]

    def __post_init__(self) -> None:
        if any(command.actor_id != self.actor_id for command in self.commands):
            raise ValueError("every command of a batch is by the batch's actor")

    @property
    def request_ids(self) -> tuple[str, ...]:
        return tuple(c.reporting.request_id for c in self.commands if c.reporting.request_id)


@dataclass(frozen=True)
class Outcome:
    """What became of one command of a batch: ``recorded`` (its events are in ``events``),
    ``replayed`` (its request id was seen: nothing new), ``refused`` (``error`` says why), or
    ``not_stored`` (it would have been recorded, but another command was refused)."""

    code: str
    verdict: Verdict
    events: tuple[Any, ...] = ()
    battery: Battery | None = None
    error: DomainError | None = None


@dataclass(frozen=True)
class BatchResult:
    """The batch's one write, and an outcome per command in the order sent."""

    write: WriteResult
    outcomes: tuple[Outcome, ...]


class BatchRefused(DomainError):
    """At least one command of a batch was refused, so none was recorded."""

    kind = "batch-refused"
    message_key = "batch.refused"

    def __init__(self, outcomes: Sequence[Outcome]) -> None:
        refused = [o for o in outcomes if o.verdict == "refused"]
        super().__init__(
            f"{len(refused)} of {len(outcomes)} batteries were refused, so none was recorded; "
            "send the batch again without them, or fix what each refusal names",
            params={"refused": len(refused), "count": len(outcomes)},
        )
        self.outcomes = tuple(outcomes)


def check_size(count: int, noun: str = "batteries") -> None:
    """A batch holds 1 to ``MAX_BATCH`` commands."""
    if count == 0:
        raise InvalidInput(f"the batch is empty: send 1 to {MAX_BATCH} {noun}", key="batch.empty")
    if count > MAX_BATCH:
        raise InvalidInput(
            f"a batch holds at most {MAX_BATCH} {noun}; this one has {count}: split it into batches "
            f"of {MAX_BATCH} or fewer",
            key="batch.too_large",
            params={"max": MAX_BATCH, "count": count},
        )


def run_batch(app: BatteryTrace, batch: Batch, *, actor: Participant | None = None) -> BatchResult:
    """Run every command of ``batch`` on the batteries as loaded in one read, then save all of
    them in one transaction; raise ``BatchRefused`` (nothing stored) if any command is refused.

    A batch that lost a race is retried once when its commands carry request ids, as single
    commands are, so a client's replay of a batch is answered rather than refused."""
    if actor is None:
        actor = app.participant(batch.actor_id)
    elif actor.id != batch.actor_id:
        raise ValueError(f"actor {actor.id} is not {batch.actor_id}")
    point = app.collection_point(batch.collection_point_id)
    point.require_operator(actor)  # the whole batch: another operator's point is refused first
    check_size(
        len(batch.commands), "scans" if any(isinstance(c, Collect) for c in batch.commands) else "batteries"
    )
    _refuse_repeats(batch)
    participant = _remembering(app.participant)
    request_id = batch.request_ids[0] if batch.request_ids else None
    # A lost race is handled as a single command's (``_retrying_once``: retried once with a request id).
    return app._retrying_once(request_id, lambda: _attempt(app, batch, actor, point, participant))


def _attempt(
    app: BatteryTrace,
    batch: Batch,
    actor: Participant,
    point: CollectionPoint,
    participant: Callable[[str], Participant],
) -> BatchResult:
    """One try: read every battery in one statement, run each command, save all or refuse."""
    today = app.today()
    codes: list[str | DomainError] = []
    for command in batch.commands:
        try:
            codes.append(_code_of(command, today))
        except DomainError as error:
            codes.append(error)
    loaded = app.load_together(*(code for code in codes if isinstance(code, str)))
    batteries: dict[str, Battery] = {}  # one object per battery: a code sent twice sees the first
    outcomes: list[Outcome] = []
    for command, code in zip(batch.commands, codes, strict=True):
        try:
            if isinstance(code, DomainError):
                raise code
            battery = batteries.get(code) or _battery(app, loaded.get(code), code)
            batteries[code] = battery
            outcomes.append(_run_one(app, command, battery, actor, point, participant))
        except DomainError as error:
            shown = code if isinstance(code, str) else command.code.strip()
            outcomes.append(Outcome(shown, "refused", error=error))
    if any(o.verdict == "refused" for o in outcomes):
        raise BatchRefused(
            [
                o if o.verdict == "refused" else Outcome(o.code, "not_stored", battery=o.battery)
                for o in outcomes
            ]
        )
    return BatchResult(app.commit(*batteries.values()), tuple(outcomes))


def _code_of(command: ItemCommand, today: date) -> str:
    """The battery a command names: a scan's ``code`` is what the label says (the resolver URL or
    the code), read as a single scan reads it, with the same refusals."""
    if isinstance(command, Collect):
        return code_from_text(command.code, today=today)
    return parse_battery_code(command.code, today=today).code


def _refuse_repeats(batch: Batch) -> None:
    """A battery is handed over once: a code listed twice is the client's mistake, said as such
    (under one request id the second would read as a replay of the first)."""
    seen: set[str] = set()
    for command in batch.commands:
        if not isinstance(command, HandOver):
            continue
        code = command.code.strip().upper()
        if code in seen:
            raise InvalidInput(
                f"battery {code} is listed twice; list each battery once",
                key="batch.repeated",
                params={"code": code},
            )
        seen.add(code)


def _battery(app: BatteryTrace, found: Any, code: str) -> Battery:
    """The battery as loaded, or the single commands' refusal when there is none."""
    return found if isinstance(found, Battery) else app.battery(code)


def _run_one(
    app: BatteryTrace,
    command: ItemCommand,
    battery: Battery,
    actor: Participant,
    point: CollectionPoint,
    participant: Callable[[str], Participant],
) -> Outcome:
    reporting = command.reporting
    attempt = Attempt(
        app=app,
        batteries=(battery,),
        actor=actor,
        occurred_at=app.when(reporting.occurred_at),
        request_id=reporting.request_id,
        late_correction=reporting.late_correction,
        point=point,
        participant_lookup=participant,
    )
    if isinstance(command, HandOver):
        _require_at_point(attempt, point)
    before = len(battery.pending_events)
    handler_for(command)(attempt, command)
    new = tuple(battery.pending_events[before:])
    return Outcome(battery.code, "recorded" if new else "replayed", events=new, battery=battery)


def _require_at_point(attempt: Attempt, point: CollectionPoint) -> None:
    """A hand-over from a point takes the batteries that point holds: the caller's own battery
    held elsewhere (another of its points, or not taken in at all) is refused, told only to its
    holder (the holder check comes first, as in the single hand-over)."""
    battery = attempt.battery
    if battery.has_seen(attempt.actor, attempt.request_id, Action.HAND_OVER):
        return
    attempt.require_holder(Action.HAND_OVER)
    if battery.state != State.COLLECTED or battery.collection_point_id != point.id:
        raise LifecycleViolation(
            battery.code,
            str(battery.state),
            str(Action.HAND_OVER),
            f"it is not held at collection point {point.id}; hand it over from where it is",
            why="not_at_point",
        )


def _remembering(lookup: Callable[[str], Participant]) -> Callable[[str], Participant]:
    """``lookup`` read once per id for the whole batch (a refusal is remembered too)."""
    seen: dict[str, Participant | DomainError] = {}

    def cached(participant_id: str) -> Participant:
        if participant_id not in seen:
            try:
                seen[participant_id] = lookup(participant_id)
            except DomainError as error:
                seen[participant_id] = error
        found = seen[participant_id]
        if isinstance(found, DomainError):
            raise found
        return found

    return cached
