"""The read side through the real CLI: ``projections`` and ``report`` on a SQLite demo store.

One store per module: ``batterytrace demo --batteries 300 --seed 5`` (about 1,900 events), read
by child processes configured by BATTERYTRACE_DATABASE_URL only, as users run them:

- ``projections status`` (four views; lagging before the first rebuild, lag 0 after it) and
  ``projections rebuild [VIEW]``;
- every ``report`` in table, CSV (parsed with the csv module, header first) and JSON, agreeing
  with each other; the filters (--manufacturer, --region, --since/--until, --limit), and invalid
  values refused with one line on stderr;
- ``show CODE --format json`` reads the lifecycle view;
- ``projections run`` in the background keeps the views current while ``retire`` and ``collect``
  are recorded, and stops with exit 0 on SIGTERM.

The commands that only read run a few at a time in parallel to keep the module quick.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from batterytrace.events.base import CHINA_STANDARD_TIME
from tests.utils.server import batterytrace_command

FORMATS = ("table", "csv", "json")
REPORTS = ("network", "regions", "flows", "monthly", "swaps", "overdue", "compliance")
# The first column of each report's table (some tables show a chosen subset of the columns).
TABLE_FIRST_COLUMN = {
    "network": "id",
    "regions": "region_code",
    "flows": "source_kind",
    "monthly": "month",
    "swaps": "month",
    "overdue": "code",
    "compliance": "kind",
}
EXAMPLE_ROW = re.compile(r"^│ (\w+)\s+│ (\S+)\s+│$", re.MULTILINE)
PARALLEL = 3


@dataclass
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def csv(self) -> tuple[list[str], list[dict[str, str]]]:
        reader = csv.DictReader(io.StringIO(self.stdout))
        rows = list(reader)
        return list(reader.fieldnames or []), rows

    def __str__(self) -> str:
        return f"$ batterytrace {' '.join(self.args)}\n[exit {self.returncode}]\n{self.stdout}{self.stderr}"


@dataclass
class Cli:
    database_url: str
    cwd: Path
    runs: list[Result] = field(default_factory=list)

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATTERYTRACE_")}
        env.update(
            BATTERYTRACE_DATABASE_URL=self.database_url, COLUMNS="200", NO_COLOR="1", PYTHONIOENCODING="utf-8"
        )
        env.update(overrides)
        return env

    def run(self, *args: str, **env: str) -> Result:
        completed = subprocess.run(
            [batterytrace_command(), *args],
            env=self.env(**env),
            cwd=self.cwd,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        result = Result(args, completed.returncode, completed.stdout, completed.stderr)
        self.runs.append(result)
        return result

    def ok(self, *args: str, **env: str) -> Result:
        result = self.run(*args, **env)
        assert result.returncode == 0, str(result)
        assert "Traceback" not in result.stderr, str(result)
        return result

    def many(self, commands: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], Result]:
        """Run read-only commands a few at a time; each must succeed."""
        commands = list(commands)
        with ThreadPoolExecutor(PARALLEL) as pool:
            return dict(zip(commands, pool.map(lambda args: self.ok(*args), commands), strict=True))

    def refused(self, *args: str) -> str:
        """A command that must be refused: exit 1, one line of error on stderr (in a narrow
        terminal, so the line is not wrapped), nothing on stdout, no traceback."""
        result = self.run(*args, COLUMNS="40")
        assert result.returncode == 1, str(result)
        assert "Traceback" not in result.stderr, str(result)
        assert len(result.stderr.splitlines()) == 1, str(result)
        assert result.stderr.startswith("error: "), str(result)
        assert result.stdout == "", str(result)
        return result.stderr.strip()


@dataclass
class Demo:
    cli: Cli
    path: Path
    examples: dict[str, str]
    actors: dict[str, str]
    head: int
    status_before: list[dict[str, Any]]
    rebuilt: Result
    status_after: list[dict[str, Any]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    folder = tmp_path_factory.mktemp("reports")
    path = folder / "demo.db"
    cli = Cli(f"sqlite:///{path}", folder)
    generated = cli.ok("demo", "--batteries", "300", "--seed", "5", "--no-views")  # rebuilt below
    table = dict(EXAMPLE_ROW.findall(generated.stdout))
    examples = {k: v for k, v in table.items() if not re.fullmatch(r"[0-9A-Z]{18}", v)}
    actors = {k: v for k, v in table.items() if re.fullmatch(r"[0-9A-Z]{18}", v)}
    assert {"installed", "recycled", "second_life_product", "overdue"} <= set(examples), generated.stdout
    head = int(re.search(r"(\d+) events", generated.stdout).group(1))  # type: ignore[union-attr]
    before = cli.ok("projections", "status", "--format", "json").json()
    rebuilt = cli.ok("projections", "rebuild")
    after = cli.ok("projections", "status", "--format", "json").json()
    return Demo(cli, path, examples, actors, head, before, rebuilt, after)


@pytest.fixture(scope="module")
def reports(demo: Demo) -> dict[tuple[str, ...], Result]:
    """Every report in every format, after the rebuild."""
    commands = [("report", name, "--format", fmt) for name in REPORTS for fmt in FORMATS]
    commands += [("report", "lifecycle", demo.examples["recycled"], "--format", fmt) for fmt in FORMATS]
    return demo.cli.many(commands)


def manufacturer_of_most(rows: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        if row.get("manufacturer_id"):
            counts[row["manufacturer_id"]] = counts.get(row["manufacturer_id"], 0) + 1
    return max(counts, key=lambda k: counts[k])


def cst_day(moment: str) -> date:
    return datetime.fromisoformat(moment).astimezone(CHINA_STANDARD_TIME).date()


# -------------------------------------------------------------------------------- projections
VIEWS = ("lifecycle", "network", "reports", "ledger")  # as `projections status` lists them


def test_status_lists_the_four_views_lagging_until_the_first_rebuild_then_none(demo: Demo) -> None:
    assert demo.status_before == [
        {"view": view, "position": 0, "head": demo.head, "lag": demo.head} for view in VIEWS
    ]
    assert demo.status_after == [
        {"view": view, "position": demo.head, "head": demo.head, "lag": 0} for view in VIEWS
    ]
    assert f"rebuilt {', '.join(VIEWS)}: {4 * demo.head} events applied" in demo.rebuilt.stdout
    table = demo.cli.ok("projections", "status").stdout
    for view in VIEWS:
        assert re.search(rf"│ {view}\s+│ {demo.head}\s+│ {demo.head}\s+│ 0\s+│", table), table


def test_rebuilding_one_view_rebuilds_it_alone_and_it_reads_the_same(demo: Demo) -> None:
    network_before = demo.cli.ok("report", "network", "--format", "json").json()
    monthly_before = demo.cli.ok("report", "monthly", "--format", "json").json()

    rebuilt = demo.cli.ok("projections", "rebuild", "network")

    assert f"rebuilt network: {demo.head} events applied" in rebuilt.stdout
    status = demo.cli.ok("projections", "status", "-f", "json").json()
    assert [(s["view"], s["lag"]) for s in status] == [(view, 0) for view in VIEWS]
    assert demo.cli.ok("report", "network", "--format", "json").json() == network_before
    assert demo.cli.ok("report", "monthly", "--format", "json").json() == monthly_before


def test_rebuilding_an_unknown_view_is_refused_with_one_line(demo: Demo) -> None:
    assert demo.cli.refused("projections", "rebuild", "nonsense").startswith("error: unknown view 'nonsense'")


# ------------------------------------------------------------------------------------ reports
@pytest.mark.parametrize("name", REPORTS)
def test_every_report_prints_a_table_csv_with_a_header_and_json_that_agree(
    name: str, reports: dict[tuple[str, ...], Result]
) -> None:
    as_json = reports[("report", name, "--format", "json")].json()
    header, rows = reports[("report", name, "--format", "csv")].csv()
    table = reports[("report", name, "--format", "table")].stdout

    assert isinstance(as_json, list) and as_json, name
    assert header == list(as_json[0]), name
    assert len(rows) == len(as_json), name
    key = header[0]
    assert [r[key] for r in rows] == ["" if j[key] is None else str(j[key]) for j in as_json], name
    lines = table.splitlines()
    assert name in lines[0] and "(no rows)" not in table, table[:500]
    first = TABLE_FIRST_COLUMN[name]
    assert re.search(rf"┃ {first}\b", table), table[:1000]
    value = str(as_json[0][first])[:6]  # cells may be cut short (…) to fit the width
    assert any(line.startswith(f"│ {value}") for line in lines), (name, value, table[:1000])


def test_the_reports_hold_the_demos_planted_cases(demo: Demo, reports: dict[tuple[str, ...], Result]) -> None:
    overdue = reports[("report", "overdue", "--format", "json")].json()
    assert demo.examples["overdue"] in {r["code"] for r in overdue}
    assert all(r["days_since_retired"] > 90 for r in overdue)
    compliance = reports[("report", "compliance", "--format", "json")].json()
    kinds = {r["kind"] for r in compliance}
    assert {"non_compliant_handover", "backwards_date", "outlet_over_capacity"} <= kinds
    non_compliant = {r["code"] for r in compliance if r["kind"] == "non_compliant_handover"}
    assert demo.examples["non_compliant_handover"] in non_compliant
    over = [r for r in compliance if r["kind"] == "outlet_over_capacity"]
    assert [r["collection_point_id"] for r in over] == [demo.examples["over_capacity_outlet"]]
    network = {r["id"]: r for r in reports[("report", "network", "--format", "json")].json()}
    assert network[demo.examples["over_capacity_outlet"]]["over_capacity"] is True
    monthly = reports[("report", "monthly", "--format", "json")].json()
    assert sum(r["produced"] for r in monthly) >= 300
    rates = [r["recycling_rate"] for r in monthly if r["recycling_rate"] is not None]
    assert rates and all(0 <= rate <= 1 for rate in rates)  # a cohort share


def test_the_lifecycle_report_prints_one_battery_in_each_format(
    demo: Demo, reports: dict[tuple[str, ...], Result]
) -> None:
    code = demo.examples["recycled"]
    document = reports[("report", "lifecycle", code, "--format", "json")].json()
    assert document["battery"]["code"] == code and document["battery"]["state"] == "recycled"
    header, rows = reports[("report", "lifecycle", code, "--format", "csv")].csv()
    assert header[:4] == ["code", "version", "position", "event"]
    assert [r["event"] for r in rows] == [e["event"] for e in document["timeline"]]
    assert rows[-1]["event"] == "Recycled"
    assert code in reports[("report", "lifecycle", code, "--format", "table")].stdout


def test_nested_values_in_csv_are_json(demo: Demo, reports: dict[tuple[str, ...], Result]) -> None:
    _, rows = reports[("report", "lifecycle", demo.examples["recycled"], "--format", "csv")].csv()
    for row in rows:
        assert isinstance(json.loads(row["details"]), dict)


# ------------------------------------------------------------------------------------ filters
def test_filters_narrow_each_report(demo: Demo, reports: dict[tuple[str, ...], Result]) -> None:
    monthly_all = reports[("report", "monthly", "--format", "json")].json()
    overdue_all = reports[("report", "overdue", "--format", "json")].json()
    compliance_all = reports[("report", "compliance", "--format", "json")].json()
    network_all = reports[("report", "network", "--format", "json")].json()
    flows_all = reports[("report", "flows", "--format", "json")].json()
    maker = manufacturer_of_most(monthly_all)
    late_maker = manufacturer_of_most(overdue_all)
    findings_maker = manufacturer_of_most(compliance_all)
    # A window of one day around a real finding, so the date filter has something to keep.
    finding_day = cst_day(next(r["occurred_at"] for r in compliance_all if r["occurred_at"]))
    point_region = {p["id"]: p["division_code"] for p in network_all}
    commands = {
        "monthly maker": ("report", "monthly", "--manufacturer", maker, "-f", "json"),
        "monthly maker lower": ("report", "monthly", "--manufacturer", f" {maker.lower()} ", "-f", "json"),
        "monthly dates": (
            "report",
            "monthly",
            "--since",
            "2020-01-15",
            "--until",
            "2021-06-30",
            "-f",
            "json",
        ),
        "monthly limit": ("report", "monthly", "--limit", "3", "-f", "json"),
        "overdue maker": ("report", "overdue", "--manufacturer", late_maker, "-f", "json"),
        "overdue limit": ("report", "overdue", "--limit", "1", "-f", "json"),
        "compliance maker": ("report", "compliance", "--manufacturer", findings_maker, "-f", "json"),
        "compliance dates": (
            "report",
            "compliance",
            "--since",
            finding_day.isoformat(),
            "--until",
            finding_day.isoformat(),
            "-f",
            "json",
        ),
        "compliance kind": ("report", "compliance", "--kind", "non_compliant_handover", "-f", "json"),
        "network region": ("report", "network", "--region", "44", "-f", "json"),
        "network region csv": ("report", "network", "--region", "44", "-f", "csv"),
        "network limit": ("report", "network", "--limit", "5", "-f", "json"),
        "regions region": ("report", "regions", "--region", "44", "-f", "json"),
        "prefectures": ("report", "regions", "--level", "prefecture", "--region", "44", "-f", "json"),
        "flows region": ("report", "flows", "--region", "44", "-f", "json"),
        "flows limit": ("report", "flows", "--limit", "2", "-f", "json"),
    }
    seen = demo.cli.many(commands.values())
    got = {label: seen[args] for label, args in commands.items()}

    monthly = got["monthly maker"].json()
    assert monthly and {r["manufacturer_id"] for r in monthly} == {maker} and len(monthly) < len(monthly_all)
    assert monthly == [r for r in monthly_all if r["manufacturer_id"] == maker]
    assert got["monthly maker lower"].json() == monthly
    months = {r["month"] for r in got["monthly dates"].json()}
    assert months and min(months) >= "2020-01" and max(months) <= "2021-06"
    assert months == {r["month"] for r in monthly_all if "2020-01" <= r["month"] <= "2021-06"}
    assert got["monthly limit"].json() == monthly_all[:3]

    overdue = got["overdue maker"].json()
    assert overdue and {r["manufacturer_id"] for r in overdue} == {late_maker}
    assert got["overdue limit"].json() == overdue_all[:1]

    findings = [r for r in got["compliance maker"].json() if r["kind"] != "outlet_over_capacity"]
    assert findings and {r["manufacturer_id"] for r in findings} == {findings_maker}
    dated = [r for r in got["compliance dates"].json() if r["occurred_at"] is not None]
    assert dated and all(cst_day(r["occurred_at"]) == finding_day for r in dated)
    kinds = {r["kind"] for r in got["compliance kind"].json()}
    assert kinds == {"non_compliant_handover"}
    assert len(got["compliance kind"].json()) == sum(
        r["kind"] == "non_compliant_handover" for r in compliance_all
    )

    in_44 = got["network region"].json()
    assert in_44 and all(r["division_code"].startswith("44") for r in in_44)
    assert len(in_44) == sum(p["division_code"].startswith("44") for p in network_all)
    _, csv_rows = got["network region csv"].csv()
    assert [r["id"] for r in csv_rows] == [r["id"] for r in in_44]
    assert got["network limit"].json() == network_all[:5]
    assert [r["region_code"] for r in got["regions region"].json()] == ["440000"]
    prefectures = got["prefectures"].json()
    assert len(prefectures) > 1 and all(r["region_code"].startswith("44") for r in prefectures)
    flows = got["flows region"].json()
    assert all(r["source_kind"] == "collection_point" for r in flows)
    assert all(point_region[r["source_id"]].startswith("44") for r in flows)
    assert got["flows limit"].json() == flows_all[:2]


INVALID = {
    "region not digits": (("report", "network", "--region", "abc"), "--region 'abc'"),
    "region one digit": (("report", "regions", "--region", "4"), "--region '4'"),
    "region five digits": (("report", "compliance", "--region", "44030"), "--region '44030'"),
    "since not a date": (("report", "monthly", "--since", "2025-13-01"), "--since '2025-13-01'"),
    "until not a date": (("report", "compliance", "--until", "yesterday"), "--until 'yesterday'"),
    "format": (("report", "flows", "--format", "xml"), "--format 'xml'"),
    "level": (("report", "regions", "--level", "city"), "--level 'city'"),
    "unknown battery": (("report", "lifecycle", "3CAPB120A1B2C3R7F0000099"), "3CAPB120A1B2C3R7F0000099"),
}


@pytest.mark.parametrize("case", INVALID)
def test_an_invalid_filter_value_is_refused_with_one_line(case: str, demo: Demo) -> None:
    args, mentioned = INVALID[case]
    assert mentioned in demo.cli.refused(*args)


def test_a_limit_that_is_not_a_number_is_a_usage_error(demo: Demo) -> None:
    result = demo.cli.run("report", "monthly", "--limit", "abc")
    assert result.returncode == 2, str(result)
    assert "Traceback" not in result.stderr, str(result)
    assert "Invalid value for '--limit'" in result.stderr, str(result)
    assert result.stdout == ""


ACCEPTED_BUT_INVALID = {
    "negative limit": (
        ("report", "monthly", "--limit", "-1"),
        "views.py:32 LimitOption has no min: --limit -1 lists every row on SQLite and crashes with a "
        "traceback on PostgreSQL (LIMIT must not be negative); fix: typer.Option(min=0) or refuse "
        "in _filters",
    ),
    "negative days": (
        ("report", "overdue", "--days", "-5"),
        "views.py:250 (report_overdue): --days -5 is accepted and lists batteries retired 'more than -5 "
        "days ago'; fix: typer.Option(min=1)",
    ),
    "unknown kind": (
        ("report", "compliance", "--kind", "bogus"),
        "views.py:271-284 (report_compliance): an unknown --kind silently gives an empty report; fix: check "
        "it against the four kinds",
    ),
}


@pytest.mark.parametrize(
    "args",
    [pytest.param(args, id=case) for case, (args, _why) in ACCEPTED_BUT_INVALID.items()],
)
def test_other_invalid_filter_values_are_refused_too(args: tuple[str, ...], demo: Demo) -> None:
    demo.cli.refused(*args)


def test_compliance_kind_and_limit_together_give_the_first_findings_of_that_kind(demo: Demo) -> None:
    every = demo.cli.ok("report", "compliance", "--kind", "non_compliant_handover", "-f", "json").json()
    limited = demo.cli.ok(
        "report", "compliance", "--kind", "non_compliant_handover", "--limit", "2", "-f", "json"
    ).json()
    assert len(every) >= 2
    assert limited == every[:2]


def test_compliance_limit_is_an_upper_bound(demo: Demo) -> None:
    assert len(demo.cli.ok("report", "compliance", "--limit", "1", "-f", "json").json()) <= 1


def test_a_six_digit_region_ending_in_zero_selects_that_division_only(demo: Demo) -> None:
    """659010 (胡杨河市) once became the prefix 65901 and matched 659011 and 659012 too."""
    rows = demo.cli.ok("report", "network", "--region", "659010", "-f", "json").json()
    assert rows
    assert {r["division_code"] for r in rows} == {"659010"}


def test_the_demo_reports_most_events_on_time(reports: dict[tuple[str, ...], Result], demo: Demo) -> None:
    compliance = reports[("report", "compliance", "--format", "json")].json()
    late = [r for r in compliance if r["kind"] == "late_report"]
    assert len(late) < demo.head * 0.1, f"{len(late)} late reports among {demo.head} events"


# --------------------------------------------------------------------------------------- show
def test_show_as_json_reads_the_lifecycle_view(demo: Demo) -> None:
    codes = {k: demo.examples[k] for k in ("recycled", "second_life_product", "pack_with_modules", "overdue")}
    seen = demo.cli.many([("show", code, "--format", "json") for code in codes.values()])
    documents = {k: seen[("show", code, "--format", "json")].json() for k, code in codes.items()}

    recycled = documents["recycled"]
    assert recycled["battery"]["code"] == codes["recycled"]
    assert recycled["battery"]["state"] == "recycled"
    timeline = recycled["timeline"]
    assert timeline and timeline[0]["event"] == "Produced" and timeline[-1]["event"] == "Recycled"
    assert [e["version"] for e in timeline] == list(range(1, len(timeline) + 1))
    for entry in timeline:
        assert datetime.fromisoformat(entry["recorded_at"]).tzinfo is not None
        assert entry["actor_name"]
    assert recycled["as_of"] is None
    assert documents["second_life_product"]["battery"]["second_life"] is True
    assert documents["second_life_product"]["lineage"]["originals"]
    assert documents["pack_with_modules"]["lineage"]["components"]
    assert any(f.startswith("overdue") for f in documents["overdue"]["battery"]["flags"])
    same = demo.cli.ok("report", "lifecycle", codes["recycled"], "--format", "json").json()
    assert same == recycled


# ----------------------------------------------------------------------------- the follower
def test_projections_run_keeps_the_views_current_and_stops_on_sigterm(demo: Demo, tmp_path: Path) -> None:
    """On a copy of the store, so the other tests' numbers stay put."""
    copy = tmp_path / "copy.db"
    shutil.copy(demo.path, copy)
    cli = Cli(f"sqlite:///{copy}", tmp_path)
    code = demo.examples["installed"]
    battery = cli.ok("show", code, "--format", "json").json()["battery"]
    assert battery["state"] == "installed"
    point = cli.ok("report", "network", "--limit", "1", "-f", "json").json()[0]

    worker = subprocess.Popen(
        [batterytrace_command(), "projections", "run", "--poll", "0.2"],
        env=cli.env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        ready, _, _ = select.select([worker.stderr], [], [], 30)
        assert ready and "following the event store" in worker.stderr.readline()  # type: ignore[union-attr]

        cli.ok("retire", code, "--as", battery["holder"]["responsible_id"], "--reason", "vehicle scrapped")
        collected = cli.ok("collect", code, "--as", point["operator_id"], "--point", point["id"])
        notification = int(re.search(r"notification (\d+)", collected.stdout).group(1))  # type: ignore[union-attr]

        deadline = time.monotonic() + 15
        status: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            status = cli.ok("projections", "status", "-f", "json").json()
            if all(s["lag"] == 0 and s["position"] == notification for s in status):
                break
            time.sleep(0.2)
        assert [(s["position"], s["lag"]) for s in status] == [(notification, 0)] * len(VIEWS), status
        with sqlite3.connect(copy) as connection:  # what the follower wrote, read without the CLI
            row = connection.execute(
                "SELECT state, collection_point_id FROM lifecycle_batteries WHERE code = ?", (code,)
            ).fetchone()
            counted = connection.execute(
                "SELECT collected_count FROM network_points WHERE id = ?", (point["id"],)
            ).fetchone()
        assert row == ("collected", point["id"])
        assert counted == (point["collected_count"] + 1,)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            out, err = worker.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            out, err = worker.communicate()
            pytest.fail(f"projections run did not stop within 15 s of SIGTERM:\n{out}\n{err}")
    assert worker.returncode == 0, f"{out}\n{err}"
    assert "stopped" in err and "Traceback" not in err, err
