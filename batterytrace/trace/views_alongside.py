"""The views rebuilt while a writer fills the store: the demo's generation and the views' set-wise
rebuild at the same time, on the two cores.

Why: ``batterytrace demo --batteries 1000000`` is one process of Python generating lives, about
one core, for 7 minutes; the views' rebuild after it took another 5 on both cores (P6, README
"Performance"). Nothing in the rebuild waits for the demo's end but the swap: its fold reads the
log page by page. So a forked child rebuilds the views beside the writer, reading each page as soon
as the writer says it is stored, and the views stand at the head when the demo ends.

How: the writer tells ``stored(head)`` after each batch it saved and ``finish(head)`` at its end,
through a pipe. The child runs the ordinary ``ViewRunner.rebuild`` with those heads
(``WrittenHeads``): fresh tables, folded in two processes where the cores allow
(``parallel_fold``), swapped in at the final head in one transaction, the ledger's checkpoint signed
there: the same rows as ``projections rebuild`` would make afterwards (the tests compare them).

Failure, either way, loses nothing stored: the writer failing closes the pipe without a final
head, so the child's rebuild fails with ``WriterStopped`` and drops its fresh tables (the views stay
as they were, as after any failed rebuild); the child failing or dying is raised by ``finish`` (its
own error, type kept, or ``ViewsAlongsideFailed``), after the writer has stored everything, and the
caller says how to build the views (``projections rebuild``).

Why ``fork`` (``forked_child``, as the rebuild's fold and the export do): the child needs nothing
from this process but the writer's settings (inherited as they are, nothing pickled); it opens its
own application and connections and never uses the writer's. Where ``fork`` is missing, or with one
usable core (``BATTERYTRACE_REBUILD_PROCESSES=1`` included), there is no second core to overlap on:
``ViewsAlongside.available()`` says so and the caller rebuilds after the writer instead.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from multiprocessing.connection import Connection as PipeEnd
from typing import TYPE_CHECKING, Any

from batterytrace import forked_child
from batterytrace.forked_child import failure_of, raised_from
from batterytrace.store import ConfigurationError

if TYPE_CHECKING:
    from batterytrace.trace.settings import Settings


class WriterStopped(ConfigurationError):
    """In the child: the writer ended without saying where (it failed); the rebuild is abandoned."""

    message_key = None  # the message itself: a command-line refusal


class ViewsAlongsideFailed(ConfigurationError):
    """The views' rebuild beside the writer failed or died; the events stored are all there."""

    message_key = None


class AnnouncedHeads:
    """``WrittenHeads`` read from the writer's pipe (in the child)."""

    def __init__(self, heads_out: PipeEnd) -> None:
        self._pipe = heads_out
        self._head = 0
        self._final: int | None = None

    def beyond(self, position: int) -> int | None:
        while self._head <= position and self._final is None:
            self._take()
        while self._final is None and self._pipe.poll(0):  # everything told meanwhile: fewer, longer reads
            self._take()
        return self._head if self._head > position else None

    @property
    def final(self) -> int:
        if self._final is None:
            raise RuntimeError("the writer has not finished yet")
        return self._final

    def _take(self) -> None:
        try:
            kind, head = self._pipe.recv()
        except EOFError:
            raise WriterStopped(
                "the writer stopped before it finished; the views were left as they were"
            ) from None
        self._head = max(self._head, head)
        if kind == "finished":
            self._final = head


class ViewsAlongside:
    """The parent's side: start the child, tell it the heads, wait for its answer."""

    def __init__(self) -> None:
        self._child: Any = None
        self._heads_in: PipeEnd | None = None
        self._answer_in: PipeEnd | None = None

    @staticmethod
    def available() -> bool:
        """Whether a second process can overlap the writer: ``fork`` and two usable cores."""
        from batterytrace.projections.parallel_fold import fold_processes

        return fold_processes() == 2

    def start(self, settings: Settings) -> None:
        """Fork the child, which opens the store of ``settings`` (the writer's); call before the
        writer stores its first event."""
        context = multiprocessing.get_context("fork")
        heads_out, self._heads_in = context.Pipe(duplex=False)  # (receiving end, sending end)
        self._answer_in, answer_out = context.Pipe(duplex=False)
        # not a daemon: the child forks a process of its own to fold in (``parallel_fold``)
        self._child = context.Process(
            target=_rebuild_as_written,
            args=(settings, heads_out, answer_out, (self._heads_in, self._answer_in), os.getpid()),
            name="batterytrace-views-alongside",
        )
        self._child.start()
        heads_out.close()
        answer_out.close()

    def stored(self, head: int) -> None:
        """The writer has stored (committed) every event up to ``head``."""
        self._tell(("stored", head))

    def finish(self, head: int) -> int:
        """The writer has finished at ``head``: wait for the views; return the events applied
        (summed over the views), or raise the child's error."""
        self._tell(("finished", head))
        try:
            answer = self._answer()
        finally:
            forked_child.stop(self._child)
        if answer[0] == "done":
            return int(answer[1])
        raise raised_from(
            answer[1:],
            "the views' rebuild beside the writer",
            lambda message, child_traceback: ViewsAlongsideFailed(
                f"the views' rebuild beside the writer failed: {message}. Its traceback:\n{child_traceback}"
            ),
        )

    def abandon(self) -> None:
        """The writer failed: the child drops its fresh tables and ends."""
        if self._heads_in is not None:
            self._heads_in.close()
        if self._child is not None:
            self._child.join(10)
            forked_child.stop(self._child)

    def _tell(self, message: tuple[str, int]) -> None:
        assert self._heads_in is not None, "start() first"
        with contextlib.suppress(BrokenPipeError, OSError):  # the child has ended: ``finish`` says how
            self._heads_in.send(message)

    def _answer(self) -> tuple[Any, ...]:
        assert self._answer_in is not None
        return forked_child.next_message(self._answer_in, self._child, _died)


def _died(child: Any) -> ViewsAlongsideFailed:
    child.join(forked_child.POLL_SECONDS * 4)  # its end seen on the pipe before its exit: wait for its code
    return ViewsAlongsideFailed(
        f"the views' rebuild beside the writer ended without finishing (exit code {child.exitcode})"
    )


def _rebuild_as_written(
    settings: Settings,
    heads_out: PipeEnd,
    answer_out: PipeEnd,
    parents_ends: tuple[PipeEnd, ...],
    parent: int,
) -> None:
    """The child: the ordinary set-wise rebuild, its reading told by the writer's heads."""
    forked_child.end_with(parent)
    for end in parents_ends:  # inherited by the fork: the writer's end must be the pipe's only
        end.close()  # one, or the pipe would never end when the writer closes it (``abandon``)
    try:
        from batterytrace.projections.runner import ViewRunner
        from batterytrace.trace.application import BatteryTrace

        app = BatteryTrace(settings)  # connections of its own; the writer's are never used here
        try:
            applied = ViewRunner(app).rebuild(written=AnnouncedHeads(heads_out))
        finally:
            app.close()
        answer_out.send(("done", applied))
    except BaseException as error:  # told to the parent
        answer_out.send(("failed", *failure_of(error)))
        raise SystemExit(1) from None
