"""Bulk production import: CSV and JSON-lines files stored in atomic batches, on both stores.

What a manufacturer relies on: every refused row is reported with its line number and the reason,
while the valid rows around it are stored; a file whose header is wrong stores nothing; a re-run
of the same file stores nothing twice; packs get linked to modules listed before them.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.utils import get_topic

from batterytrace.events.battery import Battery, ProductionSpec
from batterytrace.events.battery_code import make_battery_code
from batterytrace.events.errors import InvalidInput
from batterytrace.events.lifecycle import State
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.bulk_import import ImportReport, RefusedRow, import_file, import_text
from tests.utils.cast import NationalCast

DAY = date(2024, 7, 15)
PACK = {"rated_capacity_ah": 150, "nominal_voltage_v": 409.6, "energy_kwh": 61.4, "mass_kg": 380}
MODULE = {"rated_capacity_ah": 150, "nominal_voltage_v": 51.2, "energy_kwh": 7.7, "mass_kg": 45}
HEADER = "code,rated_capacity_ah,nominal_voltage_v,energy_kwh,mass_kg"


def pack(serial: int, manufacturer_code: str = "3CA") -> str:
    return make_battery_code(manufacturer_code, "P", "B", "12", "0A1B2C3", DAY, serial)


def module(serial: int) -> str:
    return make_battery_code("3CA", "M", "B", "12", "0A1B2C3", DAY, serial)


def pack_line(code: str) -> str:
    return f"{code},150,409.6,61.4,380"


def module_line(code: str) -> str:
    return f"{code},150,51.2,7.7,45"


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def jsonl(rows: list[dict[str, Any] | str]) -> list[str]:
    """JSON lines; a str is written as it is (to make a line invalid on purpose)."""
    return [row if isinstance(row, str) else json.dumps(row) for row in rows]


def produced_codes(app: BatteryTrace) -> list[str]:
    """Codes of every Produced event in the store, in notification order."""
    topic = get_topic(Battery.Produced)
    codes: list[str] = []
    start = 1
    while page := app.recorder.select_notifications(start=start, limit=1000, topics=[topic]):
        codes.extend(str(n.originator_id) for n in page)
        start = page[-1].id + 1
    return codes


def head(app: BatteryTrace) -> int:
    return app.recorder.max_notification_id() or 0


def refusals(report: ImportReport) -> list[tuple[int, str | None]]:
    return [(r.line, r.code) for r in report.refused]


def reason_on(report: ImportReport, line: int) -> str:
    [row] = [r for r in report.refused if r.line == line]
    return row.reason


# ------------------------------------------------------------------------------ valid files
def test_a_csv_file_stores_one_battery_per_row_with_its_declared_facts(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    codes = [pack(n) for n in range(1, 6)]
    path = write(
        tmp_path,
        "production.csv",
        [
            HEADER + ",level,chemistry,production_date,occurred_at,request_id",
            f"{pack_line(codes[0])},pack,B,2024-07-15,2024-07-15T09:30:00+08:00,req-1",
            f"{pack_line(codes[1])},PACK,lithium iron phosphate,,,",
            *[pack_line(c) + ",,,,," for c in codes[2:]],
        ],
    )

    report = import_file(app, cast.manufacturer, path)

    assert (report.rows, report.stored, report.already_present, report.refused_count) == (5, 5, 0, 0)
    assert report.batches == 1
    assert report.seconds > 0 and report.rate > 0
    assert produced_codes(app) == codes
    first = app.battery(codes[0])
    assert (first.level, first.battery_type, first.production_date) == ("pack", "B", "2024-07-15")
    assert (first.rated_capacity_ah, first.nominal_voltage_v, first.energy_kwh, first.mass_kg) == (
        150.0,
        409.6,
        61.4,
        380.0,
    )
    assert first.manufacturer_id == cast.manufacturer
    assert first.state == State.PRODUCED
    assert first.last_occurred_at == datetime(2024, 7, 15, 1, 30, tzinfo=UTC)
    assert (cast.manufacturer, "req-1") in first.request_ids


def test_a_json_lines_file_stores_one_battery_per_line_and_skips_blank_lines(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    codes = [pack(n) for n in range(1, 4)]
    lines = jsonl([{"code": codes[0], **PACK, "chemistry": "B"}, {"code": codes[1], **PACK}])
    lines += ["", "   ", json.dumps({"code": codes[2].lower(), **{k: str(v) for k, v in PACK.items()}})]
    path = write(tmp_path, "production.jsonl", lines)

    report = import_file(app, cast.manufacturer, path)

    assert (report.rows, report.stored, report.refused_count) == (3, 3, 0), report.refused
    assert produced_codes(app) == codes  # lower case is accepted and stored upper case
    assert app.battery(codes[2]).energy_kwh == 61.4  # numbers given as strings are numbers


def test_the_format_is_taken_from_the_suffix_or_given(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    as_json = write(tmp_path, "rows.ndjson", jsonl([{"code": pack(1), **PACK}]))
    as_csv_without_suffix = write(tmp_path, "rows.txt", [HEADER, pack_line(pack(2))])

    assert import_file(app, cast.manufacturer, as_json).stored == 1
    with pytest.raises(InvalidInput, match=r"cannot tell the format of 'rows\.txt'"):
        import_file(app, cast.manufacturer, as_csv_without_suffix)
    assert import_file(app, cast.manufacturer, as_csv_without_suffix, fmt="csv").stored == 1
    assert produced_codes(app) == [pack(1), pack(2)]


def test_a_csv_file_saved_by_a_spreadsheet_with_a_byte_order_mark_is_read(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    path = tmp_path / "excel.csv"
    path.write_text(f"{HEADER}\r\n{pack_line(pack(1))}\r\n", encoding="utf-8-sig")

    assert import_file(app, cast.manufacturer, path).stored == 1


def test_rows_given_as_text_are_imported_like_a_file(app: BatteryTrace, cast: NationalCast) -> None:
    report = import_text(app, cast.manufacturer, f"{HEADER}\n{pack_line(pack(1))}\n", "csv")

    assert report.stored == 1
    assert produced_codes(app) == [pack(1)]


# ------------------------------------------------------------------------------ refused rows
def test_refused_csv_rows_are_reported_by_line_and_reason_and_the_rest_of_the_batch_is_stored(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    bad_segment = pack(3)[:3] + "X" + pack(3)[4:]  # product type X does not exist
    foreign = pack(6, manufacturer_code="4BY")  # owned by the other manufacturer
    unowned = pack(7, manufacturer_code="7ZZ")  # owned by nobody
    path = write(
        tmp_path,
        "production.csv",
        [
            HEADER,  # line 1
            pack_line(pack(1)),  # 2: stored
            pack_line(bad_segment),  # 3: invalid code
            f"{pack(4)},150,four hundred,61.4,380",  # 4: not a number
            f"{pack(5)},150,409.6,61.4,",  # 5: mass missing
            pack_line(foreign),  # 6: not authorised
            f"{pack(1)},150,409.6,61.4,381",  # 7: line 2's code with different data
            pack_line(pack(8)),  # 8: stored
            f"{pack(9)},150,409.6,61.4,380,extra",  # 9: too many fields
            f"{pack(10)},150,409.6",  # 10: too few fields
            pack_line(unowned),  # 11: manufacturer code nobody owns
            f"{pack(12)},150,409.6,20,380",  # 12: energy does not match
            f"{pack(13)},-150,409.6,61.4,380",  # 13: negative capacity
            pack_line(pack(14)),  # 14: stored
        ],
    )

    report = import_file(app, cast.manufacturer, path)

    assert (report.rows, report.stored, report.refused_count, report.batches) == (13, 3, 10, 1)
    assert refusals(report) == [
        (3, bad_segment),
        (4, pack(4)),
        (5, pack(5)),
        (6, foreign),
        (7, pack(1)),
        (9, None),
        (10, pack(10)),
        (11, unowned),
        (12, pack(12)),
        (13, pack(13)),
    ]
    assert reason_on(report, 3).startswith(f"invalid battery code '{bad_segment}': product type 'X' at")
    assert "position 4" in reason_on(report, 3)
    assert reason_on(report, 4) == "nominal_voltage_v must be a number, got 'four hundred'"
    assert reason_on(report, 5) == "missing mass_kg"
    assert f"cannot produce {foreign}: manufacturer code 4BY is not one of yours" in reason_on(report, 6)
    assert "you own 3CA, 3CB" in reason_on(report, 6)
    assert cast.other_manufacturer not in reason_on(report, 6)  # who owns it is not the caller's to know
    assert reason_on(report, 7) == f"battery {pack(1)} is already on line 2 of this file with different data"
    assert reason_on(report, 9) == "line 9 has 6 fields, the header 5"
    assert reason_on(report, 10) == "missing energy_kwh, mass_kg"
    assert "manufacturer code 7ZZ is not one of yours" in reason_on(report, 11)
    assert reason_on(report, 12).startswith("energy_kwh 20 does not match rated capacity × nominal voltage")
    assert reason_on(report, 13) == "rated_capacity_ah must be a positive number, got -150.0"
    assert produced_codes(app) == [pack(1), pack(8), pack(14)]
    assert not app.exists(foreign)
    assert app.battery(pack(1)).mass_kg == 380.0


def test_refused_json_lines_are_reported_by_line_and_reason(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    lines = jsonl(
        [
            {"code": pack(1), **PACK},  # 1: stored
            '{"code": "' + pack(2) + '", "mass_kg": 380',  # 2: truncated JSON
            "",  # 3: blank, skipped
            {"code": pack(4), **PACK, "colour": "blue"},  # 4: unknown field
            '["' + pack(5) + '", 150]',  # 5: not an object
            {"code": pack(6), **{**PACK, "energy_kwh": None}},  # 6: energy missing
            {"code": pack(7), **{**PACK, "mass_kg": "heavy"}},  # 7: not a number
            {"code": pack(8)[:-1] + "X", **PACK},  # 8: bad serial
            {"code": pack(9, "4BY"), **PACK},  # 9: not authorised
            {"code": pack(1), **{**PACK, "mass_kg": 381}},  # 10: line 1's code, different data
            {"code": pack(11), **PACK, "components": "not-a-list"},  # 11: unknown component
            {"code": pack(12), **PACK, "components": 3},  # 12: components not a list
            {"code": pack(13), **PACK, "production_date": "15/07/2024"},  # 13: bad date
            {"code": pack(14), **PACK, "production_date": "2024-07-16"},  # 14: date differs from code
            {"code": pack(15), **PACK},  # 15: stored
        ]
    )
    path = write(tmp_path, "production.jsonl", lines)

    report = import_file(app, cast.manufacturer, path)

    assert (report.rows, report.stored, report.refused_count) == (14, 2, 12)
    assert [line for line, _ in refusals(report)] == [2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    assert reason_on(report, 2).startswith("line 2 is not valid JSON (")
    assert reason_on(report, 4).startswith("line 4 has unknown field(s) colour; known: code, ")
    assert reason_on(report, 5) == "line 5 must be a JSON object with the production fields"
    assert reason_on(report, 6) == "missing energy_kwh"
    assert reason_on(report, 7) == "mass_kg must be a number, got 'heavy'"
    assert "serial number" in reason_on(report, 8)
    assert "is not one of yours" in reason_on(report, 9)
    assert cast.other_manufacturer not in reason_on(report, 9)
    assert reason_on(report, 10) == f"battery {pack(1)} is already on line 1 of this file with different data"
    assert "invalid battery code 'NOT-A-LIST'" in reason_on(report, 11)
    assert reason_on(report, 12) == "components must be a list of codes (CSV: separated by ';')"
    assert reason_on(report, 13) == "production_date must be YYYY-MM-DD, got '15/07/2024'"
    assert reason_on(report, 14).startswith("production date 2024-07-16 does not match code")
    assert [code for line, code in refusals(report) if line in (2, 5)] == [None, None]
    assert produced_codes(app) == [pack(1), pack(15)]


def test_a_row_that_is_refused_in_a_later_batch_leaves_the_other_batches_stored(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    lines = [HEADER] + [pack_line(pack(n)) for n in range(1, 8)]
    lines[5] = f"{pack(5)},150,409.6,61.4,lots"  # line 6, in the second batch of three
    path = write(tmp_path, "production.csv", lines)

    report = import_file(app, cast.manufacturer, path, batch_size=3)

    assert report.refused == [RefusedRow(6, pack(5), "mass_kg must be a number, got 'lots'")]
    assert (report.stored, report.batches) == (6, 3)
    assert produced_codes(app) == [pack(n) for n in (1, 2, 3, 4, 6, 7)]


# ---------------------------------------------------------------------------- refused files
@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("code,rated_capacity_ah,nominal_voltage_v,energy_kwh", "missing column(s) mass_kg"),
        (HEADER + ",colour", "unknown column(s) colour"),
        ("serial;capacity;voltage", "missing column(s) code, rated_capacity_ah"),
        ("", "missing column(s) code, rated_capacity_ah, nominal_voltage_v, energy_kwh, mass_kg"),
    ],
)
def test_a_csv_file_with_a_bad_header_is_refused_before_anything_is_stored(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path, header: str, problem: str
) -> None:
    path = write(tmp_path, "production.csv", [header] + [pack_line(pack(n)) for n in range(1, 4)])
    before = head(app)

    with pytest.raises(InvalidInput, match="the CSV header has") as refused:
        import_file(app, cast.manufacturer, path, batch_size=1)

    assert problem in refused.value.message
    assert (
        "required: code, rated_capacity_ah, nominal_voltage_v, energy_kwh, mass_kg" in refused.value.message
    )
    assert head(app) == before
    assert produced_codes(app) == []


def test_a_missing_file_or_a_bad_batch_size_or_an_unknown_actor_is_refused(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    path = write(tmp_path, "production.csv", [HEADER, pack_line(pack(1))])

    with pytest.raises(InvalidInput, match=r"no such file: .*nowhere\.csv"):
        import_file(app, cast.manufacturer, tmp_path / "nowhere.csv")
    with pytest.raises(InvalidInput, match="the batch size must be 1 or more"):
        import_file(app, cast.manufacturer, path, batch_size=-1)
    with pytest.raises(InvalidInput, match="give --format"):
        import_file(app, cast.manufacturer, path, fmt="xlsx")
    assert produced_codes(app) == []


def test_a_batch_size_of_zero_is_refused(app: BatteryTrace, cast: NationalCast, tmp_path: Path) -> None:
    path = write(tmp_path, "production.csv", [HEADER, pack_line(pack(1))])

    with pytest.raises(InvalidInput, match="the batch size must be 1 or more"):
        import_file(app, cast.manufacturer, path, batch_size=0)
    assert produced_codes(app) == []


# ------------------------------------------------------------------------------- batch sizes
@pytest.mark.parametrize(("rows", "batch_size", "batches"), [(7, 3, 3), (6, 3, 2), (5, 1, 5), (5, 500, 1)])
def test_rows_are_stored_in_batches_of_the_given_size(
    app: BatteryTrace,
    cast: NationalCast,
    tmp_path: Path,
    rows: int,
    batch_size: int,
    batches: int,
) -> None:
    path = write(tmp_path, "production.csv", [HEADER] + [pack_line(pack(n)) for n in range(rows)])
    progress: list[int] = []

    report = import_file(app, cast.manufacturer, path, batch_size=batch_size, progress=progress.append)

    assert (report.stored, report.batches) == (rows, batches)
    assert progress == [batch_size] * (rows // batch_size) + (
        [rows % batch_size] if rows % batch_size else []
    )
    assert len(produced_codes(app)) == rows


def test_the_batch_size_defaults_to_the_settings(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    assert app.settings.import_batch_size == 500
    path = write(tmp_path, "production.csv", [HEADER] + [pack_line(pack(n)) for n in range(501)])

    report = import_file(app, cast.manufacturer, path)

    assert (report.stored, report.batches) == (501, 2)


def test_a_batch_of_refused_rows_only_stores_nothing_and_is_not_counted(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    lines = [HEADER, pack_line(pack(1)), pack_line(pack(2, "4BY")), pack_line(pack(3, "4BY"))]
    path = write(tmp_path, "production.csv", lines)

    report = import_file(app, cast.manufacturer, path, batch_size=2)

    assert (report.rows, report.stored, report.refused_count, report.batches) == (3, 1, 2, 1)


# ---------------------------------------------------------------------------------- re-runs
@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_re_running_the_same_file_stores_nothing_twice(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path, suffix: str
) -> None:
    codes = [pack(n) for n in range(12)]
    if suffix == "csv":
        path = write(tmp_path, "production.csv", [HEADER] + [pack_line(c) for c in codes])
    else:
        path = write(tmp_path, "production.jsonl", jsonl([{"code": c, **PACK} for c in codes]))
    first = import_file(app, cast.manufacturer, path, batch_size=5)
    after_first = head(app)

    again = import_file(app, cast.manufacturer, path, batch_size=5)

    assert (first.stored, first.already_present) == (12, 0)
    assert (again.rows, again.stored, again.already_present, again.refused_count) == (12, 0, 12, 0)
    assert again.batches == 3
    assert head(app) == after_first
    assert produced_codes(app) == codes


def test_a_re_run_after_a_partial_import_stores_only_the_rows_missing(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    codes = [pack(n) for n in range(10)]
    first_part = write(tmp_path, "first.csv", [HEADER] + [pack_line(c) for c in codes[:4]])
    whole = write(tmp_path, "whole.csv", [HEADER] + [pack_line(c) for c in codes])
    import_file(app, cast.manufacturer, first_part)

    report = import_file(app, cast.manufacturer, whole, batch_size=3)  # batch 2 is half stored

    assert (report.stored, report.already_present, report.refused_count) == (6, 4, 0)
    assert sorted(produced_codes(app)) == sorted(codes)


def test_a_re_run_with_one_row_changed_refuses_that_row_only(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    codes = [pack(n) for n in range(6)]
    lines = [HEADER] + [pack_line(c) for c in codes]
    import_file(app, cast.manufacturer, write(tmp_path, "production.csv", lines))
    lines[4] = f"{codes[3]},150,409.6,61.4,395"  # line 5: the mass was corrected afterwards
    changed = write(tmp_path, "changed.csv", lines)

    report = import_file(app, cast.manufacturer, changed, batch_size=4)

    assert (report.stored, report.already_present, report.refused_count) == (0, 5, 1)
    assert report.refused == [
        RefusedRow(
            5,
            codes[3],
            f"battery {codes[3]} is already recorded with different data (mass_kg); a code "
            "identifies one battery only",
        )
    ]  # the application's own answer to a taken code (compare_with_stored), said the same way
    assert app.battery(codes[3]).mass_kg == 380.0
    assert produced_codes(app) == codes


def test_a_row_already_produced_through_the_api_counts_as_already_present(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    app.produce(actor_id=cast.manufacturer, spec=ProductionSpec(code=pack(1), **PACK))
    path = write(tmp_path, "production.csv", [HEADER, pack_line(pack(1)), pack_line(pack(2))])

    report = import_file(app, cast.manufacturer, path)

    assert (report.stored, report.already_present, report.refused_count) == (1, 1, 0)


# ------------------------------------------------------------------------------- components
def assert_linked(app: BatteryTrace, pack_code: str, module_codes: list[str]) -> None:
    assert app.battery(pack_code).components == module_codes
    for code in module_codes:
        linked = app.battery(code)
        assert (linked.state, linked.pack) == (State.ASSEMBLED, pack_code)
        assert [type(e).__name__ for e in app.history(code)] == ["Produced", "AssembledInto"]
        assert app.history(code)[-1].actor_id == app.battery(pack_code).manufacturer_id


@pytest.mark.parametrize("batch_size", [500, 1])
def test_a_pack_is_linked_to_modules_on_earlier_rows_of_the_same_file(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path, batch_size: int
) -> None:
    modules = [module(1), module(2)]
    path = write(
        tmp_path,
        "production.csv",
        [
            HEADER + ",components",
            *[module_line(m) + "," for m in modules],
            f"{pack_line(pack(3))},{modules[0]};{modules[1]}",
        ],
    )

    report = import_file(app, cast.manufacturer, path, batch_size=batch_size)

    assert (report.stored, report.refused_count) == (3, 0), report.refused
    assert_linked(app, pack(3), modules)


def test_a_pack_is_linked_to_modules_already_stored(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    modules = [module(1), module(2)]
    for code in modules:
        app.produce(actor_id=cast.manufacturer, spec=ProductionSpec(code=code, **MODULE))
    path = write(
        tmp_path,
        "production.jsonl",
        jsonl([{"code": pack(3), **PACK, "components": modules}, {"code": pack(4), **PACK}]),
    )

    report = import_file(app, cast.manufacturer, path)

    assert (report.stored, report.refused_count) == (2, 0), report.refused
    assert_linked(app, pack(3), modules)


def test_a_pack_whose_components_are_unknown_or_already_used_is_refused(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    unknown = module(9)
    path = write(
        tmp_path,
        "production.csv",
        [
            HEADER + ",components",
            module_line(module(1)) + ",",  # 2
            f"{pack_line(pack(3))},{module(1)}",  # 3: takes module 1
            f"{pack_line(pack(4))},{module(1)}",  # 4: module 1 is in pack 3 already
            f"{pack_line(pack(5))},{unknown}",  # 5: never produced
            f"{pack_line(pack(6))},{pack(3)}",  # 6: a pack inside a pack
        ],
    )

    report = import_file(app, cast.manufacturer, path)

    assert [line for line, _ in refusals(report)] == [4, 5, 6]
    assert reason_on(report, 4).startswith(f"battery {module(1)} is assembled: cannot assemble into a pack")
    assert reason_on(report, 5) == f"battery {unknown} is not registered; record its production first"
    assert reason_on(report, 6).startswith(f"a pack cannot contain {pack(3)}, a pack")
    assert_linked(app, pack(3), [module(1)])
    assert produced_codes(app) == [module(1), pack(3)]


def test_re_running_a_file_whose_packs_and_modules_share_a_batch_stores_nothing_twice(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    lines = [HEADER + ",components", module_line(module(1)) + ",", f"{pack_line(pack(2))},{module(1)}"]
    path = write(tmp_path, "production.csv", lines)
    import_file(app, cast.manufacturer, path)
    stored = head(app)

    report = import_file(app, cast.manufacturer, path)

    assert (report.stored, report.already_present, report.refused_count) == (0, 2, 0), report.refused
    assert head(app) == stored


def test_re_running_a_file_whose_packs_use_modules_of_an_earlier_batch_stores_nothing_twice(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path
) -> None:
    lines = [
        HEADER + ",components",
        module_line(module(1)) + ",",
        module_line(module(2)) + ",",
        f"{pack_line(pack(3))},{module(1)};{module(2)}",
    ]
    path = write(tmp_path, "production.csv", lines)
    first = import_file(app, cast.manufacturer, path, batch_size=2)
    assert (first.stored, first.refused_count) == (3, 0)

    again = import_file(app, cast.manufacturer, path, batch_size=2)

    assert again.refused == []
    assert (again.stored, again.already_present) == (0, 3)


@pytest.mark.parametrize("batch_size", [1, 2, 500])
def test_a_repeated_row_counts_as_already_present_whatever_the_batch_size(
    app: BatteryTrace, cast: NationalCast, tmp_path: Path, batch_size: int
) -> None:
    """A row repeated unchanged is a repeat, not an error; the same code with different data is
    refused, whether the first occurrence is in the same batch or an earlier one."""
    lines = [HEADER] + [pack_line(pack(n)) for n in (1, 2, 1)] + [f"{pack(2)},150,409.6,61.4,381"]
    path = write(tmp_path, "production.csv", lines)

    report = import_file(app, cast.manufacturer, path, batch_size=batch_size)

    assert (report.stored, report.already_present, report.refused_count) == (2, 1, 1)
    assert [(r.line, r.code) for r in report.refused] == [(5, pack(2))]
    assert "different data" in report.refused[0].reason
