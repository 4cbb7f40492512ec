"""Single-battery writes queued together (``batch_thread.py``): one read of the store for all of
them, one transaction for all their events, each answered as it would have been alone.

Why: the busiest writes (an outlet's scans; a maker's installs and retirements; hand-overs) each
touch one battery, and made one by one each pays a worker-thread hop, a read and a commit of its
own. Taken together by one thread they pay one wake-up, one read and one commit per batch
(issue 13, P2).

How, for each batch of jobs:

1. every job names the streams it needs (its battery first); a job that cannot (its body or code
   is bad) or whose battery another job of the batch already has is made alone, afterwards;
2. the streams of all the others are read in one statement (``BatteryTrace.load_together``);
3. each job decides its write on what was read (``BatteryTrace.decide``: the battery holds the
   events to record); a job that finds what it needs missing or is refused is made alone, so
   that its refusal is in the words and order it would have been alone;
4. what was decided is saved in one transaction (``BatteryTrace.commit_each``) and each job
   answers from its own result. A conflict (another request moved one of the batteries between
   the read and the save) records nothing: every job of the batch is then made alone, as it
   would have been without the batch. Any other failure of the save is each job's;
5. the jobs left out are made alone, in the order they came.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from fastapi import Request

from batterytrace.events.battery import Battery
from batterytrace.events.commands import Command
from batterytrace.events.errors import ConcurrentWrite
from batterytrace.events.participant import Participant
from batterytrace.trace.api.batch_thread import Outcome
from batterytrace.trace.api.models import battery_write
from batterytrace.trace.application import BatteryTrace, WriteResult
from batterytrace.trace.group_commit import own_copy


class Job(Protocol):
    """One queued write of one battery."""

    def streams(self, service: BatteryTrace) -> tuple[str, ...]:
        """The streams to read for it, its battery's first; none: make it alone."""
        ...

    def decide(self, service: BatteryTrace, found: Mapping[str, Any]) -> Battery | None:
        """Its battery holding the events to record (none for a replay), or None to make it alone."""
        ...

    def answer(self, service: BatteryTrace, result: WriteResult, found: Mapping[str, Any]) -> Any:
        """Its answer from what the batch saved for it."""
        ...

    def alone(self, service: BatteryTrace) -> Any:
        """Made by itself, as without the batch: its answer, or its refusal raised."""
        ...


def write_together(service: BatteryTrace, jobs: Sequence[Job]) -> list[Outcome]:
    """Each job's outcome, in order (see the module's docstring)."""
    outcomes: list[Outcome | None] = [None] * len(jobs)
    planned: list[tuple[int, tuple[str, ...]]] = []
    alone: list[int] = []
    batteries: set[str] = set()
    for index, job in enumerate(jobs):
        try:
            streams = job.streams(service)
        except Exception:  # said again, in its own words, when it is made alone
            streams = ()
        if not streams or streams[0] in batteries:
            alone.append(index)
            continue
        batteries.add(streams[0])
        planned.append((index, streams))
    found = service.load_together(*(s for _, streams in planned for s in streams)) if planned else {}
    decided: list[tuple[int, Battery]] = []
    for index, _ in planned:
        try:
            battery = jobs[index].decide(service, found)
        except Exception:  # said again, in its own words, when it is made alone
            battery = None
        if battery is None:
            alone.append(index)
        else:
            decided.append((index, battery))
    results: list[WriteResult] = []
    try:
        results = service.commit_each([(battery,) for _, battery in decided])
    except ConcurrentWrite:
        alone += [index for index, _ in decided]
    except Exception as error:  # nothing of the batch was recorded: each of its jobs' outcome
        for index, _ in decided:
            outcomes[index] = Outcome(error=own_copy(error))
    for (index, _), result in zip(decided, results, strict=False):
        outcomes[index] = _outcome(jobs[index].answer, service, result, found)
    for index in sorted(alone):
        outcomes[index] = _outcome(jobs[index].alone, service)
    return [outcome or Outcome(error=RuntimeError("a queued write was not made")) for outcome in outcomes]


def _outcome(make: Callable[..., Any], *args: Any) -> Outcome:
    try:
        return Outcome(make(*args))
    except Exception as error:
        return Outcome(error=error)


@dataclass(frozen=True)
class CommandJob:
    """A lifecycle command on one battery by an authenticated caller (install, retire, hand-over
    …), answered by ``respond(result)``."""

    command: Command
    caller: Participant
    respond: Callable[[WriteResult], Any]

    def streams(self, service: BatteryTrace) -> tuple[str, ...]:
        """Its battery, and the receiver of a transfer (a hand-over, a delivery)."""
        if len(self.command.battery_codes) != 1:
            return ()
        receiver = getattr(self.command, "receiver_id", None)
        return (self.command.battery_codes[0], *([receiver] if receiver else []))

    def decide(self, service: BatteryTrace, found: Mapping[str, Any]) -> Battery | None:
        battery = found.get(self.command.battery_codes[0])
        if not isinstance(battery, Battery):
            return None
        return service.decide(self.command, actor=self.caller, batteries=(battery,), read=found)[0]

    def answer(self, service: BatteryTrace, result: WriteResult, found: Mapping[str, Any]) -> Any:
        return self.respond(result)

    def alone(self, service: BatteryTrace) -> Any:
        return self.respond(service.execute(self.command, actor=self.caller))


async def execute_queued(
    request: Request,
    command: Command,
    caller: Participant,
    respond: Callable[[WriteResult], Any] | None = None,
) -> Any:
    """Run ``command`` for ``caller`` with the writes queued with it; the route's answer is
    ``respond(result)`` (run on the writing thread: it may read the store), by default the
    battery as the write left it (``models.battery_write``)."""
    if respond is None:
        service: BatteryTrace = request.app.state.service
        respond = partial(_battery_written, service, command.battery_codes[0], caller)
    return await request.app.state.writes.submit(CommandJob(command, caller, respond))


def _battery_written(service: BatteryTrace, code: str, caller: Participant, result: WriteResult) -> Any:
    return battery_write(service, result, code, caller)
