"""The next item of an iterator made on a thread while the caller uses the current one.

Why: the readers that take every page of the event log (a rebuild's fold,
``projections/parallel_fold.py``; the whole store's EPCIS export, ``trace/epcis/source.py``) spend a
large part of their time waiting for the database to send a page (PostgreSQL: a rebuild's main
process waited a quarter of its time there, measured 2026-11-29). The database driver lets go of
the interpreter while it waits, so a thread that reads the next page while this one folds or writes
the current one hides that wait.

What stays bounded: one item ahead at most (a page of the log: a thousand events). A caller that
stops early (an error, or ``close()``) waits for the item being made, then the thread ends; the
iterator itself is never advanced by two threads at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")

_END = object()


def one_ahead(items: Iterable[Item], name: str) -> Iterator[Item]:
    """The items of ``items`` in order, each next one made on a thread (named ``name``) while the
    caller holds the current one; the iterator's errors are raised to the caller where they
    happened, in order."""
    iterator = iter(items)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=name) as thread:
        coming = thread.submit(next, iterator, _END)
        while (item := coming.result()) is not _END:
            coming = thread.submit(next, iterator, _END)
            yield item  # type: ignore[misc]
