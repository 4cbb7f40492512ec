"""Bulk import of hostile files (issue 10, finding 8 and the bulk part of 18), on both stores.

Batches before a bad row are committed, so a bad row must never end the import with an exception:
the importer would have stored rows that nobody is told about. Every malformed line or value is that
row's refusal with its line number and reason; a failure of the store itself ends the import with a
report of what was stored and where it stopped. Fields keep the single production's limits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from batterytrace.events.battery import Battery
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.bulk_import import MAX_REASON_CHARS, import_file, import_text
from batterytrace.trace.production_rows import MAX_LINE_CHARS, MAX_REQUEST_ID_LENGTH
from tests.integration.test_bulk_import import (
    HEADER,
    PACK,
    jsonl,
    pack,
    pack_line,
    produced_codes,
    reason_on,
    refusals,
    write,
)
from tests.utils.cast import NationalCast

DEEP = "[" * 100_000


def row(serial: int, **fields: Any) -> dict[str, Any]:
    return {"code": pack(serial), **PACK, **fields}


# ------------------------------------------------------------------- malformed values and lines
def test_a_deeply_nested_line_after_a_full_batch_is_refused_and_the_rest_is_stored(
    app: BatteryTrace, cast: NationalCast
) -> None:
    """The probe's case: 600 rows, the 600th a line of 100,000 '['; the first 500 were stored and
    the import ended in an exception. Now line 600 is refused and the 599 others are stored."""
    lines = [*jsonl([row(n) for n in range(1, 600)]), DEEP]

    report = import_text(app, cast.manufacturer, "\n".join(lines) + "\n", "jsonl")

    assert (report.rows, report.stored, report.refused_count, report.batches) == (600, 599, 1, 2)
    assert report.interrupted_at is None
    assert (
        reason_on(report, 600) == "line 600 nests arrays or objects too deeply; a row is one flat JSON object"
    )
    assert len(produced_codes(app)) == 599


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"level": 5}, "level must be text (pack, module or cell), got 5"),
        ({"level": {"x": 1}}, "level must be text (pack, module or cell), got {'x': 1}"),
        ({"chemistry": 7.5}, "chemistry must be text (e.g. LFP), got 7.5"),
        ({"chemistry": ["LFP"]}, "chemistry must be text (e.g. LFP), got ['LFP']"),
        ({"code": 123}, "code must be text, got 123"),
        ({"request_id": 42}, "request_id must be text (your id for this row), got 42"),
        ({"production_date": 20240715}, "production_date must be text (YYYY-MM-DD), got 20240715"),
        ({"occurred_at": {"at": 1}}, "occurred_at must be text (an ISO 8601 time), got {'at': 1}"),
        ({"components": [{"code": 1}]}, "components must be battery codes (text), got {'code': 1}"),
        ({"components": [[[]]]}, "components must be battery codes (text), got [[]]"),
        ({"mass_kg": True}, "mass_kg must be a number, got True"),
        ({"mass_kg": {"kg": 380}}, "mass_kg must be a number, got {'kg': 380}"),
        ({"mass_kg": int("9" * 400)}, "mass_kg must be a number, got 9999"),
        ({"mass_kg": 1e400}, "mass_kg must be a positive number, got inf"),
        ({"request_id": "\udc80"}, "request_id holds an unpaired surrogate escape"),
        ({"chemistry": "L" * 61}, "chemistry has 61 characters; at most 60 are allowed"),
        ({"code": "3" * 65}, "code has 65 characters; at most 64 are allowed"),
    ],
)
def test_a_value_of_the_wrong_type_or_size_refuses_its_row_only(
    app: BatteryTrace, cast: NationalCast, fields: dict[str, Any], reason: str
) -> None:
    lines = jsonl([row(1), row(2, **fields), row(3)])

    report = import_text(app, cast.manufacturer, "\n".join(lines) + "\n", "jsonl")

    assert report.interrupted_at is None
    assert [line for line, _ in refusals(report)] == [2]
    assert reason_on(report, 2).startswith(reason)
    assert produced_codes(app) == [pack(1), pack(3)]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("[1, 2]", "line 2 must be a JSON object with the production fields"),
        ('"a string"', "line 2 must be a JSON object with the production fields"),
        ("null", "line 2 must be a JSON object with the production fields"),
        ('{"code": ' + "9" * 5000 + "}", "line 2 is not valid JSON (Exceeds the limit"),
        ("{" * 50_000, "line 2 is not valid JSON ("),
        ('{"a": ' * 50_000, "line 2 nests arrays or objects too deeply"),
        ('{"level": ' + DEEP + "}", "line 2 nests arrays or objects too deeply"),
        ("\x00\x01\x02", "line 2 is not valid JSON ("),
    ],
)
def test_a_line_that_is_not_a_row_object_is_refused_with_its_number(
    app: BatteryTrace, cast: NationalCast, line: str, reason: str
) -> None:
    text = "\n".join([json.dumps(row(1)), line, json.dumps(row(3))]) + "\n"

    report = import_text(app, cast.manufacturer, text, "jsonl")

    assert report.interrupted_at is None
    assert [line for line, _ in refusals(report)] == [2]
    assert reason_on(report, 2).startswith(reason)
    assert len(reason_on(report, 2)) <= MAX_REASON_CHARS
    assert produced_codes(app) == [pack(1), pack(3)]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_overlong_line_is_refused_and_the_lines_after_it_keep_their_numbers(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path, fmt: str
) -> None:
    huge_code = "3" * (MAX_LINE_CHARS + 10)
    if fmt == "csv":
        lines = [HEADER, pack_line(pack(1)), pack_line(huge_code), pack_line(pack(3))]
        bad, last = 3, 4
    else:
        lines = jsonl([row(1), {"code": huge_code, **PACK}, row(3)])
        bad, last = 2, 3
    path = write(tmp_path, f"production.{fmt}", lines)

    report = import_file(app, cast.manufacturer, path)

    assert refusals(report) == [(bad, None)]
    assert (
        reason_on(report, bad)
        == f"line {bad} is longer than {MAX_LINE_CHARS:,} characters; one production a line"
    )
    assert (report.rows, report.stored) == (3, 2)
    assert produced_codes(app) == [pack(1), pack(3)]
    assert not [r for r in report.refused if r.line == last]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_line_that_is_not_utf8_is_refused_and_the_others_are_stored(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path, fmt: str
) -> None:
    if fmt == "csv":
        lines = [HEADER.encode(), pack_line(pack(1)).encode(), pack_line(pack(2)).encode() + b"\xff\xfe"]
        lines.append(pack_line(pack(3)).encode())
        bad = 3
    else:
        lines = [json.dumps(row(1)).encode(), json.dumps(row(2)).encode()[:-1] + b', "level": "\xc3"}']
        lines.append(json.dumps(row(3)).encode())
        bad = 2
    path = tmp_path / f"production.{fmt}"
    path.write_bytes(b"\n".join(lines) + b"\n")

    report = import_file(app, cast.manufacturer, path)

    assert [line for line, _ in refusals(report)] == [bad]
    assert reason_on(report, bad).startswith(f"line {bad} is not UTF-8 text (a bad byte at column ")
    assert produced_codes(app) == [pack(1), pack(3)]


def test_a_refusal_quoting_a_huge_value_is_kept_short(app: BatteryTrace, cast: NationalCast) -> None:
    lines = jsonl([row(1, components=["X" * 60] + ["Y"] * 10)])

    report = import_text(app, cast.manufacturer, "\n".join(lines) + "\n", "jsonl")

    assert report.refused_count == 1 and len(report.refused[0].reason) <= MAX_REASON_CHARS


def test_an_unforeseen_error_in_the_row_rule_refuses_that_row_only(
    app: BatteryTrace, cast: NationalCast, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backstop for a bug in the checks: whatever a row makes the rule raise, it is that row's."""
    produce = Battery.produce.__func__  # type: ignore[attr-defined]

    def flaky(cls: type[Battery], spec: Any, **kwargs: Any) -> Battery:
        if spec.code == pack(2):
            raise AttributeError("'int' object has no attribute 'strip'")
        return produce(cls, spec, **kwargs)

    monkeypatch.setattr(Battery, "produce", classmethod(flaky))
    lines = jsonl([row(1), row(2), row(3)])

    report = import_text(app, cast.manufacturer, "\n".join(lines) + "\n", "jsonl")

    assert refusals(report) == [(2, pack(2))]
    assert reason_on(report, 2) == "cannot be read as a production (AttributeError)"
    assert produced_codes(app) == [pack(1), pack(3)]


# ------------------------------------------------------------------------- store failing part-way
def test_a_store_failure_after_committed_batches_reports_what_was_stored(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saves = {"count": 0}
    save = app.save

    def failing_second_time(*objs: Any, **kwargs: Any) -> Any:
        saves["count"] += 1
        if saves["count"] == 2:
            raise OperationalError("server closed the connection unexpectedly")
        return save(*objs, **kwargs)

    monkeypatch.setattr(app, "save", failing_second_time)
    lines = jsonl([row(n) for n in range(1, 8)])

    path = write(tmp_path, "production.jsonl", lines)

    report = import_file(app, cast.manufacturer, path, batch_size=3)

    assert (report.stored, report.interrupted_at) == (3, 4)
    assert report.interruption is not None
    assert report.interruption.startswith("the import stopped at line 4: the database failed; the 3 rows")
    assert "send the same file again" in report.interruption
    assert produced_codes(app) == [pack(1), pack(2), pack(3)]

    monkeypatch.setattr(app, "save", save)  # the store is back: the same file finishes the import
    again = import_file(app, cast.manufacturer, path, batch_size=3)
    assert (again.stored, again.already_present, again.interrupted_at) == (4, 3, None)
    assert produced_codes(app) == [pack(n) for n in range(1, 8)]


# ------------------------------------------------------------------------ request id length (18)
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_request_id_has_the_apis_length_limit(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path, fmt: str
) -> None:
    longest, too_long = "r" * MAX_REQUEST_ID_LENGTH, "r" * 100_000
    if fmt == "csv":
        lines = [
            HEADER + ",request_id",
            f"{pack_line(pack(1))},{longest}",
            f"{pack_line(pack(2))},{too_long}",
        ]
        bad = 3
    else:
        lines = jsonl([row(1, request_id=longest), row(2, request_id=too_long)])
        bad = 2
    path = write(tmp_path, f"production.{fmt}", lines)

    report = import_file(app, cast.manufacturer, path)

    assert refusals(report) == [(bad, pack(2))]
    assert reason_on(report, bad) == "request_id has 100,000 characters; at most 100 are allowed"
    assert produced_codes(app) == [pack(1)]
    assert longest in repr(app.battery(pack(1)).request_ids)  # stored with the production
