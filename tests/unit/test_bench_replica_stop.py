"""R7's judgement of each answer, without a server: which 503s are the documented fallback (a
read caught on the replica as it stopped, answered on retry) and which are failures."""

from __future__ import annotations

from typing import Any

from bench.faults.common import Tally
from bench.faults.replica_stop import Figures, check_calls, context, judge
from tests.utils.replica_load import Answer, Call, Load

FALLBACK = Answer(503, "replica stopped 1", retry_after="5", problem=True)
READ_BACK = "/api/v1/batteries/3CA"
COLLECTED = {"battery": {"state": "collected"}}


def call(method: str, path: str, *answers: Answer, body: Any = None) -> Call:
    return Call(method, path, list(answers), body)


def ok(phase: str = "replica up", status: int = 200) -> Answer:
    return Answer(status, phase)


def test_answers_at_the_first_attempt_pass() -> None:
    assert judge(call("GET", "/api/v1/reports/network", ok())) is None
    assert judge(call("POST", "/api/v1/collection-points/P/scans", ok(status=201))) is None
    assert judge(call("GET", READ_BACK, ok(), body=COLLECTED)) is None


def test_a_read_answered_503_with_retry_after_during_a_stop_and_then_answered_is_the_fallback() -> None:
    tally = Tally("R7_replica_stop", "postgres")
    calls = [
        call("GET", "/b/3CA", FALLBACK, ok("replica stopped 1")),
        call("GET", "/api/v1/reports/network", FALLBACK, FALLBACK, ok("replica stopped 1")),
        call("GET", "/api/v1/reports/network", ok()),
    ]
    assert check_calls(tally, calls) == 2
    assert tally.failures == []


def test_every_other_error_is_a_failure() -> None:
    stopped = "replica stopped 1"
    failing = {
        "no retry-after": call("GET", "/b/3CA", Answer(503, stopped, None, True), ok(stopped)),
        "not a problem body": call("GET", "/b/3CA", Answer(503, stopped, "5", False), ok(stopped)),
        "503 while the replica was up": call("GET", "/b/3CA", Answer(503, "replica up", "5", True), ok()),
        "503 after the restart": call("GET", "/b/3CA", Answer(503, "replica restarted 1", "5", True), ok()),
        "503 on a scan (a write)": call(
            "POST", "/api/v1/collection-points/P/scans", FALLBACK, ok(stopped, 201)
        ),
        "the retries fail too": call("GET", "/b/3CA", FALLBACK, FALLBACK, FALLBACK),
        "a 500": call("GET", "/api/v1/reports/regions", Answer(500, stopped)),
        "no HTTP answer": call("GET", "/api/v1/reports/regions", Answer(None, stopped)),
        "read-your-writes broken": call("GET", READ_BACK, ok(), body={"battery": {"state": "retired"}}),
    }
    for why, failed in failing.items():
        assert judge(failed) is not None, why
    tally = Tally("R7_replica_stop", "postgres")
    assert check_calls(tally, list(failing.values())) == 0
    assert len(tally.failures) == len(failing)
    assert not tally.row()["ok"] and tally.row()["value"] == len(failing)
    assert any("read-your-writes" in failure for failure in tally.failures)


def test_the_row_reports_the_reads_on_each_database_and_the_fallbacks() -> None:
    load = Load("http://127.0.0.1:1", {}, "P", [])
    load.calls = [
        call("POST", "/api/v1/collection-points/P/scans", ok(status=201)),
        call("GET", READ_BACK, ok(), body=COLLECTED),
        call("GET", "/b/3CA", FALLBACK, ok("replica stopped 1")),
    ]
    figures = Figures(
        replica_before=71, primary_while_down=223, replica_after=127, noticed=[0.4], usable=[1.3]
    )
    tally = Tally("R7_replica_stop", "postgres", context(1, load, 1, figures))
    row = tally.row()
    assert row["ok"] and row["value"] == 0
    for shown in ("1 scans", "2 reads", "replica 71 before", "127 after", "primary 223", "1 read(s) took"):
        assert shown in row["unit"], shown
    assert "within 0.40 s" in row["unit"] and "within 1.30 s" in row["unit"]
