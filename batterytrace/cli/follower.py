"""The view follower as a process of its own, started and kept alive by ``serve``.

Run as a thread inside the HTTP process, the follower shared the interpreter (and its GIL) with
request handling: each scan waited for view updates it had no need of (issue 13 measured 4-8 ms
of every scan). Run as ``batterytrace projections run`` beside the HTTP workers, it uses the other
core, and the service's read-your-writes waits (``?after=``) still work, because they poll the
views' position in the database, not a thread.

``serve`` stays one command: this supervisor starts the follower, restarts it when it dies for
any reason (a crash, an out-of-memory kill, ``kill -9``), with a back-off so that a follower that
cannot start (the store is down) does not spin, and stops it when the service stops. Nothing is
lost by a restart: a follower records each view's position in the same transaction as its rows,
so the new one carries on from the last committed event.

The follower runs in a session of its own, so that Ctrl-C in the terminal reaches ``serve`` only
(which then stops the follower itself, instead of racing to restart one that the same keypress
ended), and it watches its parent: when ``serve`` is gone, even by ``kill -9``, the follower stops
within a second rather than living on unsupervised.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

log = logging.getLogger("batterytrace.follower")

FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
HEALTHY_AFTER_SECONDS = 60.0  # a follower that ran this long starts again at once when it dies
STOP_WAIT_SECONDS = 10.0
READY_WAIT_SECONDS = 600.0  # a large store's first catch-up; the follower starts anyway after


PARENT_CHECK_SECONDS = 1.0


def follower_command() -> list[str]:
    """This module run as a program: the CLI's follower loop, plus the watch on its parent."""
    return [sys.executable, "-m", "batterytrace.cli.follower", "--parent", str(os.getpid())]


class FollowerSupervisor:
    """Keeps one follower process running until ``stop``."""

    def __init__(
        self,
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
        *,
        ready_url: str | None = None,
    ) -> None:
        self.command = command or follower_command()
        self.env = env if env is not None else dict(os.environ)
        self.ready_url = ready_url
        self._process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._keep_running, name="view-follower", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the follower to finish its batch (SIGTERM), then kill it if it does not."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._thread.join(timeout=STOP_WAIT_SECONDS)

    def _wait_until_ready(self) -> None:
        """The service catches the views up before it answers ``/readyz``: starting the follower
        then, not beside that catch-up, keeps the two from doing the same work at once."""
        if self.ready_url is None:
            return
        deadline = time.monotonic() + READY_WAIT_SECONDS
        while time.monotonic() < deadline and not self._stopping.is_set():
            try:
                with urllib.request.urlopen(self.ready_url, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (OSError, ValueError):
                pass
            self._stopping.wait(0.2)

    def _keep_running(self) -> None:
        self._wait_until_ready()
        backoff = FIRST_BACKOFF_SECONDS
        while not self._stopping.is_set():
            started = time.monotonic()
            with self._lock:
                if self._stopping.is_set():
                    return
                self._process = subprocess.Popen(
                    self.command, env=self.env, stdin=subprocess.DEVNULL, start_new_session=True
                )
            log.info("view follower started (pid %d)", self._process.pid)
            code = self._process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= HEALTHY_AFTER_SECONDS:
                backoff = FIRST_BACKOFF_SECONDS
            log.warning("view follower exited with code %s; restarting in %.1f s", code, backoff)
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)


def follow_until_orphaned(parent_pid: int) -> None:
    """The follower process: catch up, then follow new events until SIGTERM/SIGINT or until the
    parent is gone (its pid is no longer our parent's)."""
    from batterytrace.projections.runner import ViewRunner
    from batterytrace.trace.application import BatteryTrace

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    def watch_parent() -> None:
        while not stop.wait(PARENT_CHECK_SECONDS):
            if os.getppid() != parent_pid:
                log.warning("serve (pid %d) is gone; the view follower stops", parent_pid)
                stop.set()

    threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()
    runner = ViewRunner(BatteryTrace())
    try:
        runner.follow(stop)
    finally:
        runner.engine.dispose()
        runner.app.close()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m batterytrace.cli.follower", description=__doc__)
    parser.add_argument("--parent", type=int, required=True, help="pid of the supervising serve")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    follow_until_orphaned(parser.parse_args().parent)
