"""Bulk production over HTTP with hostile rows (issue 10, finding 8 and the bulk part of 18).

The probe sent 600 rows whose last line was 100,000 '[': the first batch of 500 was stored and the
answer was a bare "internal error". Now every malformed row is refused by line in a 200 answer, and
a store that fails part-way is answered with a problem that still says what was stored.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from batterytrace.trace.production_rows import MAX_LINE_CHARS, MAX_REQUEST_ID_LENGTH
from tests.e2e.test_api_writes import bulk, code, head, jsonl, pack_body, problem_of
from tests.utils.api import Api
from tests.utils.server import batterytrace_command, cast_with_keys

DEEP = "[" * 100_000


def _refused(answer: Any) -> dict[int, str]:
    return {row["line"]: row["reason"] for row in answer["refused"]}


def test_a_hostile_line_after_a_full_batch_is_refused_not_a_500(api: Api) -> None:
    rows: list[dict[str, Any] | str] = [pack_body(n) for n in range(1, 600)]
    rows.insert(550, pack_body(551, level=5))  # line 551: a number where text belongs
    rows.insert(560, pack_body(561, chemistry={"x": 1}))  # line 561: an object
    rows.append(DEEP)  # line 602
    response = bulk(api, jsonl(*rows), "application/x-ndjson")

    assert response.status_code == 200, response.text[:500]
    answer = response.json()
    assert (answer["rows"], answer["stored"], answer["refused_count"]) == (602, 599, 3)
    assert _refused(answer) == {
        551: "level must be text (pack, module or cell), got 5",
        561: "chemistry must be text (e.g. LFP), got {'x': 1}",
        602: "line 602 nests arrays or objects too deeply; a row is one flat JSON object",
    }
    assert answer["notification_id"] == head(api)


@pytest.mark.parametrize("content_type", ["application/x-ndjson", "text/csv"])
def test_a_bulk_request_id_has_the_apis_length_limit(api: Api, content_type: str) -> None:
    longest, too_long = "r" * MAX_REQUEST_ID_LENGTH, "r" * 100_000
    if content_type == "text/csv":
        body = (
            "code,rated_capacity_ah,nominal_voltage_v,energy_kwh,mass_kg,request_id\n"
            f"{code(1)},150,100,15,110,{longest}\n{code(2)},150,100,15,110,{too_long}\n"
        )
        bad = 3
    else:
        body = jsonl(pack_body(1, request_id=longest), pack_body(2, request_id=too_long))
        bad = 2
    response = bulk(api, body, content_type)

    assert response.status_code == 200, response.text[:500]
    assert response.json()["stored"] == 1
    assert _refused(response.json()) == {bad: "request_id has 100,000 characters; at most 100 are allowed"}
    single = api.client.post(
        "/api/v1/batteries", json=pack_body(3, request_id=too_long), headers=api.auth("manufacturer")
    )
    assert single.status_code == 422  # the same limit as one production


def test_a_store_failing_part_way_is_a_problem_that_says_what_was_stored(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = api.service
    save, calls = service.save, {"n": 0}

    def fails_on_the_second_batch(*objs: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OperationalError("server closed the connection unexpectedly")
        return save(*objs, **kwargs)

    monkeypatch.setattr(service, "save", fails_on_the_second_batch)
    body = jsonl(*(pack_body(n) for n in range(1, 601)))

    failed = problem_of(bulk(api, body, "application/x-ndjson"), 503, "stopped at line 501")
    assert failed["type"] == "/problems/bulk-import-interrupted"
    assert (failed["stored"], failed["interrupted_at_line"], failed["rows"]) == (500, 501, 600)
    assert "500 rows counted as stored are kept" in failed["detail"]
    assert "send the same file again" in failed["detail"]

    monkeypatch.setattr(service, "save", save)
    again = bulk(api, body, "application/x-ndjson")
    assert again.status_code == 200, again.text[:500]
    assert (again.json()["stored"], again.json()["already_present"]) == (100, 500)


def test_an_unexpected_error_part_way_is_a_500_problem_with_the_summary(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = api.service
    save, calls = service.save, {"n": 0}

    def breaks_on_the_second_batch(*objs: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("a bug")
        return save(*objs, **kwargs)

    monkeypatch.setattr(service, "save", breaks_on_the_second_batch)
    response = bulk(api, jsonl(*(pack_body(n) for n in range(1, 601))), "application/x-ndjson")

    failed = problem_of(response, 500, "stopped at line 501")
    assert failed["stored"] == 500 and failed["interrupted_at_line"] == 501
    assert "a bug" not in failed["detail"]  # internals stay in the log


def test_the_cli_import_of_a_hostile_file_reports_each_row_and_writes_a_formula_safe_csv(
    sqlite_url: str, tmp_path: Path
) -> None:
    cast, _keys = cast_with_keys(sqlite_url)
    lines = [
        json.dumps(pack_body(1)).encode(),
        DEEP.encode(),  # 2: nesting
        json.dumps(pack_body(3, level=5)).encode(),  # 3: a number where text belongs
        json.dumps(pack_body(4)).encode()[:-1] + b', "chemistry": "\xff"}',  # 4: not UTF-8
        b'{"code": "' + b"3" * (MAX_LINE_CHARS + 1) + b'"}',  # 5: too long
        json.dumps(pack_body(6, code='=HYPERLINK("http://x")')).encode(),  # 6: refused, code echoed
        json.dumps(pack_body(7)).encode(),
    ]
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    refused_out = tmp_path / "refused.csv"

    completed = subprocess.run(
        [
            batterytrace_command(),
            "import",
            str(path),
            "--as",
            cast.manufacturer,
            "--refused-out",
            str(refused_out),
        ],
        env={**os.environ, "BATTERYTRACE_DATABASE_URL": sqlite_url, "COLUMNS": "200", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
    )

    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr, completed.stderr
    assert "7 rows: 2 stored" in completed.stdout and "5 refused" in completed.stdout
    with refused_out.open(encoding="utf-8", newline="") as written:
        refused = {int(r["line"]): r for r in csv.DictReader(written)}
    assert sorted(refused) == [2, 3, 4, 5, 6]
    assert "nests arrays or objects too deeply" in refused[2]["reason"]
    assert "not UTF-8" in refused[4]["reason"]
    assert refused[6]["code"] == '\'=HYPERLINK("http://x")'  # formula-safe in the spreadsheet
