"""A running ``batterytrace serve`` child process for tests that speak real HTTP (the service
over HTTP, the database outage, the browser tests): a free port, ready when ``/readyz`` answers 200,
SIGTERM afterwards; and the national cast with an API key per member."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.utils.cast import NationalCast, register_cast

MEMBERS = ("regulator", "manufacturer", "vehicle_maker", "outlet_operator", "recycler")
READY_TIMEOUT = 60.0


def batterytrace_command() -> str:
    beside_python = Path(sys.executable).with_name("batterytrace")
    found = str(beside_python) if beside_python.exists() else shutil.which("batterytrace")
    assert found, "the batterytrace console script is not installed (pip install -e .)"
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """A running ``batterytrace serve`` child process."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def client(self, member: str | None = None, keys: dict[str, str] | None = None, **options: Any):
        headers = {"Authorization": f"Bearer {keys[member]}"} if member and keys else {}
        options.setdefault("timeout", 30.0)
        return httpx.Client(base_url=self.base_url, headers=headers, **options)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait for the exit status (SIGKILL if it does not come)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise AssertionError(f"the server did not stop within {timeout:g} s after SIGTERM") from None


def wait_ready(server: Server, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"the server exited with {server.process.returncode}:\n{server.log()}")
        try:
            answer = httpx.get(f"{server.base_url}/readyz", timeout=2.0)
            if answer.status_code == 200:
                return
            last = f"{answer.status_code} {answer.text}"
        except httpx.TransportError as error:
            last = repr(error)
        time.sleep(0.1)
    raise AssertionError(f"/readyz not 200 within {timeout:g} s (last: {last}):\n{server.log()}")


@contextmanager
def running_server(
    database_url: str,
    folder: Path,
    *,
    extra_env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    port: int | None = None,
) -> Iterator[Server]:
    """``batterytrace serve`` on a free port, ready (``/readyz`` 200) when yielded; stopped after.
    ``port`` restarts a stopped server on its old address (clients keep their base URL)."""
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "BATTERYTRACE_DATABASE_URL": database_url,
        "BATTERYTRACE_PUBLIC_URL": base_url,
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    log_path = folder / f"server-{port}.log"
    with log_path.open("ab") as log:  # a restart on the same port appends
        process = subprocess.Popen(
            [batterytrace_command(), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=folder,
        )
    server = Server(process, base_url, log_path)
    try:
        wait_ready(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def cast_with_keys(database_url: str) -> tuple[NationalCast, dict[str, str]]:
    """Register the national cast in the store and issue an API key to each member we act as."""
    service = BatteryTrace(Settings(database_url=database_url))
    try:
        cast = register_cast(service)
        keys = {
            member: service.issue_api_key(actor_id=None, participant_id=getattr(cast, member)).token
            for member in MEMBERS
        }
    finally:
        service.close()
    return cast, keys
