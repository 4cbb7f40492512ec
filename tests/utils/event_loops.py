"""Running a coroutine in a test, whatever earlier tests left on the main thread."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_alone(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to its end on a thread of its own: a browser test earlier in the same
    worker leaves Playwright's sync loop marked as running on the main thread, where
    `asyncio.run` then refuses to start (CI, stop 20)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
