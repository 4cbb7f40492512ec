"""The HTTP layer against a hostile client (issue 10, findings 2, 3, 11, 12, 13, 17 and 18).

Over real HTTP against a ``batterytrace serve`` child process where the fault needs one (a body
sent chunked, a server's memory, its worker threads, uvicorn's own refusals, what it logs), in
process otherwise:

- request bodies are counted as they arrive: a chunked body is stopped at the limit with a 413,
  before authentication, and the server does not read (or keep) the rest;
- a JSON object that names a key twice is refused (422), not read as its last value;
- ``?after=`` beyond the store's head is refused at once; waiting for the views holds no worker
  thread, so ``/healthz`` answers while many reads wait;
- wrong API keys are throttled (429 with Retry-After), logged without their secret and counted;
- every answer carries ``X-Content-Type-Options: nosniff``; ``X-Request-ID`` is echoed only when
  it is a short token; ``/readyz`` does not tell the public the database's error text;
- ``/metrics`` labels do not grow with invented HTTP methods;
- a request that is not HTTP is refused as a problem, like every other refusal.
"""

from __future__ import annotations

import http.client
import json
import logging
import select
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.testclient import TestClient

from batterytrace.trace.api.metrics import REGISTRY
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.utils.api import Api, api_on
from tests.utils.server import Server, cast_with_keys, running_server

PROBLEM_JSON = "application/problem+json"
MB = 1024 * 1024


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: int  # body bytes the client got to send before the answer


def problem_of(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    for fragment in fragments:
        assert fragment in body["detail"], body["detail"]
    return body


def auth_failures(outcome: str) -> float:
    return REGISTRY.get_sample_value("batterytrace_auth_failures_total", {"outcome": outcome}) or 0.0


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


def parse_answer(data: bytes, sent: int) -> RawAnswer:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawAnswer(int(lines[0].split()[1]), headers, body, sent)


def read_all(sock: socket.socket, timeout: float = 15.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def post_chunked(server: Server, path: str, total: int, *, piece: int = 64 * 1024) -> RawAnswer:
    """POST ``total`` bytes with ``Transfer-Encoding: chunked`` (no Content-Length), stopping as
    soon as the server answers or closes; its answer and how much was sent."""
    address = urlsplit(server.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=15) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = f"{piece:x}\r\n".encode() + b"x" * piece + b"\r\n"
        sent = 0
        try:
            while sent < total:
                if select.select([sock], [], [], 0)[0]:
                    break  # the server has answered (or closed)
                sock.sendall(chunk)
                sent += piece
            else:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        return parse_answer(read_all(sock), sent)


def send_raw(server: Server, data: bytes) -> RawAnswer:
    address = urlsplit(server.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=15) as sock:
        sock.sendall(data)
        return parse_answer(read_all(sock), 0)


# ------------------------------------------------------------------------- body limits (2)
def test_a_chunked_body_is_stopped_at_the_limit_before_authentication(
    sqlite_url: str, tmp_path: Path
) -> None:
    """150 MB sent chunked to a JSON route, without a key: 413 at the JSON limit (1 MiB), the
    rest never read, and the server's memory does not grow by the body's size."""
    cast_with_keys(sqlite_url)
    with running_server(sqlite_url, tmp_path) as server:
        httpx.get(f"{server.base_url}/healthz")
        before = rss_kb(server.process.pid)
        answer = post_chunked(server, "/api/v1/batteries", 150 * MB)
        after = rss_kb(server.process.pid)
        assert answer.status == 413, answer
        assert answer.headers["content-type"].startswith(PROBLEM_JSON)
        assert answer.headers["connection"] == "close"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "limit of 1048576 bytes" in json.loads(answer.body)["detail"]
        assert answer.sent < 32 * MB, f"the server read {answer.sent} bytes before answering"
        assert after - before < 50 * 1024, f"VmRSS grew from {before} kB to {after} kB"
        assert httpx.get(f"{server.base_url}/healthz").status_code == 200


def test_the_streaming_routes_keep_their_larger_limit(sqlite_url: str) -> None:
    """Bulk import and scans read their body as a stream and may receive up to
    BATTERYTRACE_MAX_BODY_MB; a body FastAPI reads whole (a JSON request) only the JSON limit."""
    with api_on(sqlite_url, max_json_body_bytes=1024, max_body_bytes=64 * 1024) as api:
        headers = {**api.auth("manufacturer"), "Content-Type": "application/json"}
        big_json = json.dumps({"code": "x", "note": "n" * 2000}).encode()
        problem_of(
            api.client.post("/api/v1/batteries", content=big_json, headers=headers), 413, "limit is 1024"
        )
        chunked = api.client.post(
            "/api/v1/batteries", content=iter([big_json[:900], big_json[900:]]), headers=headers
        )
        problem_of(chunked, 413, "limit of 1024 bytes", "BATTERYTRACE_MAX_JSON_KB")
        public = api.client.post(
            "/api/v1/batteries", content=big_json, headers={"Content-Type": "application/json"}
        )
        problem_of(public, 413)  # before authentication: the key is not needed to be refused

        rows = "".join(
            json.dumps({"code": f"not-a-code-{n}", "level": "pack", "chemistry": "LFP"}) + "\n"
            for n in range(40)
        ).encode()
        assert 1024 < len(rows) < 64 * 1024
        bulk = api.client.post(
            "/api/v1/batteries/bulk",
            content=iter([rows[:1000], rows[1000:]]),
            headers={**api.auth("manufacturer"), "Content-Type": "application/x-ndjson"},
        )
        assert bulk.status_code == 200, bulk.text  # rows refused one by one, the body accepted
        assert bulk.json()["rows"] == 40
        too_big = api.client.post(
            "/api/v1/batteries/bulk",
            content=iter([rows] * 30),
            headers={**api.auth("manufacturer"), "Content-Type": "application/x-ndjson"},
        )
        problem_of(too_big, 413, f"limit of {64 * 1024} bytes", "BATTERYTRACE_MAX_BODY_MB")


# ----------------------------------------------------------------- duplicated JSON keys (18)
@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"code": "3CAPB120A1B2C3R7F0000001", "code": "3CAPB120A1B2C3R7F0000002"}', "code"),
        (b'{"code": "3CAPB120A1B2C3R7F0000001", "components": [], "x": {"a": 1, "a": 2}}', "a"),
        (
            b'{"components": [' + b'"3CAPB120A1B2C3R7F0000001", ' * 5000 + b'"x"], "components": []}',
            "components",
        ),
    ],
    ids=["top level", "nested", "large body"],
)
def test_a_json_object_naming_a_key_twice_is_refused(api: Api, body: bytes, key: str) -> None:
    headers = {**api.auth("manufacturer"), "Content-Type": "application/json"}
    head = api.service.recorder.max_notification_id()
    refused = problem_of(api.client.post("/api/v1/batteries", content=body, headers=headers), 422, repr(key))
    assert refused["type"] == "/problems/duplicate-key"
    assert api.service.recorder.max_notification_id() == head
    # Not JSON at all: FastAPI's own answer, as before.
    problem_of(api.client.post("/api/v1/batteries", content=b'{"code": ', headers=headers), 422, "JSON")


def test_a_scan_sent_as_json_naming_a_key_twice_is_refused(api: Api) -> None:
    """The scan route reads its body itself (it also takes photos); a JSON body is checked too."""
    body = b'{"text": "3CAPB120A1B2C3R7F0000001", "client_scan_id": "s-1", "client_scan_id": "s-2"}'
    answer = api.client.post(
        f"/api/v1/collection-points/{api.cast.collection_point}/scans",
        content=body,
        headers={**api.auth("outlet_operator"), "Content-Type": "application/json"},
    )
    assert problem_of(answer, 422, "'client_scan_id'")["type"] == "/problems/duplicate-key"


# ---------------------------------------------------------------- read your writes (3)
def test_after_beyond_the_head_is_refused_at_once_and_the_wait_is_capped(api: Api) -> None:
    head = api.service.recorder.max_notification_id() or 0
    started = time.monotonic()
    beyond = api.client.get("/api/v1/collection-points", params={"after": head + 1000, "timeout": 10})
    assert time.monotonic() - started < 1.0
    body = problem_of(beyond, 422, f"after={head + 1000}", f"({head})")
    assert body["type"] == "/problems/after-beyond-head"
    header = api.client.get("/api/v1/collection-points", headers={"X-After-Notification": str(head + 1)})
    problem_of(header, 422, "beyond the newest notification")
    problem_of(
        api.client.get("/api/v1/collection-points", params={"after": head, "timeout": 11}), 422, "timeout"
    )

    api.service.issue_api_key(actor_id=None, participant_id=api.cast.manufacturer)  # a write
    notification = api.service.recorder.max_notification_id() or 0
    assert notification > head
    mine = api.client.get("/api/v1/collection-points", params={"after": notification, "timeout": 10})
    assert mine.status_code == 200, mine.text


def test_a_store_head_that_cannot_be_read_is_503(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = api.client.app.state.runner  # type: ignore[attr-defined]

    def unreachable() -> int:
        raise OSError("connection refused by db.internal:5432")

    monkeypatch.setattr(runner, "views_position", lambda: 0)  # the views behind: the head is read
    monkeypatch.setattr(runner, "_position_read", (float("-inf"), 0))
    monkeypatch.setattr(runner, "head", unreachable)
    answer = api.client.get("/api/v1/collection-points", params={"after": 1})
    body = problem_of(answer, 503, "retry shortly")
    assert "db.internal" not in answer.text, body


def test_healthz_answers_while_many_reads_wait_for_the_views(database_url: str, tmp_path: Path) -> None:
    """Without the in-process follower the views stay behind a new write: 60 reads wait for it
    (each used to hold a worker thread for the whole wait); /healthz and a plain read answer at
    once meanwhile, and 60 reads beyond the head are refused at once."""
    cast_with_keys(database_url)
    with running_server(database_url, tmp_path, args=("--no-projections",)) as server:
        service = BatteryTrace(Settings(database_url=database_url))
        try:
            service.issue_api_key(actor_id=None, participant_id=service.participants()[0].id)
            head = service.recorder.max_notification_id() or 0
        finally:
            service.close()

        def read_after(after: int, timeout: float) -> int:
            address = urlsplit(server.base_url)
            connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
            try:
                connection.request("GET", f"/api/v1/collection-points?after={after}&timeout={timeout:g}")
                return connection.getresponse().status
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=120) as pool:
            waiting = [pool.submit(read_after, head, 5) for _ in range(60)]
            beyond = [pool.submit(read_after, head + 1000, 5) for _ in range(60)]
            assert [f.result() for f in beyond] == [422] * 60  # at once: they never wait
            time.sleep(0.5)
            assert not any(f.done() for f in waiting), "the reads did not wait for the views"
            with server.client() as client:
                started = time.monotonic()
                assert client.get("/healthz").status_code == 200
                healthz_seconds = time.monotonic() - started
                started = time.monotonic()
                assert client.get("/readyz").status_code == 200
                readyz_seconds = time.monotonic() - started
            assert [f.result() for f in waiting] == [503] * 60  # views-behind after the wait
        assert healthz_seconds < 1.0, f"/healthz took {healthz_seconds:.2f} s"
        assert readyz_seconds < 1.0, f"/readyz took {readyz_seconds:.2f} s"


# ------------------------------------------------------------ failed authentication (12)
def test_wrong_keys_are_throttled_per_address_and_per_key_id(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    regulator_key_id = api.keys["regulator"].split("_")[1]
    refused_before = auth_failures("refused")
    throttled_before = auth_failures("throttled")
    secret = "guessed-secret-that-must-not-be-logged"
    wrong = {"Authorization": f"Bearer bt_{regulator_key_id}_{secret}"}
    with caplog.at_level(logging.WARNING, logger="batterytrace.security"):
        answers = [api.client.get("/api/v1/me", headers=wrong) for _ in range(25)]
    assert [a.status_code for a in answers] == [401] * 20 + [429] * 5
    throttled = problem_of(answers[-1], 429, "too many failed authentications")
    assert throttled["type"] == "/problems/too-many-failures"
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60
    # The address is throttled whatever key it sends, right or wrong …
    problem_of(api.client.get("/api/v1/me", headers=api.auth("manufacturer")), 429)
    # … and wrong secrets for the key id from any address; another address with another key is
    # not, and nor is the key's owner: a stranger guessing its secret cannot lock it out.
    elsewhere = TestClient(api.client.app, client=("10.9.8.7", 50000), raise_server_exceptions=False)
    problem_of(elsewhere.get("/api/v1/me", headers=wrong), 429)
    assert elsewhere.get("/api/v1/me", headers=api.auth("manufacturer")).status_code == 200
    assert elsewhere.get("/api/v1/me", headers=api.auth("regulator")).status_code == 200
    assert elsewhere.get("/api/v1/collection-points").status_code == 200  # the public needs no key

    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "batterytrace.security"]
    assert len(lines) == 20  # one per refused key; throttled requests are counted, not logged
    assert {line["address"] for line in lines} == {"testclient"}
    assert {line["key_id_prefix"] for line in lines} == {regulator_key_id[:8]}
    assert lines[-1]["throttled"] is True
    assert not any(secret in r.getMessage() or regulator_key_id in r.getMessage() for r in caplog.records)
    assert auth_failures("refused") - refused_before == 20
    assert auth_failures("throttled") - throttled_before == 7
    assert 'batterytrace_auth_failures_total{outcome="throttled"}' in api.client.get("/metrics").text


def test_the_served_process_logs_access_lines_and_refused_keys_as_json(
    sqlite_url: str, tmp_path: Path
) -> None:
    """``batterytrace serve`` configures its loggers: an access line per request and a security
    line per refused key reach stderr, as JSON; 600 wrong keys in a row end in 429s."""
    cast_with_keys(sqlite_url)
    with running_server(sqlite_url, tmp_path) as server, server.client() as client:
        wrong = {"Authorization": "Bearer bt_0123456789abcdef_not-the-secret"}
        statuses = [client.get("/api/v1/me", headers=wrong).status_code for _ in range(600)]
        # 20 a minute: the first 20 are looked at, then one every 3 s while the loop runs
        assert statuses[:20] == [401] * 20 and statuses.count(429) > 550, statuses
        assert client.get("/healthz", headers={"X-Request-ID": "probe-7.a_b"}).status_code == 200
        time.sleep(0.5)
        log = server.log()
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [r for r in records if "route" in r]
    security = [r for r in records if r.get("event") == "authentication_failed"]
    assert {
        "request_id": "probe-7.a_b",
        "method": "GET",
        "path": "/healthz",
        "route": "/healthz",
    }.items() <= next(r for r in access if r["path"] == "/healthz").items()
    assert len(security) == statuses.count(401) and all(r["key_id_prefix"] == "01234567" for r in security)
    assert "not-the-secret" not in log and "0123456789abcdef" not in log


# ------------------------------------------------------------------ headers and ids (13, 17)
def test_every_answer_says_nosniff(api: Api) -> None:
    answers = {
        "json": api.client.get("/api/v1/collection-points"),
        "csv": api.client.get("/api/v1/collection-points", params={"format": "csv"}),
        "problem": api.client.get("/api/v1/batteries/nothing-here"),
        "unmatched": api.client.get("/no/such/path"),
        "metrics": api.client.get("/metrics"),
        "healthz": api.client.get("/healthz"),
        "static": api.client.get("/static/js/common.js"),
        "refused body": api.client.post(
            "/api/v1/batteries", content=b'{"a": 1, "a": 2}', headers={"Content-Type": "application/json"}
        ),
    }
    missing = {
        name: a.status_code
        for name, a in answers.items()
        if a.headers.get("x-content-type-options") != "nosniff"
    }
    assert not missing, missing
    assert answers["csv"].headers["content-type"].startswith("text/csv")


@pytest.mark.parametrize(
    "given",
    ["x" * 70_000, "id with spaces", "a\u00e9b", "x" * 65, "", "<script>"],
    ids=["70 KB", "spaces", "non-ASCII", "65 chars", "empty", "markup"],
)
def test_a_request_id_that_is_not_a_short_token_is_replaced(sqlite_url: str, given: str) -> None:
    with api_on(sqlite_url) as api:
        kept = api.client.get("/healthz", headers={"X-Request-ID": "client-42.retry_1"})
        assert kept.headers["x-request-id"] == "client-42.retry_1"
        replaced = api.client.get("/healthz", headers={"X-Request-ID": given.encode("utf-8")})
        assert replaced.headers["x-request-id"] != given
        assert len(replaced.headers["x-request-id"]) == 32 and replaced.headers["x-request-id"].isalnum()


def test_each_request_is_logged_as_one_json_line_with_its_id_route_and_status(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The access line is made only when its logger writes INFO (``Exchange.observe``): written
    then, with the request id the client sees; not made at all otherwise."""
    with api_on(sqlite_url) as api:
        with caplog.at_level(logging.INFO, logger="batterytrace.access"):
            answer = api.client.get(
                "/api/v1/batteries/3CAPB120A1B2C3R7F0000123", headers={"X-Request-ID": "r-1"}
            )
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "batterytrace.access"]
        assert lines == [
            {
                "request_id": "r-1",
                "method": "GET",
                "path": "/api/v1/batteries/3CAPB120A1B2C3R7F0000123",
                "route": "/api/v1/batteries/{code}",
                "status": answer.status_code,
                "ms": lines[0]["ms"],
            }
        ]
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="batterytrace.access"):
            api.client.get("/healthz")
        assert not [r for r in caplog.records if r.name == "batterytrace.access"]


def test_readyz_does_not_show_the_database_error(
    api: Api, caplog: pytest.LogCaptureFixture, monkeypatch
) -> None:
    runner = api.client.app.state.runner  # type: ignore[attr-defined]

    def broken() -> list[Any]:
        raise RuntimeError('connection to server at "db.internal" (10.0.0.5), port 5432 failed: password')

    monkeypatch.setattr(runner, "status", broken)
    with caplog.at_level(logging.WARNING, logger="batterytrace.api"):
        answer = api.client.get("/readyz")
    body = problem_of(answer, 503, "the database is not reachable")
    assert "db.internal" not in answer.text and "10.0.0.5" not in answer.text, body
    assert any("db.internal" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------------- metrics (11)
def test_invented_methods_do_not_add_metric_series(api: Api) -> None:
    def series() -> set[str]:
        metrics = api.client.get("/metrics").text
        return {line.rpartition(" ")[0] for line in metrics.splitlines() if line.startswith("batterytrace_")}

    before = series()
    for n in range(30):
        assert api.client.request(f"INVENTED{n}", "/healthz").status_code == 405
    added = series() - before
    assert not any("INVENTED" in line for line in added)
    assert {line for line in added if "_count" in line} <= {
        'batterytrace_request_seconds_count{method="other",route="/healthz",status="405"}',
        'batterytrace_request_seconds_count{method="GET",route="/metrics",status="200"}',
    }, added


# --------------------------------------------------------------------- uvicorn's 400 (18)
def test_a_request_that_is_not_http_is_refused_as_a_problem(sqlite_url: str, tmp_path: Path) -> None:
    with running_server(sqlite_url, tmp_path) as server:
        for garbage in (b"NOT HTTP AT ALL\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"):
            answer = send_raw(server, garbage)
            assert answer.status == 400, answer
            assert answer.headers["content-type"] == PROBLEM_JSON
            assert answer.headers["x-content-type-options"] == "nosniff"
            body = json.loads(answer.body)
            assert (body["status"], body["title"], body["type"]) == (
                400,
                "Bad request",
                "/problems/invalid-http",
            )
        assert httpx.get(f"{server.base_url}/healthz").status_code == 200
