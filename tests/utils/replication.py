"""Real PostgreSQL streaming replication for tests: a temporary primary cluster and a hot-standby
replica of it, each on a free port in a temporary folder, removed afterwards.

Why real clusters and not a second schema standing in for a replica: what the read side must
survive is PostgreSQL's own behaviour (a standby refusing writes, replaying WAL later than the
primary commits, going away and catching up from its replication slot), and only a standby shows
it. The clusters are made with the server's own tools: ``initdb`` for the primary, then
``pg_basebackup -R`` (which writes ``standby.signal`` and ``primary_conninfo``) for the replica,
with a physical replication slot so that the primary keeps the WAL a stopped replica still needs.

They never touch the machine's main PostgreSQL (its data, its port 5432): their folder is a fresh
``mkdtemp`` under ``/tmp``, their ports are free ones, and they listen on 127.0.0.1 only.
PostgreSQL refuses to run as root, so as root every tool runs as the ``postgres`` OS user
(``runuser``), which then owns the folder.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from tests.utils.server import free_port

TOOLS = ("initdb", "pg_ctl", "pg_basebackup")
OS_USER = "postgres"  # who runs the servers when the tests run as root
DATABASE = "batterytrace"
START_TIMEOUT = 60  # seconds for pg_ctl start/stop (a loaded 2-core machine)
# Small and fast: these clusters hold a test's data for a minute and are thrown away.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "full_page_writes": "off",
    "shared_buffers": "32MB",
    "max_connections": "100",
    "wal_level": "replica",
    "max_wal_senders": "5",
    "max_replication_slots": "5",
    "hot_standby": "on",
    "hot_standby_feedback": "on",  # a report query on the replica is not cancelled by cleanup
    "wal_receiver_status_interval": "1s",
    "log_min_messages": "warning",
}


class ReplicationUnavailable(Exception):
    """This machine cannot run the temporary clusters (the message says why)."""


def postgres_bindir() -> Path:
    """The folder holding ``initdb``, ``pg_ctl`` and ``pg_basebackup``: BATTERYTRACE_TEST_PG_BIN,
    else Debian's newest ``/usr/lib/postgresql/<version>/bin``, else the one ``pg_config`` names."""
    candidates: list[Path] = []
    if os.environ.get("BATTERYTRACE_TEST_PG_BIN"):
        candidates.append(Path(os.environ["BATTERYTRACE_TEST_PG_BIN"]))
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = [p for p in debian.iterdir() if p.name.isdigit()]
        candidates += [p / "bin" for p in sorted(versions, key=lambda p: int(p.name), reverse=True)]
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip():
            candidates.append(Path(found.stdout.strip()))
    for folder in candidates:
        if all(os.access(folder / tool, os.X_OK) for tool in TOOLS):
            return folder
    raise ReplicationUnavailable(
        f"PostgreSQL's server tools ({', '.join(TOOLS)}) are not installed: install Debian's "
        "postgresql package (postgresql-15 on Debian 12; scripts/setup does, as root) or set "
        "BATTERYTRACE_TEST_PG_BIN to the folder holding them"
    )


def unavailable_reason() -> str | None:
    """None when temporary clusters can run here, else why not."""
    try:
        postgres_bindir()
        _server_user()
    except ReplicationUnavailable as error:
        return str(error)
    return None


def _server_user() -> pwd.struct_passwd | None:
    """The OS user to run the servers as: None for ourselves, ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        user = pwd.getpwnam(OS_USER)
    except KeyError:
        raise ReplicationUnavailable(
            f"running as root, and there is no {OS_USER!r} OS user to run PostgreSQL as "
            "(PostgreSQL refuses to run as root; the postgresql-15 package creates that user)"
        ) from None
    if not shutil.which("runuser"):
        raise ReplicationUnavailable("running as root, and runuser (util-linux) is missing")
    return user


@dataclass
class Node:
    """One temporary cluster: its data folder, port and log."""

    name: str
    data: Path
    port: int
    log: Path

    @property
    def url(self) -> str:
        """The URL of the test database on this cluster (trust authentication, 127.0.0.1)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def connect(self, *, timeout: int = 5, autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(self.url, connect_timeout=timeout, autocommit=autocommit)

    def log_text(self) -> str:
        with suppress(OSError):
            return self.log.read_text(encoding="utf-8", errors="replace")
        return ""


@dataclass
class Replication:
    """A running primary and a streaming hot standby of it (``replication()`` makes one)."""

    folder: Path
    bindir: Path
    user: pwd.struct_passwd | None
    primary: Node
    replica: Node
    _running: set[str] = field(default_factory=set)

    @property
    def primary_url(self) -> str:
        return self.primary.url

    @property
    def replica_url(self) -> str:
        return self.replica.url

    # ------------------------------------------------------------------------- running tools
    def run(self, tool: str, *args: str, timeout: float = START_TIMEOUT) -> str:
        """Run one of PostgreSQL's tools (as the ``postgres`` user when we are root); its output,
        or an AssertionError with it and the clusters' logs."""
        command = [str(self.bindir / tool), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user.pw_name, "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.folder, check=False
        )
        if done.returncode != 0:
            raise AssertionError(
                f"{tool} {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}\n"
                f"primary log:\n{self.primary.log_text()}\nreplica log:\n{self.replica.log_text()}"
            )
        return done.stdout

    def _start(self, node: Node) -> None:
        self.run("pg_ctl", "start", "-w", "-t", str(START_TIMEOUT), "-D", str(node.data), "-l", str(node.log))
        self._running.add(node.name)

    def _stop(self, node: Node, mode: str = "fast") -> None:
        self.run("pg_ctl", "stop", "-w", "-t", str(START_TIMEOUT), "-m", mode, "-D", str(node.data))
        self._running.discard(node.name)

    # ---------------------------------------------------------------------------- the replica
    def stop_replica(self) -> None:
        """Stop the standby as an operator would (``pg_ctl stop -m fast``: its sessions end)."""
        self._stop(self.replica)

    def start_replica(self) -> None:
        """Start the standby again; it answers once consistent, then streams what it missed."""
        self._start(self.replica)

    def replica_running(self) -> bool:
        return self.replica.name in self._running

    def wait_replayed(self, timeout: float = 30.0) -> None:
        """Wait until the standby has replayed everything the primary had written when called."""
        with self.primary.connect() as connection:
            target = connection.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        replayed = None
        while time.monotonic() < deadline:
            with suppress(psycopg.OperationalError), self.replica.connect(timeout=2) as connection:
                replayed, reached = connection.execute(
                    "SELECT pg_last_wal_replay_lsn(), pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
                ).fetchone()
                if reached:
                    return
            time.sleep(0.05)
        raise AssertionError(
            f"the replica has not replayed {target} within {timeout:g} s (at {replayed})\n"
            f"replica log:\n{self.replica.log_text()}"
        )

    # ------------------------------------------------------------------------- making, removing
    def create(self) -> None:
        primary = self.primary
        self.run("initdb", "-D", str(primary.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--locale=C.UTF-8", "--no-sync")  # fmt: skip
        _append_settings(primary.data, {**SERVER_SETTINGS, "port": str(primary.port),
                                        "unix_socket_directories": f"'{self.folder}'"})  # fmt: skip
        self._start(primary)
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{primary.port}/postgres", autocommit=True, connect_timeout=5
        ) as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")
        # -R: standby.signal and primary_conninfo; -C -S: a slot, so WAL waits for a stopped replica
        self.run("pg_basebackup", "-D", str(self.replica.data), "-h", "127.0.0.1", "-p", str(primary.port),
                 "-U", "postgres", "-R", "-X", "stream", "-c", "fast", "-C", "-S", "replica")  # fmt: skip
        _append_settings(self.replica.data, {"port": str(self.replica.port)})
        self._start(self.replica)
        self.wait_replayed()

    def remove(self) -> None:
        """Stop whatever still runs (immediately: the data is thrown away) and delete the folder."""
        for node in (self.replica, self.primary):
            if node.name in self._running or (node.data / "postmaster.pid").exists():
                with suppress(Exception):
                    self._stop(node, "immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def _append_settings(data: Path, settings: dict[str, str]) -> None:
    """Settings at the end of ``postgresql.conf`` (the last one wins), keeping the file's owner."""
    conf = data / "postgresql.conf"
    with conf.open("a", encoding="utf-8") as file:
        file.write("\n# tests/utils/replication.py\n")
        file.writelines(f"{name} = {value}\n" for name, value in settings.items())


@contextmanager
def replication(ports: Sequence[int] | None = None) -> Iterator[Replication]:
    """A primary and a streaming replica, running when yielded, stopped and deleted afterwards
    (also when making them failed half-way). ``ReplicationUnavailable`` says why it cannot run."""
    bindir = postgres_bindir()
    user = _server_user()
    folder = Path(tempfile.mkdtemp(prefix="bt-replication-"))
    primary_port, replica_port = ports or (free_port(), free_port())
    setup = Replication(
        folder=folder,
        bindir=bindir,
        user=user,
        primary=Node("primary", folder / "primary", primary_port, folder / "primary.log"),
        replica=Node("replica", folder / "replica", replica_port, folder / "replica.log"),
    )
    try:
        if user is not None:
            os.chown(folder, user.pw_uid, user.pw_gid)
        setup.create()
        yield setup
    finally:
        setup.remove()


def require_replication() -> None:
    """Skip the calling test, with the reason, where this machine cannot run the temporary
    clusters; under CI=true fail instead, as the PostgreSQL tests do."""
    reason = unavailable_reason()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: the replication tests must run, not skip)")
        pytest.skip(reason)


def replication_for_tests() -> Iterator[Replication]:
    """The body of a test module's fixture (``yield from``): a running primary and replica."""
    require_replication()
    with replication() as setup:
        yield setup
