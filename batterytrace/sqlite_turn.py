"""The writers of one SQLite file, in different processes, each waking as soon as the one before it
has committed.

Why: SQLite lets one connection write at a time, and a connection that finds the file locked
waits in SQLite's busy handler, which sleeps in growing steps (1, 2, 5, 10, 15, 20, 25 … up to
100 ms) instead of waking when the lock is free. The service's scans and the view follower (a
process beside it, ``serve``) write the same file: with the follower on, scans at 16 connections
had a p99 of 120-150 ms against 19-20 ms with it off (``python -m bench.scan_rate --store sqlite``,
2026-11-29), the service idle through the sleeps. Here both take their turn on an ``flock`` of a
file beside the database first, which they poll every ``POLL_SECONDS``: the next writer starts
within about that of the last one's commit.

The turn is only a hint. SQLite's own lock still decides who writes, so a writer that does not
take the turn (a CLI import, a rebuild) is as safe as before and meets the busy handler; a turn
not had within its wait, a lock file that cannot be made (a read-only folder) or a system
without ``flock`` (Windows) make the writer go on without it. The lock file is never the
database file itself: SQLite's POSIX locks on a file are dropped when any descriptor of it in
the process is closed.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux or macOS
    fcntl = None  # type: ignore[assignment]

POLL_SECONDS = 0.0005
WAIT_SECONDS = 1.0  # then the writer goes on without its turn (SQLite's lock still holds)
LOCK_SUFFIX = "-writers.lock"


class SQLiteTurn:
    """A writer's turn on the SQLite file ``database_path`` (``None``: not SQLite, no turns).

    One per writer: each opens the lock file on its own, so two of them exclude each other also
    within one process; the threads sharing one take it one at a time."""

    def __init__(self, database_path: str | Path | None, *, wait_seconds: float = WAIT_SECONDS) -> None:
        self.path = lock_path(database_path) if database_path and fcntl is not None else None
        self._wait_seconds = wait_seconds
        self._descriptor: int | None = None
        self._closer: weakref.finalize | None = None  # closes the descriptor with this object
        self._threads = threading.Lock()
        self._held = False

    def __enter__(self) -> bool:
        """Take the turn; whether it was had (else the writer goes on without it)."""
        if self.path is None:
            return False
        deadline = time.monotonic() + self._wait_seconds
        if not self._threads.acquire(timeout=self._wait_seconds):
            return False
        descriptor = self._open()
        while descriptor is not None:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(POLL_SECONDS)
                    continue
            except OSError:
                pass
            else:
                self._held = True
                return True
            break
        self._threads.release()
        return False

    def __exit__(
        self, _type: type[BaseException] | None, _error: BaseException | None, _trace: TracebackType | None
    ) -> None:
        if self._held:
            self._held = False
            if self._descriptor is not None:
                fcntl.flock(self._descriptor, fcntl.LOCK_UN)
            self._threads.release()

    def close(self) -> None:
        """Close the lock file (releasing a turn still held); a later turn opens it again."""
        if self._closer is not None:
            self._closer()
            self._descriptor = self._closer = None

    def _open(self) -> int | None:
        if self._descriptor is None and self.path is not None:
            try:
                self._descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:
                self.path = None  # no turns for this writer: SQLite's lock alone
                return None
            self._closer = weakref.finalize(self, os.close, self._descriptor)
        return self._descriptor


def lock_path(database_path: str | Path) -> Path:
    """The lock file of a SQLite database: beside it, named after it (the real path, so that a
    relative and an absolute name of one file share it)."""
    return Path(os.path.realpath(database_path) + LOCK_SUFFIX)
