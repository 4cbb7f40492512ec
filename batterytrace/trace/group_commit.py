"""Concurrent writes of one process saved together: one transaction, one flush to disk, for all
the requests that are waiting to save at that moment (group commit).

Why: every write (a scan, an install, a hand-over) is a transaction of its own, and both stores
flush each commit to disk before they answer (SQLite's ``synchronous=FULL`` in WAL mode; PostgreSQL's
``synchronous_commit``), while the event store takes one writer at a time (SQLite's file lock;
the library's ``LOCK TABLE`` for PostgreSQL's notification ids). Under concurrent scans the
writers queued behind that flush and the process sat idle through it: measured on SQLite with the
flush off (a test, not a setting to ship), scans ran 34-40 % faster (``bench.scan_rate``, two
interleaved pairs). Saving the waiting writes in one transaction pays the flush once for all of
them, and keeps every write durable before it is answered.

How: a writer that finds no save running leads: it takes every write queued so far (its own
first) and saves their events in one transaction; writers that come meanwhile queue, and the next
of them leads once that save ends. Each writer gets its own events' recordings back, in order,
or the error of its own save:

- a conflict (``IntegrityError``: another request moved one of the batteries first) fails the
  whole transaction, so each write of the group is then saved alone, and only the one that lost
  the race is refused, as it would have been alone (``_commit`` turns it into ``ConcurrentWrite``,
  which a write with a request id retries);
- any other failure (the store down or locked too long) is every member's: nothing was recorded;
- a writer that waits longer than ``wait_seconds`` before a leader took its write leaves the
  queue and is refused (``StoreUnavailable``): nothing of it is saved later. Once a leader has
  taken it, it waits for that save's outcome, which the store's own timeouts bound.

Events of different writes never share an aggregate unless two requests raced for one battery,
which the conflict path above resolves, so the order of writes within a group is the order they
queued, as it was when they took turns one by one.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError

from batterytrace.store import StoreUnavailable

TAKEN_WAIT_SECONDS = 0.05  # how often a writer whose write a leader has taken checks for its outcome


class _Write:
    """One writer's events and, once saved, its outcome."""

    __slots__ = ("done", "error", "events", "recordings")

    def __init__(self, events: Sequence[Any]) -> None:
        self.events = events
        self.recordings: list[Any] = []
        self.error: BaseException | None = None
        self.done = False

    def succeed(self, recordings: list[Any]) -> None:
        self.recordings, self.done = recordings, True

    def fail(self, error: BaseException) -> None:
        self.error, self.done = error, True


class GroupCommit:
    """Saves each caller's events with those of the callers waiting at the same moment, in one
    transaction of ``save_together(events) -> recordings`` (one recording per event, in order)."""

    def __init__(self, save_together: Callable[[list[Any]], list[Any]], *, wait_seconds: float) -> None:
        self._save_together = save_together
        self._wait_seconds = wait_seconds
        self._state = threading.Condition()
        self._queue: list[_Write] = []
        self._leading = False

    def save(self, events: Sequence[Any]) -> list[Any]:
        """Save ``events`` (in one transaction, perhaps with other callers'); their recordings,
        or the error of their save."""
        mine = _Write(events)
        deadline = time.monotonic() + self._wait_seconds
        with self._state:
            self._queue.append(mine)
            while self._leading and not mine.done:
                left = deadline - time.monotonic()
                if left <= 0 and mine in self._queue:
                    self._queue.remove(mine)  # not taken: nothing of it will be saved
                    raise StoreUnavailable(
                        f"the event store is busy: this write waited {self._wait_seconds:g} s for the "
                        "writes before it, nothing was recorded; retry in a moment"
                    )
                self._state.wait(left if left > 0 else TAKEN_WAIT_SECONDS)
            group: list[_Write] = []
            if not mine.done:  # lead: take every write queued so far
                self._leading = True
                group, self._queue = self._queue, []
        if group:
            try:
                self._save(group)
            finally:
                with self._state:
                    self._leading = False
                    self._state.notify_all()
        if mine.error is not None:
            raise mine.error if group else own_copy(mine.error)
        return mine.recordings

    def _save(self, group: list[_Write]) -> None:
        try:
            recordings = self._save_together([event for write in group for event in write.events])
        except IntegrityError as conflict:
            if len(group) == 1:
                group[0].fail(conflict)
                return
            for write in group:  # alone, so that only the write that lost the race is refused
                try:
                    write.succeed(self._save_together(list(write.events)))
                except BaseException as error:  # that writer's outcome, raised in its own thread
                    write.fail(error)
            return
        except BaseException as error:  # nothing was recorded: every member's outcome
            for write in group:
                write.fail(error)
            return
        start = 0
        for write in group:
            write.succeed(recordings[start : start + len(write.events)])
            start += len(write.events)


def own_copy(error: BaseException) -> BaseException:
    """One error for several threads or coroutines to raise (a group's leader's, a batch's): a
    copy each, so that two of them never write the traceback of one exception object at once."""
    try:
        return copy.copy(error)
    except Exception:  # an error that cannot be copied is raised as it is
        return error
