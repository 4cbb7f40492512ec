"""One thread that takes the requests queued for it in batches and answers each on its event loop.

Why: a scan handed to the worker-thread pool (``run_in_threadpool``) pays, each time, anyio's
hand-over (a queue put that wakes a pool thread, a capacity limiter, a call back into the loop)
and then competes for the GIL with fifteen other pool threads doing the same. Under 16
connections, py-spy (``--gil``, ``python -m bench --quick --only P2 --profile``, 2026-11-29) put
the hand-over at a fifth of the event loop's time, the loop at three quarters of the server's.
Here one thread does the store's work of every request waiting at that moment: one wake-up, one
read and one transaction for the batch (``written_together.py``), and one call into the loop to
answer them all, while the loop goes on taking requests. Scans ran 1.6-1.7 times as fast
(``bench.scan_rate``, two interleaved pairs on each store: README, Performance).

The thread wakes only when the queue was empty (a ``Condition`` notified with nobody waiting costs
almost nothing), so under load the requests are put without waking anything and the thread finds
them when its batch is done. A batch that fails as a whole (its function raised) fails each of its
requests with a copy of that error; a request whose caller went away is still done (its write
saved, as the pool would have), its answer dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

from batterytrace.trace.group_commit import own_copy

Item = TypeVar("Item")

MAX_BATCH = 64  # requests one batch takes at most; a read of 3 x 64 streams is still one statement
STOP_WAIT_SECONDS = 10


class Outcome(NamedTuple):
    """A request's answer, or the error to raise in its place."""

    value: Any = None
    error: BaseException | None = None


class _Queued(NamedTuple):
    item: Any
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


class BatchThread(Generic[Item]):
    """Runs ``handle(items) -> outcomes`` (one ``Outcome`` per item, in order) on one thread, for
    the items submitted while it was busy; ``await submit(item)`` is the item's value or raises
    its error."""

    def __init__(
        self, handle: Callable[[list[Item]], Sequence[Outcome]], *, name: str, max_batch: int = MAX_BATCH
    ) -> None:
        self._handle = handle
        self._max_batch = max_batch
        self._queue: deque[_Queued] = deque()
        self._state = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def submit(self, item: Item) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._state:
            if self._stopping:
                raise RuntimeError(f"{self._thread.name} is closed")
            self._queue.append(_Queued(item, future, loop))
            self._state.notify()
        return await future

    def close(self) -> None:
        """Answer what is queued, then end the thread."""
        with self._state:
            self._stopping = True
            self._state.notify()
        self._thread.join(timeout=STOP_WAIT_SECONDS)

    def _run(self) -> None:
        while True:
            with self._state:
                while not self._queue and not self._stopping:
                    self._state.wait()
                if not self._queue:
                    return
                batch = [self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))]
            self._answer(batch, self._outcomes(batch))

    def _outcomes(self, batch: list[_Queued]) -> list[Outcome]:
        try:
            outcomes = list(self._handle([queued.item for queued in batch]))
            if len(outcomes) != len(batch):
                raise RuntimeError(f"{len(outcomes)} outcomes for a batch of {len(batch)}")
            return outcomes
        except Exception as error:  # the batch's failure is each request's
            return [Outcome(error=own_copy(error)) for _ in batch]

    @staticmethod
    def _answer(batch: list[_Queued], outcomes: list[Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Outcome]]] = {}
        for queued, outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(queued.loop, []).append((queued.future, outcome))
        for loop, answers in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits for these
                loop.call_soon_threadsafe(_settle, answers)


def _settle(answers: list[tuple[asyncio.Future[Any], Outcome]]) -> None:
    for future, outcome in answers:
        if future.done():  # cancelled: its caller went away
            continue
        if outcome.error is not None:
            future.set_exception(outcome.error)
        else:
            future.set_result(outcome.value)
