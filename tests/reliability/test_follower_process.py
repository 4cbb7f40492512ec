"""``serve`` runs the view follower as a process of its own and restarts it after ``kill -9``.

On each store: a service over the national cast; its follower is killed with SIGKILL; ``serve`` starts
a new one; more events are written while the old one is dead; the new follower brings the views
to the store's head, and they equal a rebuild from the events. When ``serve`` itself is killed
with SIGKILL, its follower notices and stops instead of living on unsupervised.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from batterytrace.projections.runner import ViewRunner
from tests.utils.server import running_server
from tests.utils.views import differences, varied_store, view_contents

pytestmark = pytest.mark.slow

FOLLOWER_MODULE = "batterytrace.cli.follower"
WAIT_SECONDS = 30.0


def followers_of(pid: int) -> list[int]:
    """The follower processes among ``pid``'s children (read from /proc: no extra package)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if FOLLOWER_MODULE in _cmdline(int(child)):
                found.append(int(child))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_SECONDS:g} s: {what}")
        time.sleep(0.1)


def test_a_killed_follower_is_restarted_and_its_views_equal_a_rebuild(app, cast, database_url, tmp_path):
    with running_server(database_url, tmp_path) as server:
        wait_for(lambda: len(followers_of(server.process.pid)) == 1, "serve starts one follower")
        [first] = followers_of(server.process.pid)
        os.kill(first, signal.SIGKILL)
        wait_for(
            lambda: followers_of(server.process.pid) not in ([], [first]),
            "serve starts a new follower after kill -9",
        )
        varied_store(app, cast)  # every kind of event, written while the views trail the store
        runner = ViewRunner(app)
        head = app.recorder.max_notification_id()
        wait_for(
            lambda: all(s.position >= head for s in runner.status()),
            f"the new follower brings every view to the store's head ({head})",
        )
        assert "view follower exited" in server.log()
        followed = view_contents(runner.engine)
    runner.rebuild()
    rebuilt = view_contents(runner.engine)
    runner.engine.dispose()
    assert followed == rebuilt, differences(followed, rebuilt)


def test_the_follower_stops_when_serve_is_killed(sqlite_url, tmp_path):
    with running_server(sqlite_url, tmp_path) as server:
        wait_for(lambda: len(followers_of(server.process.pid)) == 1, "serve starts one follower")
        [follower] = followers_of(server.process.pid)
        server.process.kill()
        server.process.wait(10)
        wait_for(lambda: not Path(f"/proc/{follower}").exists() or _is_zombie(follower), "the follower stops")


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return True
