"""``read_ahead.one_ahead``: the next page read while the current one is used, and no further."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from batterytrace.read_ahead import one_ahead


def counted(n: int, made: list[int], threads: set[str]) -> Iterator[int]:
    for i in range(n):
        threads.add(threading.current_thread().name)
        made.append(i)
        yield i


def test_items_come_in_order_each_made_on_the_thread() -> None:
    made: list[int] = []
    threads: set[str] = set()
    assert list(one_ahead(counted(50, made, threads), "pages")) == list(range(50))
    assert len(threads) == 1 and next(iter(threads)).startswith("pages")
    assert threading.current_thread().name not in threads


def test_no_more_than_one_item_is_made_ahead_of_the_caller() -> None:
    made: list[int] = []
    items = one_ahead(counted(10, made, set()), "pages")
    for taken in items:
        # the caller holds item ``taken``; at most the next one has been made meanwhile
        assert made[-1] <= taken + 1
    assert made == list(range(10))


def test_an_error_of_the_iterator_reaches_the_caller_after_the_items_before_it() -> None:
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise ConnectionError("the database went away")

    seen: list[int] = []
    with pytest.raises(ConnectionError, match="went away"):
        for item in one_ahead(failing(), "pages"):
            seen.append(item)
    assert seen == [1, 2]


def test_a_caller_that_stops_early_leaves_no_thread_behind() -> None:
    before = {t.name for t in threading.enumerate()}
    items = one_ahead(counted(1000, [], set()), "stopping")
    assert next(items) == 0
    items.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("stopping") and t.name not in before]


def test_an_empty_iterator_gives_nothing() -> None:
    assert list(one_ahead(iter(()), "pages")) == []
