"""``/static`` serves the packaged files and nothing else (issue 10, finding 1), over real HTTP
against a ``batterytrace serve`` child process.

A request path is only ever a key into the table of packaged files; an absolute path, a dot
segment, an encoded slash, a backslash or a NUL byte is an unknown key: 404 (or 400 where the HTTP
server refuses the request first), never a file's content. Reading the SQLite store's own file
through ``/static`` used to drop the server process's POSIX locks on it (closing any descriptor of
a file releases all of the process's ``fcntl`` locks on it), after which a CLI run beside the
server deleted the ``-wal`` file from under it and writes the server had acknowledged were lost:
``test_cli_beside_server_under_hostile_static_requests_loses_nothing`` repeats that.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import http.client
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

from batterytrace.events.errors import NotFound
from batterytrace.trace.api.app import create_app
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.sample_data import COLUMNS, production_rows, write_production_file
from batterytrace.trace.settings import Settings
from tests.e2e.test_cli import Cli
from tests.e2e.test_service_over_http import check
from tests.utils.cast import NationalCast
from tests.utils.server import Server, cast_with_keys, running_server

CAST = NationalCast()
# Bytes that only the files a hostile path aims at contain: /etc/passwd, a SQLite file,
# /proc/self/environ, the package's Python sources.
SECRETS = (
    b"root:",
    b"SQLite format 3",
    b"BATTERYTRACE_DATABASE_URL",
    b"PATH=",
    b"from __future__",
    b"import ",
)
MAX_ECHO = 1000  # a refusal's body stays small whatever the request path's length


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def raw_get(base_url: str, target: str) -> Answer:
    """GET ``target`` exactly as written (httpx would normalise dot segments and encodings)."""
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, headers, response.read())
    finally:
        connection.close()


def hostile_paths(store: Path) -> list[str]:
    """Request targets that must never reach a file outside the packaged static files."""
    absolute = str(store)
    return [
        "/static//etc/passwd",
        "/static/%2Fetc%2Fpasswd",
        "/static/%2fetc/passwd",
        "/static/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/static/../../../../../../etc/passwd",
        "/static/js/..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/static/./js/../../routes.py",
        "/static/js/../../routes.py",
        "/static/js/%2E%2E/%2E%2E/routes.py",
        "/static/vendor/../../routes.py",
        "/static/..%5c..%5croutes.py",
        "/static/..\\..\\routes.py",
        "/static/js\\..\\..\\routes.py",
        "/static/C:%5cWindows%5cwin.ini",
        "/static/js/common.js%00.png",
        "/static/%00",
        "/static/%00/etc/passwd",
        "/static//proc/self/environ",
        "/static/%2Fproc%2Fself%2Fenviron",
        "/static/" + absolute,
        "/static/" + quote(absolute, safe=""),
        "/static//proc/self/cwd/" + store.name,
        "/static//proc/self/root" + absolute,
        "/static/~/.bashrc",
        "/static/.%2e/.%2e/routes.py",
        "/static/" + "a" * 6000,
        "/static/" + "../" * 2000 + "etc/passwd",
        "/static/" + "%2F" * 1500 + "etc/passwd",
        "/static/js",  # a folder, not a file
        "/static/",
        "/static/.hidden",
        # The docs and their vendored assets: the same table, nothing beside it.
        "/static/vendor/swagger-ui/../../../routes.py",
        "/static/vendor/swagger-ui/..%2f..%2f..%2froutes.py",
        "/static/vendor/redoc//etc/passwd",
        "/static/vendor/redoc/%2Fetc%2Fpasswd",
        "/docs/%2Fetc%2Fpasswd",
        "/docs/../static//etc/passwd",
        "/redoc/..%2f..%2fetc%2fpasswd",
        "/docs//etc/passwd",
    ]


def assert_refused(answer: Answer, target: str) -> None:
    shown = target if len(target) < 120 else target[:120] + "…"
    assert answer.status in (400, 404), f"{shown}: {answer.status} {answer.body[:200]!r}"
    for secret in SECRETS:
        assert secret not in answer.body, f"{shown} answered a file's content: {answer.body[:200]!r}"
    assert len(answer.body) <= MAX_ECHO, f"{shown}: a {len(answer.body)}-byte refusal echoes the request"
    if answer.status == 404 and target.startswith("/static/"):
        assert answer.headers["content-type"] == "application/problem+json", shown


@pytest.fixture(scope="module")
def served_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    folder = tmp_path_factory.mktemp("static-security")
    store = folder / "batterytrace.db"
    database_url = f"sqlite:///{store}"
    cast_with_keys(database_url)
    with running_server(database_url, folder) as server:
        yield server, store


# ------------------------------------------------------------------------------ the table
def test_hostile_static_paths_are_refused_without_content(served_store: tuple[Server, Path]) -> None:
    server, store = served_store
    for target in hostile_paths(store):
        assert_refused(raw_get(server.base_url, target), target)
    # The server is still whole: a page and a packaged file still load.
    assert raw_get(server.base_url, "/static/js/common.js").status == 200
    assert raw_get(server.base_url, "/readyz").status == 200


@pytest.mark.parametrize(
    ("path", "media_type", "cache"),
    [
        ("/static/js/common.js", "text/javascript", "no-cache"),
        ("/static/css/pages.css", "text/css", "no-cache"),
        ("/static/vendor/echarts/echarts.min.js", "text/javascript", "public, max-age=86400"),
        ("/static/vendor/zxing-wasm/zxing_reader.wasm", "application/wasm", "public, max-age=86400"),
        ("/static/vendor/swagger-ui/swagger-ui-bundle.js", "text/javascript", "public, max-age=86400"),
        ("/static/vendor/swagger-ui/swagger-ui.css", "text/css", "public, max-age=86400"),
        ("/static/vendor/redoc/redoc.standalone.js", "text/javascript", "public, max-age=86400"),
        ("/static/vendor/swagger-ui/favicon-32x32.png", "image/png", "public, max-age=86400"),
    ],
)
def test_packaged_files_are_served_with_their_type_and_caching(
    served_store: tuple[Server, Path], path: str, media_type: str, cache: str
) -> None:
    server, _store = served_store
    answer = raw_get(server.base_url, path)
    assert answer.status == 200, answer.body[:200]
    assert answer.headers["content-type"].split(";")[0] == media_type
    assert answer.headers["cache-control"] == cache
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert int(answer.headers["content-length"]) == len(answer.body) > 0


# ------------------------------------------------------------------------- the API docs
def inline_script_hashes(html: str) -> set[str]:
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    return {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts}


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_docs_pages_load_nothing_from_outside_and_cannot_be_framed(
    served_store: tuple[Server, Path], path: str
) -> None:
    server, _store = served_store
    answer = raw_get(server.base_url, path)
    assert answer.status == 200, answer.body[:200]
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.body.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the page loads something from outside"
    policy = dict(
        (directive.split()[0], directive.split()[1:])
        for directive in answer.headers["content-security-policy"].split(";")
    )
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"][0] == "'self'"
    assert set(policy["script-src"][1:]) == inline_script_hashes(html)  # those inline scripts, no others
    assert all(
        source in ("'self'", "'none'", "data:", "blob:", "'unsafe-inline'") or source.startswith("'sha256-")
        for sources in policy.values()
        for source in sources
    ), policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"


def test_openapi_json_is_the_apps_schema_without_the_docs(served_store: tuple[Server, Path]) -> None:
    server, store = served_store
    served = json.loads(raw_get(server.base_url, "/openapi.json").body)
    assert served == create_app(Settings(database_url=f"sqlite:///{store}")).openapi()
    assert "/api/v1/batteries" in served["paths"]
    assert not {"/docs", "/redoc", "/docs/oauth2-redirect", "/static/{path}"} & set(served["paths"])
    assert served["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


# ----------------------------------------------- a CLI run beside the server, under attack
@dataclass
class Attack:
    """Hostile ``/static`` requests in a thread until stopped; remembers what came back."""

    base_url: str
    targets: list[str]
    stop: threading.Event = field(default_factory=threading.Event)
    answered: list[tuple[str, int, bytes]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def run(self) -> None:
        round_ = 0
        while not self.stop.is_set():
            round_ += 1
            for target in self.targets:
                # A new spelling each round defeats any cache keyed by the request path.
                varied = target.replace("/proc/self/root/", "/proc/self/root" * (round_ % 7 + 1) + "/")
                try:
                    answer = raw_get(self.base_url, varied)
                except OSError as error:
                    self.errors.append(f"{varied}: {error!r}")
                    continue
                self.answered.append((varied, answer.status, answer.body[:64]))
            time.sleep(0.02)


def hostile_store_paths(store: Path) -> list[str]:
    absolute = str(store)
    return [
        "/static/" + absolute,
        "/static/" + quote(absolute, safe=""),
        "/static//proc/self/root/" + absolute.lstrip("/"),
        "/static//proc/self/cwd/" + store.name,
        "/static//proc/self/environ",
        "/static//etc/passwd",
    ]


def stored_codes(database_url: str, codes: list[str]) -> list[str]:
    """The codes of ``codes`` whose battery the store holds (opens the store afresh)."""
    service = BatteryTrace(Settings(database_url=database_url))
    found = []
    try:
        for code in codes:
            try:
                service.battery(code)
            except NotFound:
                continue
            found.append(code)
    finally:
        service.close()
    return found


def post_production(maker: httpx.Client, round_: int, count: int) -> list[str]:
    """Record ``count`` 3CA packs through HTTP; the codes the server said it stored."""
    body, codes = production_body(round_, count)
    imported = check(
        maker.post("/api/v1/batteries/bulk", content=body, headers={"Content-Type": "text/csv"}), 200
    )
    assert imported["stored"] == len(codes), imported
    return codes


def test_cli_beside_server_under_hostile_static_requests_loses_nothing(tmp_path: Path) -> None:
    store = tmp_path / "batterytrace.db"
    wal = store.with_name(store.name + "-wal")
    database_url = f"sqlite:///{store}"
    _cast, keys = cast_with_keys(database_url)
    cli = Cli(database_url, tmp_path)
    acknowledged: list[str] = []  # battery codes the server or the CLI said were stored
    wal_missing: list[str] = []
    with running_server(database_url, tmp_path) as server:
        attack = Attack(server.base_url, hostile_store_paths(store))
        attacker = threading.Thread(target=attack.run, name="attack", daemon=True)
        attacker.start()
        maker = server.client("manufacturer", keys)
        try:
            for round_ in range(6):
                # A write through HTTP, acknowledged by the server ...
                acknowledged += post_production(maker, round_, 20)
                time.sleep(0.2)  # the attack reads the store's file meanwhile
                # ... then a CLI run beside the server, which opens and closes the store.
                rows = write_production_file(
                    tmp_path / f"cli-{round_}.csv", "3CB", 10, first_day=date(2024, 1, 1) + timedelta(round_)
                )
                cli.ok("import", str(rows), "--as", CAST.manufacturer)
                acknowledged += _codes_in(rows)
                cli.ok("participants", "list")
                if not wal.exists():
                    wal_missing.append(f"after CLI round {round_}")
            # A last write through HTTP after the CLI runs.
            acknowledged += post_production(maker, 99, 20)
        finally:
            attack.stop.set()
            attacker.join(timeout=30)
        assert server.stop() == 0, server.log()

    assert store.exists()
    found = stored_codes(database_url, acknowledged)
    lost = sorted(set(acknowledged) - set(found))
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged batteries lost, e.g. {lost[:3]}"
    assert not wal_missing, f"the -wal file was deleted under the running server: {wal_missing}"
    leaked = [(target, status) for target, status, _ in attack.answered if status not in (400, 404)]
    assert not leaked, f"hostile requests answered: {leaked[:5]}"
    assert attack.answered, f"no hostile request was answered: {attack.errors[:3]}"


def production_body(round_: int, count: int) -> tuple[bytes, list[str]]:
    """A production CSV of ``count`` 3CA packs made on a day of their own (codes never repeat)."""
    rows = list(production_rows("3CA", count, first_day=date(2024, 3, 1) + timedelta(round_)))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode(), [row["code"] for row in rows]


def _codes_in(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as rows:
        return [row["code"] for row in csv.DictReader(rows)]
