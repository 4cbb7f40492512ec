"""What the forked second processes share: a set-wise rebuild's fold
(``projections/parallel_fold.py``) and the whole store's EPCIS export
(``trace/epcis/whole_store.py``) each fork a child that must end with its parent, and must tell
its parent exactly how it failed.

Why one module: both need the same three guarantees, and a second copy of any of them would be
the one that drifts: the child is killed when the parent ends however it ends (a child left
running would go on writing, into fresh tables or a pipe nobody reads); the child's error reaches
the parent with its type (so callers handle it as if raised there) and its traceback (so the log
says where); an error that cannot be pickled still arrives, as its text.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import signal
import traceback
from collections.abc import Callable
from typing import Any

# A child's error as it travels: pickled if it can be, its text, its traceback.
Failure = tuple[bytes | None, str, str]

_PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.5  # how often a wait for the child checks that it is still alive


def processes_from(setting: str, work: str) -> int:
    """How many processes ``work`` (``"a rebuild can fold in"``) runs in: the environment's
    ``setting`` (1 or 2), else 2 where this process may use two cores or more and the platform
    can fork, else 1."""
    from batterytrace.store import InvalidSetting

    raw = os.environ.get(setting, "").strip()
    if raw:
        if raw not in ("1", "2"):
            raise InvalidSetting(
                f"{setting}={raw!r} is not a number of processes {work}: give 1 (this process "
                "alone) or 2 (two processes, on a machine with two cores or more)"
            )
        return int(raw)
    can_fork = "fork" in multiprocessing.get_all_start_methods()
    return 2 if can_fork and len(os.sched_getaffinity(0)) >= 2 else 1


def end_with(parent: int) -> None:
    """In the child: be killed when ``parent`` ends, however it ends (Linux:
    ``PR_SET_PDEATHSIG``). Elsewhere the child still ends when it next uses its pipe."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent ended before the request took effect
        os._exit(1)


def stop(child: Any) -> None:
    """In the parent: the child killed if it still runs, and reaped."""
    if child.is_alive():
        child.kill()
    child.join()


def failure_of(error: BaseException) -> Failure:
    """In the child, in the ``except`` block that caught ``error``: what to send the parent."""
    try:
        pickled: bytes | None = pickle.dumps(error)
    except Exception:  # an error that cannot travel is told by its text
        pickled = None
    return pickled, f"{type(error).__name__}: {error}", traceback.format_exc()


def raised_from(
    failure: Failure, where: str, otherwise: Callable[[str, str], BaseException]
) -> BaseException:
    """In the parent: the child's own error (its type kept), with its traceback as a note saying
    ``where`` it was raised; ``otherwise(message, traceback)`` when it could not be pickled."""
    pickled, message, child_traceback = failure
    if pickled is not None:
        try:
            error = pickle.loads(pickled)
        except Exception:
            error = None
        if isinstance(error, BaseException):
            error.add_note(f"raised in {where}:\n{child_traceback}")
            return error
    return otherwise(message, child_traceback)


def next_message(
    receiving: Any, child: Any, died: Callable[[Any], BaseException], *, as_bytes: bool = False
) -> Any:
    """In the parent: the child's next message on ``receiving`` (bytes with ``as_bytes``), waited
    for without end while the child lives; ``died(child)`` raised once it has ended without one,
    so a child that dies never leaves the parent waiting."""
    while not receiving.poll(POLL_SECONDS):
        if not child.is_alive() and not receiving.poll(0):
            raise died(child)
    try:
        return receiving.recv_bytes() if as_bytes else receiving.recv()
    except EOFError:
        raise died(child) from None
