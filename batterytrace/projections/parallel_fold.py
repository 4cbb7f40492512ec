"""A set-wise rebuild's fold split over two processes.

Why: a rebuild is CPU-bound Python (decoding every stored event, each view's fold, its rows made
ready and written), and one process uses one core. The views are independent of one another: each
builder folds the same events into its own fresh tables. So a forked child runs some views'
builders while this process runs the others; this process reads each page of notifications once
and hands it to the child as plain tuples through a pipe, and both decode and fold it at the same
time (CPU µs an event on SQLite, 100k batteries: reading 3, decoding 5-7, the lifecycle view 23,
the ledger 10, the reports 7 and the network 1.5, so two even halves run the whole in little more
than half the time).

What stays as it was: the child writes only the fresh tables (``<table>_rebuild``), never a live
row or a position; the swap, and each builder's ``after_swap``, run here in one transaction, after
the child has finished. A builder whose ``after_swap`` needs what it folded (the ledger's tree)
gives it back from the child by ``outcome()``, which its unfed twin here takes by
``take_outcome(value)``. Any failure fails the whole rebuild: the child's error is raised here with
its type and traceback, a child that dies without a word is an error, and if this process fails the
child is killed first; the caller then drops the fresh tables as after any failed rebuild.

Why ``fork``: the child inherits the builders, the views and the store's mapper as they are (no
settings passed, nothing pickled but the pages), and uses none of this process's connections: it
replaces the views engine's pool without closing the inherited connections (SQLAlchemy's way after
a fork; psycopg never closes a connection in a process that did not open it) and opens its own;
the event store is read only here. Where ``fork`` is missing, with one usable core, with a single
builder, or with ``BATTERYTRACE_REBUILD_PROCESSES=1``, the fold runs in this process alone.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection as PipeEnd
from typing import Any

from eventsourcing.sqlite import SQLiteDatastore
from sqlalchemy import Engine

from batterytrace import forked_child
from batterytrace.forked_child import failure_of, raised_from
from batterytrace.projections.event_source import EventSource, WrittenHeads, pages_up_to
from batterytrace.projections.stored_decoding import decode_all, fast_decoder
from batterytrace.read_ahead import one_ahead
from batterytrace.store import ConfigurationError
from batterytrace.stored_rows import StoredRow

PROCESSES_SETTING = "BATTERYTRACE_REBUILD_PROCESSES"
# CPU µs an event of each view's fold and writes (``bench.rebuild_rate --breakdown``, SQLite,
# 100k batteries, 2026-11-29; PostgreSQL in the same order): the weights by which the views are
# split into two even halves
FOLD_COST = {"lifecycle": 23.0, "ledger": 10.0, "reports": 7.0, "network": 1.5}
UNKNOWN_VIEW_COST = 10.0
# µs an event this process spends reading a page (in its reading thread) and pickling it for the
# child: 3 + 1.5 from SQLite, 5.5 + 1.5 from PostgreSQL. Measured by the split it gives on the 100k
# store, three interleaved pairs each: on SQLite the network view here rather than in the child
# is 4.5-5 % faster (the child, folding the lifecycle alone, was the slower half); on PostgreSQL,
# whose pages cost this process more, 1.5 % slower, so there the child keeps it.
READING_COST = 7.0
SQLITE_READING_COST = 4.5
ANSWER_POLL_SECONDS = forked_child.POLL_SECONDS


class ParallelFoldFailed(ConfigurationError):
    """The rebuild's second process failed or died; the message says how and what to do."""

    message_key = None  # the message itself: a command-line refusal


def fold_processes() -> int:
    """How many processes a rebuild folds in: ``BATTERYTRACE_REBUILD_PROCESSES`` (1 or 2), else 2
    where this process may use two cores or more and the platform can fork, else 1."""
    return forked_child.processes_from(PROCESSES_SETTING, "a rebuild can fold in")


def reading_cost(source: EventSource) -> float:
    """What reading and pickling a page costs this process, by the event store it reads."""
    sqlite = isinstance(getattr(source.recorder, "datastore", None), SQLiteDatastore)
    return SQLITE_READING_COST if sqlite else READING_COST


def split_views(names: list[str], reading_cost: float = READING_COST) -> tuple[list[str], list[str]]:
    """``(here, child)``: the views in two halves of about equal cost (largest first, each to the
    lighter half; this process also reads and pickles every page, ``reading_cost``)."""
    here: list[str] = []
    child: list[str] = []
    load_here, load_child = reading_cost, 0.0
    for name in sorted(names, key=lambda n: -FOLD_COST.get(n, UNKNOWN_VIEW_COST)):
        cost = FOLD_COST.get(name, UNKNOWN_VIEW_COST)
        if load_child <= load_here:
            child.append(name)
            load_child += cost
        else:
            here.append(name)
            load_here += cost
    return here, child


def fold_in_two(
    source: EventSource,
    head: int | WrittenHeads,
    builders: Mapping[str, Any],
    engine: Engine,
    progress: Callable[[str, int], None] | None,
    page_size: int,
) -> int:
    """Every event of ``source`` up to ``head`` added to each of ``builders`` and each finished,
    half of them in a forked child; returns how many events. ``engine``: the views' engine, the
    one the builders write with (the child opens its own connections to it)."""
    here_names, child_names = split_views(list(builders), reading_cost(source))
    here = {name: builders[name] for name in here_names}
    there = {name: builders[name] for name in child_names}
    context = multiprocessing.get_context("fork")
    pages_out, pages_in = context.Pipe(duplex=False)  # (receiving end, sending end)
    answer_in, answer_out = context.Pipe(duplex=False)
    child = context.Process(
        target=_child_fold,
        args=(pages_out, answer_out, there, source.mapper, engine, os.getpid()),
        name="batterytrace-rebuild-fold",
        daemon=True,
    )
    child.start()
    pages_out.close()
    answer_out.close()
    sender = _PageSender(pages_in)
    try:
        done = fold_pages(source, head, here, progress, page_size, on_page=sender.send, reported=builders)
        sender.finish()  # the end: the child finishes its builders and answers
        for builder in here.values():
            builder.finish()
        outcomes = _answer(answer_in, child)
        for name, outcome in outcomes.items():
            there[name].take_outcome(outcome)
        child.join()
        return done
    except BrokenPipeError:
        error = _answer_or_none(answer_in, child)
        forked_child.stop(child)
        raise error or _died(child) from None
    except BaseException:
        forked_child.stop(child)
        raise
    finally:
        sender.close()


def fold_pages(
    source: EventSource,
    head: int | WrittenHeads,
    builders: Mapping[str, Any],
    progress: Callable[[str, int], None] | None,
    page_size: int,
    *,
    on_page: Callable[[list[Any]], None] | None = None,
    reported: Iterable[str] | None = None,
) -> int:
    """Every event of ``source`` up to ``head`` decoded and added to each of ``builders``;
    returns how many. ``on_page``: called with each page of notifications before it is folded
    (handing it to the child); ``reported``: the views whose progress each page advances (by
    default ``builders``')."""
    decode = fast_decoder(source.mapper)
    names = list(builders if reported is None else reported)
    done = 0
    for page in one_ahead(pages_up_to(source, head, page_size), "rebuild-read"):
        if on_page is not None:
            on_page(page)
        events = decode_all(decode, page)
        for builder in builders.values():
            builder.add(events)
        done += len(events)
        if progress:
            for name in names:
                progress(name, len(events))
    return done


class _PageSender:
    """Hands each page to the child as plain tuples (what its decoder reads of a stored event),
    pickled here and written into the pipe by a thread, one page in flight at most.

    Why a thread: a page (~0.4 MB) is larger than the pipe's buffer, so a write returns only once
    the child has read the page, that is once it has folded the one before; written from here,
    this process would wait at every page for the slower of the two, however even they are on
    the whole. With one page in flight, each runs ahead of the other by a page. A write that
    fails (the child is gone) is raised at the next page or at the end."""

    def __init__(self, pages_in: PipeEnd) -> None:
        self._pipe = pages_in
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rebuild-send")
        self._writing: Future[None] | None = None

    def send(self, page: list[Any]) -> None:
        rows = [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in page]
        data = pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
        self._written()
        self._writing = self._thread.submit(self._pipe.send_bytes, data)

    def finish(self) -> None:
        """The last page written, then the end (an empty message); the pipe closed."""
        self._written()
        self._pipe.send_bytes(b"")
        self._pipe.close()

    def close(self) -> None:
        """Let the thread go (after a failure, a write may still wait on a child being stopped:
        it fails once the child is gone)."""
        self._thread.shutdown(wait=False, cancel_futures=True)

    def _written(self) -> None:
        if self._writing is not None:
            writing, self._writing = self._writing, None
            writing.result()


def _child_fold(
    pages_out: PipeEnd,
    answer_out: PipeEnd,
    builders: Mapping[str, Any],
    mapper: Any,
    engine: Engine,
    parent: int,
) -> None:
    """The child: fold every page it is sent into its builders, finish them, answer with their
    outcomes, or with its error."""
    forked_child.end_with(parent)
    try:
        engine.dispose(close=False)  # new connections here; the inherited ones stay the parent's
        decode = fast_decoder(mapper)
        while data := pages_out.recv_bytes():
            stored = [StoredRow._make(row) for row in pickle.loads(data)]
            events = decode_all(decode, stored)
            for builder in builders.values():
                builder.add(events)
        for builder in builders.values():
            builder.finish()
        outcomes = {name: b.outcome() for name, b in builders.items() if hasattr(b, "outcome")}
        answer_out.send(("done", outcomes))
    except BaseException as error:  # told to the parent, which fails the rebuild with it
        answer_out.send(("failed", *failure_of(error)))
        raise SystemExit(1) from None


def _answer(answer_in: PipeEnd, child: Any) -> dict[str, Any]:
    """The child's outcomes once it has finished; its error, or its death, raised."""
    answer = forked_child.next_message(answer_in, child, _died)
    if answer[0] == "done":
        return answer[1]
    raise _failed(answer)


def _answer_or_none(answer_in: PipeEnd, child: Any) -> BaseException | None:
    """The child's error if it has sent one (it stopped reading pages because it failed)."""
    child.join(ANSWER_POLL_SECONDS * 4)
    try:
        if answer_in.poll(0):
            answer = answer_in.recv()
            if answer[0] == "failed":
                return _failed(answer)
    except (EOFError, OSError):
        pass
    return None


def _failed(answer: tuple[Any, ...]) -> BaseException:
    """The child's own error (its type kept, so callers handle it as if it were raised here),
    with the child's traceback as a note; ``ParallelFoldFailed`` if it could not be pickled."""
    return raised_from(
        answer[1:],
        "the rebuild's second process",
        lambda message, child_traceback: ParallelFoldFailed(
            f"the rebuild's second process failed: {message}; nothing live was changed. Its "
            f"traceback:\n{child_traceback}Retry, or set {PROCESSES_SETTING}=1 to rebuild in one process"
        ),
    )


def _died(child: Any) -> ParallelFoldFailed:
    return ParallelFoldFailed(
        f"the rebuild's second process ended without finishing (exit code {child.exitcode}); "
        f"nothing live was changed. Retry, or set {PROCESSES_SETTING}=1 to rebuild in one process"
    )
