"""The thread that takes queued requests in batches (``api/batch_thread.py``): what waits while a
batch runs goes into the next one, each request gets its own answer or error, a batch's failure
is each request's own copy of it, and closing answers what is queued."""

from __future__ import annotations

import asyncio
import threading

import pytest

from batterytrace.trace.api.batch_thread import BatchThread, Outcome
from tests.utils.event_loops import run_alone


def doubled(items: list[int]) -> list[Outcome]:
    return [Outcome(item * 2) if item >= 0 else Outcome(error=ValueError(f"{item} < 0")) for item in items]


def test_each_request_gets_its_own_answer_or_error() -> None:
    worker = BatchThread(doubled, name="test")

    async def ask() -> list[object]:
        return await asyncio.gather(*(worker.submit(n) for n in (1, -2, 3)), return_exceptions=True)

    try:
        first, second, third = run_alone(ask())
    finally:
        worker.close()
    assert (first, third) == (2, 6)
    assert isinstance(second, ValueError) and str(second) == "-2 < 0"


def batches_while_the_first_is_held(max_batch: int) -> tuple[list[int], list[list[int]]]:
    """Submit one request, hold its batch, submit five more meanwhile, then let it go: the answers
    and the batches the thread took."""
    batches: list[list[int]] = []
    release = threading.Event()

    def held(items: list[int]) -> list[Outcome]:
        batches.append(items)
        if len(batches) == 1:
            release.wait(5)
        return doubled(items)

    worker = BatchThread(held, name="test", max_batch=max_batch)

    async def ask() -> list[int]:
        first = asyncio.ensure_future(worker.submit(0))
        while not batches:  # the first batch is running and held
            await asyncio.sleep(0.001)
        rest = [asyncio.ensure_future(worker.submit(n)) for n in range(1, 6)]
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(first, *rest)

    try:
        return run_alone(ask()), batches
    finally:
        worker.close()


def test_what_is_queued_while_a_batch_runs_goes_into_the_next_batch_together() -> None:
    answers, batches = batches_while_the_first_is_held(max_batch=64)
    assert answers == [0, 2, 4, 6, 8, 10]
    assert batches == [[0], [1, 2, 3, 4, 5]]


def test_a_batch_takes_at_most_its_limit() -> None:
    answers, batches = batches_while_the_first_is_held(max_batch=2)
    assert answers == [0, 2, 4, 6, 8, 10]
    assert batches == [[0], [1, 2], [3, 4], [5]]


def test_a_batch_that_fails_as_a_whole_fails_each_request_with_a_copy_of_its_error() -> None:
    def broken(items: list[int]) -> list[Outcome]:
        raise ConnectionError("the store is down")

    worker = BatchThread(broken, name="test")

    async def ask() -> list[object]:
        return await asyncio.gather(*(worker.submit(n) for n in range(3)), return_exceptions=True)

    try:
        errors = run_alone(ask())
    finally:
        worker.close()
    assert all(isinstance(e, ConnectionError) and str(e) == "the store is down" for e in errors)
    assert len({id(e) for e in errors}) == len(errors)


def test_a_function_that_answers_the_wrong_number_of_requests_fails_them() -> None:
    worker = BatchThread(lambda items: [], name="test")
    try:
        with pytest.raises(RuntimeError, match="0 outcomes for a batch of 1"):
            run_alone(worker.submit(1))
    finally:
        worker.close()


def test_a_request_whose_caller_went_away_does_not_stop_the_others() -> None:
    started = threading.Event()
    release = threading.Event()
    done: list[int] = []

    def held(items: list[int]) -> list[Outcome]:
        started.set()
        release.wait(5)
        done.extend(items)
        return doubled(items)

    worker = BatchThread(held, name="test")

    async def ask() -> int:
        gone = asyncio.ensure_future(worker.submit(1))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        kept = asyncio.ensure_future(worker.submit(2))
        gone.cancel()
        release.set()
        return await kept

    try:
        assert run_alone(ask()) == 4
    finally:
        worker.close()
    assert done == [1, 2]  # the cancelled request was still done, its answer dropped


def test_closing_answers_what_is_queued_and_then_refuses_new_requests() -> None:
    worker = BatchThread(doubled, name="test")

    async def ask() -> int:
        return await worker.submit(21)

    assert run_alone(ask()) == 42
    worker.close()
    with pytest.raises(RuntimeError, match="closed"):
        run_alone(ask())
