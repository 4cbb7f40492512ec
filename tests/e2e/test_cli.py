"""The ``batterytrace`` command as users run it: the installed console script in a child process,
configured by BATTERYTRACE_DATABASE_URL only.

One national story runs once on a fresh SQLite file (module fixture ``story``): a regulator
bootstraps itself, registers the enterprises and an outlet; two packs live their lives, one to
recycling through a non-whitelisted recycler, one into a second-life product. The tests read what
each step printed. A short story runs on PostgreSQL too. Every refusal must be one line on stderr,
no traceback, exit status non-zero.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from batterytrace.events.battery_code import make_battery_code
from tests.utils.cast import NationalCast, credit_code
from tests.utils.server import batterytrace_command

CAST = NationalCast()
B1 = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2024, 7, 15), 1)  # to recycling
B2 = make_battery_code("3CA", "P", "E", "12", "0A1B2C3", date(2024, 7, 15), 2)  # to a second life
PRODUCT = make_battery_code("9CU", "P", "B", "05", "0A1B2C3", date(2025, 8, 1), 1)  # from B2
NEW = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2024, 7, 15), 3)  # never delivered
UNKNOWN = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2024, 7, 15), 99)
FOREIGN = make_battery_code("4BY", "P", "B", "12", "0A1B2C3", date(2024, 7, 15), 1)
VIN = "LSVAU2180N2183294"
PACK_OPTIONS = ("--capacity-ah", "150", "--voltage-v", "409.6", "--energy-kwh", "61.4", "--mass-kg", "380")
MATERIALS = ("--material", "Li=3.2", "--material", "Ni=10.5", "--material", "Co=0", "--material", "Mn=2")
CODE_KEYS = {
    "code",
    "manufacturer_code",
    "product_type",
    "battery_type",
    "spec_code",
    "trace_code",
    "production_date",
    "serial",
}
BATTERY_CODE = re.compile(r"\b[0-9A-Z]{24}\b")


@dataclass
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:
        return f"$ batterytrace {' '.join(self.args)}\n[exit {self.returncode}]\n{self.stdout}{self.stderr}"


@dataclass
class Cli:
    """Runs ``batterytrace ARGS`` against one store; remembers every run for failure messages."""

    database_url: str
    cwd: Path
    runs: list[Result] = field(default_factory=list)

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATTERYTRACE_")}
        env.update(
            BATTERYTRACE_DATABASE_URL=self.database_url,
            COLUMNS="200",
            NO_COLOR="1",
            PYTHONIOENCODING="utf-8",
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
            timeout=60,
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

    def refused(self, *args: str, **env: str) -> str:
        """Run a command that must be refused; return its one line of error (a narrow terminal
        proves that the line is not wrapped)."""
        result = self.run(*args, **{"COLUMNS": "40", **env})
        assert result.returncode == 1, str(result)
        assert "Traceback" not in result.stderr, str(result)
        lines = result.stderr.splitlines()
        assert len(lines) == 1, str(result)
        assert lines[0].startswith("error: "), str(result)
        assert result.stdout == "", str(result)
        return lines[0]


# --------------------------------------------------------------------------------- the story
def register_participants(cli: Cli) -> None:
    def add(code: str, name: str, *roles: str, codes: tuple[str, ...] = ()) -> None:
        options = [part for role in roles for part in ("--role", role)]
        options += [part for mfr in codes for part in ("--manufacturer-code", mfr)]
        cli.ok("participants", "add", code, "--name", name, *options, "--as", CAST.regulator)

    add(CAST.manufacturer, "Ningde Cells Co.", "manufacturer", codes=("3CA", "3CB"))
    add(CAST.other_manufacturer, "Shenzhen Packs Co.", "manufacturer", codes=("4BY",))
    add(CAST.vehicle_maker, "Shenzhen Motors", "vehicle_maker", "outlet_operator")
    add(CAST.outlet_operator, "Beijing Green Outlets", "outlet_operator")
    add(CAST.recycler, "Ganzhou Recycling", "recycler")
    add(CAST.informal_recycler, "Backstreet Workshop", "recycler")
    add(CAST.cascade_user, "Changsha Second Life", "cascade_user", codes=("9CU",))
    for who, activity in ((CAST.recycler, "recycling"), (CAST.cascade_user, "cascade_use")):
        cli.ok(
            "participants", "whitelist", who, "--activity", activity, "--effective", "2020-01-01",
            "--as", CAST.regulator,
        )  # fmt: skip


def first_life(cli: Cli, code: str) -> Result:
    """Produce, deliver to the vehicle maker, install in a vehicle, retire, and hand in at the
    outlet; what the delivery printed."""
    cli.ok("produce", code, *PACK_OPTIONS, "--as", CAST.manufacturer)
    delivered = cli.ok(
        "deliver", code, "--to", CAST.vehicle_maker, "--at", "2024-07-25", "--as", CAST.manufacturer
    )
    cli.ok("install", code, "--vin", VIN, "--at", "2024-08-01", "--as", CAST.vehicle_maker)
    cli.ok(
        "retire", code, "--reason", "capacity below 80%", "--soh", "78", "--at", "2025-06-01",
        "--as", CAST.vehicle_maker,
    )  # fmt: skip
    cli.ok(
        "collect", code, "--point", CAST.collection_point, "--at", "2025-06-10", "--as", CAST.outlet_operator
    )
    return delivered


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    folder = tmp_path_factory.mktemp("cli")
    cli = Cli(f"sqlite:///{folder / 'batterytrace.db'}", folder)
    seen: dict[str, Result] = {"init": cli.ok("init")}
    seen["bootstrap"] = cli.ok(
        "participants", "add", CAST.regulator, "--name", "MIIT traceability", "--role", "regulator"
    )
    seen["second bootstrap"] = cli.run(
        "participants", "add", credit_code("11100000000013999"), "--name", "Another", "--role", "regulator"
    )
    register_participants(cli)
    seen["point"] = cli.ok(
        "collection-points", "add", CAST.collection_point, "--operator", CAST.outlet_operator,
        "--name", "Chaoyang collection outlet", "--division", "110105", "--address", "1 Battery Road",
        "--capacity-kg", "5000", "--lat", "39.92", "--lon", "116.44", "--as", CAST.regulator,
    )  # fmt: skip
    seen["participants"] = cli.ok("participants", "list")
    seen["participants json"] = cli.ok("participants", "list", "--format", "json")
    seen["points"] = cli.ok("collection-points", "list")
    seen["points json"] = cli.ok("collection-points", "list", "-f", "json")

    seen["deliver B1"] = first_life(cli, B1)
    seen["informal handover"] = cli.ok(
        "handover", B1, "--to", CAST.informal_recycler, "--at", "2025-06-20", "--as", CAST.outlet_operator
    )
    seen["whitelisted handover"] = cli.ok(
        "handover", B1, "--to", CAST.recycler, "--at", "2025-06-25", "--as", CAST.informal_recycler
    )
    seen["recycle"] = cli.ok("recycle", B1, *MATERIALS, "--at", "2025-07-01", "--as", CAST.recycler)

    first_life(cli, B2)
    cli.ok(
        "handover", B2, "--to", CAST.cascade_user, "--activity", "cascade_use", "--at", "2025-06-20",
        "--as", CAST.outlet_operator,
    )  # fmt: skip
    seen["cascade reuse"] = cli.ok(
        "cascade-reuse", PRODUCT, "--original", B2, "--capacity-ah", "100", "--voltage-v", "51.2",
        "--energy-kwh", "5.1", "--mass-kg", "60", "--as", CAST.cascade_user,
    )  # fmt: skip
    seen["install product"] = cli.ok(
        "install", PRODUCT, "--site", "Changsha base station 12", "--application", "energy storage",
        "--at", "2025-08-02", "--as", CAST.cascade_user,
    )  # fmt: skip

    cli.ok("produce", NEW, *PACK_OPTIONS, "--as", CAST.manufacturer)  # on the manufacturer's shelf
    seen["show B1 json"] = cli.ok("show", B1, "--format", "json")
    seen["show B1"] = cli.ok("show", B1.lower())
    seen["show B1 as of"] = cli.ok("show", B1, "--as-of", "2025-01-01", "--format", "json")
    seen["show B1 as of table"] = cli.ok("show", B1, "--as-of", "2025-06-15")
    seen["show B2 json"] = cli.ok("show", B2, "-f", "json")
    seen["show product json"] = cli.ok("show", PRODUCT, "--format", "json")
    seen["show product"] = cli.ok("show", PRODUCT)
    seen["init again"] = cli.ok("init")
    seen["cli"] = cli  # type: ignore[assignment]
    return seen


@pytest.fixture(scope="module")
def cli(story: dict[str, Any]) -> Cli:
    """The story's store, for commands that must be refused (they change nothing)."""
    return story["cli"]


def timeline(document: dict[str, Any]) -> list[str]:
    return [entry["event"] for entry in document["timeline"]]


# ------------------------------------------------------------------------ set-up and listing
def test_init_creates_the_store_and_says_where(story: dict[str, Result]) -> None:
    assert re.fullmatch(
        r"event store ready at sqlite:///\S+batterytrace\.db \(0 events\)\n"
        r"ledger key made at \S+batterytrace\.db\.ledger-key \(keep it private\); "
        r"public key: \S+\+[0-9a-f]{8}\+\S+\n",
        story["init"].stdout,
    )
    again = re.search(r"\((\d+) events\)", story["init again"].stdout)
    assert again and int(again.group(1)) >= 30  # participants, claims, whitelists, the outlet, batteries


def test_the_first_regulator_registers_itself_and_then_acts_for_everyone_else(
    story: dict[str, Result],
) -> None:
    assert f"participant {CAST.regulator}: recorded" in story["bootstrap"].stdout
    second = story["second bootstrap"]
    assert second.returncode == 1
    assert second.stderr.splitlines() == [
        "error: a regulator already exists; act as one (--as CREDIT_CODE) to register others"
    ]


def test_participants_are_listed_as_a_table_and_as_json(story: dict[str, Result]) -> None:
    records = {r["credit_code"]: r for r in story["participants json"].json()}

    assert set(records) == {
        CAST.regulator,
        CAST.manufacturer,
        CAST.other_manufacturer,
        CAST.vehicle_maker,
        CAST.outlet_operator,
        CAST.recycler,
        CAST.informal_recycler,
        CAST.cascade_user,
    }
    assert records[CAST.manufacturer]["manufacturer_codes"] == ["3CA", "3CB"]
    assert records[CAST.vehicle_maker]["roles"] == ["vehicle_maker", "outlet_operator"]
    assert records[CAST.recycler]["whitelist"] == [
        {"activity": "recycling", "granted_on": "2020-01-01", "revoked_on": None}
    ]
    assert records[CAST.informal_recycler]["whitelist"] == []
    table = story["participants"].stdout
    for record in records.values():
        assert record["credit_code"] in table and record["name"] in table
    assert "recycling 2020-01-01" in table


def test_collection_points_are_listed_as_a_table_and_as_json(story: dict[str, Result]) -> None:
    assert f"collection point {CAST.collection_point}: recorded" in story["point"].stdout
    [point] = story["points json"].json()
    assert point == {
        "id": CAST.collection_point,
        "name": "Chaoyang collection outlet",
        "name_en": None,  # registered without an English name
        "operator_id": CAST.outlet_operator,
        "kind": "collection",
        "capacity_kg": 5000.0,
        "address": "1 Battery Road",
        "division_code": "110105",
        "latitude": 39.92,
        "longitude": 116.44,
        "review": "approved",  # registered by a regulator
    }
    table = story["points"].stdout
    assert all(text in table for text in (CAST.collection_point, "Chaoyang collection outlet", "5000"))


# ------------------------------------------------------------------------------- lifecycle
def test_a_handover_to_a_recycler_not_whitelisted_is_recorded_with_a_warning(
    story: dict[str, Result],
) -> None:
    informal = story["informal handover"]
    assert f"handed over {B1} to {CAST.informal_recycler}: recorded" in informal.stdout
    assert informal.stderr.startswith("warning: the receiver is not whitelisted for this activity")
    assert "recorded and flagged non-compliant" in informal.stderr
    assert f"handed over {B1} to {CAST.recycler}: recorded" in story["whitelisted handover"].stdout

    document = story["show B1 json"].json()
    assert "non-compliant handover" in document["battery"]["flags"]  # also "late report": --at is past
    handovers = [e["details"] for e in document["timeline"] if e["event"] == "HandedOver"]
    assert [(h["receiver_id"], h["compliant"]) for h in handovers] == [
        (CAST.informal_recycler, False),
        (CAST.recycler, True),
    ]
    assert handovers[0]["from_collection_point_id"] == CAST.collection_point


def test_a_handover_to_a_whitelisted_recycler_prints_no_warning_after_an_earlier_non_compliant_one(
    story: dict[str, Result],
) -> None:
    assert story["whitelisted handover"].stderr == ""


def test_show_as_json_gives_the_whole_life_of_a_recycled_battery(story: dict[str, Result]) -> None:
    assert f"recycled {B1}: recorded" in story["recycle"].stdout
    document = story["show B1 json"].json()

    battery = document["battery"]
    assert (battery["code"], battery["state"], battery["level"], battery["vin"]) == (
        B1,
        "recycled",
        "pack",
        VIN,
    )
    assert battery["holder"] == {"kind": None, "id": None, "responsible_id": None}
    assert battery["manufacturer_id"] == CAST.manufacturer
    assert document["as_of"] is None
    assert timeline(document) == [
        "Produced",
        "Delivered",
        "Installed",
        "Retired",
        "Collected",
        "HandedOver",
        "HandedOver",
        "Recycled",
    ]
    assert [e["version"] for e in document["timeline"]] == list(range(1, 9))
    assert [e["occurred_at"][:10] for e in document["timeline"]] == [
        "2024-07-15",
        "2024-07-25",
        "2024-08-01",
        "2025-06-01",
        "2025-06-10",
        "2025-06-20",
        "2025-06-25",
        "2025-07-01",
    ]
    recycled = document["timeline"][-1]
    assert recycled["actor_id"] == CAST.recycler
    assert recycled["details"]["recovered_kg"] == {"Li": 3.2, "Ni": 10.5, "Co": 0.0, "Mn": 2.0}
    delivered = document["timeline"][1]
    assert delivered["actor_id"] == CAST.manufacturer
    assert delivered["details"]["receiver_id"] == CAST.vehicle_maker
    retired = document["timeline"][3]["details"]
    assert (retired["reason"], retired["state_of_health_pct"]) == ("capacity below 80%", 78.0)
    assert document["lineage"] == {
        "components": [],
        "parent_packs": [],
        "originals": [],
        "second_life_products": [],
    }


def test_show_as_a_table_prints_the_summary_and_the_timeline(story: dict[str, Result]) -> None:
    table = story["show B1"].stdout

    assert B1 in table and "lithium iron phosphate" in table and "61.4 kWh" in table
    assert "state: recycled" in table
    assert "flags:" in table and "non-compliant handover" in table
    events = ("Produced", "Delivered", "Installed", "Retired", "Collected", "HandedOver", "Recycled")
    for event_name in events:
        assert event_name in table
    assert f"VIN {VIN}" in table


def test_show_as_of_a_past_date_rebuilds_the_battery_as_it_stood(story: dict[str, Result]) -> None:
    document = story["show B1 as of"].json()

    assert document["as_of"].startswith("2025-01-01T00:00:00+08:00")
    assert document["battery"]["state"] == "installed"
    assert document["battery"]["flags"] == []
    assert timeline(document) == ["Produced", "Delivered", "Installed"]
    table = story["show B1 as of table"].stdout
    assert "(as of 2025-06-15" in table and "state: collected" in table
    assert "Recycled" not in table


def test_cascade_reuse_links_the_second_life_product_and_its_original_both_ways(
    story: dict[str, Result],
) -> None:
    assert f"second-life product {PRODUCT}: recorded" in story["cascade reuse"].stdout
    product = story["show product json"].json()
    original = story["show B2 json"].json()

    assert product["battery"]["second_life"] is True
    assert product["battery"]["manufacturer_id"] == CAST.cascade_user
    assert product["battery"]["state"] == "installed"
    assert product["battery"]["holder"]["kind"] == "site"
    assert product["timeline"][0]["details"]["derived_from"] == [B2]
    assert product["lineage"]["originals"] == [{"code": B2, "level": "pack", "state": "cascade-reused"}]
    assert product["lineage"]["second_life_products"] == []
    assert original["battery"]["state"] == "cascade-reused"
    assert timeline(original)[-2:] == ["HandedOver", "CascadeReused"]
    assert original["lineage"]["second_life_products"] == [
        {"code": PRODUCT, "level": "pack", "state": "installed"}
    ]
    assert "made from originals" in story["show product"].stdout
    assert B2 in story["show product"].stdout


# ------------------------------------------------------------------------------------ code
def test_deliver_passes_a_new_battery_to_the_vehicle_maker_that_then_installs_it(
    story: dict[str, Result],
) -> None:
    assert re.match(
        rf"delivered {B1} to {CAST.vehicle_maker}: recorded Delivered \(notification \d+\)",
        story["deliver B1"].stdout,
    ), str(story["deliver B1"])
    assert story["deliver B1"].stderr == ""


def test_a_vehicle_maker_cannot_install_a_battery_not_delivered_to_it(cli: Cli) -> None:
    """Knowing a code is not holding the battery; the refusal does not say who does."""
    line = cli.refused("install", NEW, "--vin", VIN, "--as", CAST.vehicle_maker)

    assert line == (
        f"error: Shenzhen Motors ({CAST.vehicle_maker}) cannot install battery {NEW}: it has not been "
        "delivered to you; its manufacturer records the delivery first (deliver)"
    )
    assert CAST.manufacturer not in line
    assert cli.ok("show", NEW, "-f", "json").json()["battery"]["holder"]["id"] == CAST.manufacturer


def test_only_the_holder_delivers_and_only_to_a_vehicle_maker(cli: Cli) -> None:
    by_stranger = cli.refused("deliver", NEW, "--to", CAST.vehicle_maker, "--as", CAST.vehicle_maker)
    assert "you do not hold it" in by_stranger and CAST.manufacturer not in by_stranger
    to_recycler = cli.refused("deliver", NEW, "--to", CAST.recycler, "--as", CAST.manufacturer)
    assert "vehicle_maker" in to_recycler, to_recycler
    assert cli.refused("deliver", B1, "--to", CAST.vehicle_maker, "--as", CAST.recycler).startswith(
        f"error: battery {B1} is recycled: cannot deliver"
    )
    document = cli.ok("show", NEW, "-f", "json").json()
    assert timeline(document) == ["Produced"]


def test_code_explains_valid_codes_and_names_the_bad_segment_of_invalid_ones(cli: Cli) -> None:
    future = make_battery_code("3CA", "P", "B", "12", "0A1B2C3", date(2039, 1, 1), 1)
    codes = [
        B1,
        B2.lower(),
        B1[:3] + "X" + B1[4:],
        B1[:-1],
        B1[:20] + "12X4",
        B1[:8] + "-" + B1[9:],
        B1[:15] + "D" + B1[16:],
        future,
    ]

    result = cli.run("code", *codes, "--format", "json")

    assert result.returncode == 1, str(result)
    assert result.stderr == ""
    explained = result.json()
    assert [e["code"] for e in explained] == [B1, B2, *[c.upper() for c in codes[2:]]]
    for valid in explained[:2]:
        assert set(valid) >= CODE_KEYS and "error" not in valid
    assert explained[0] == {
        "code": B1,
        "manufacturer_code": "3CA",
        "product_type": "P",
        "level": "pack",
        "battery_type": "B",
        "chemistry": "lithium iron phosphate",
        "spec_code": "12",
        "trace_code": "0A1B2C3",
        "production_date": "2024-07-15",
        "serial": "0000001",
    }
    assert date.fromisoformat(explained[1]["production_date"]) == date(2024, 7, 15)
    invalid = explained[2:]
    assert all(set(e) == {"code", "error", "segment"} for e in invalid)
    assert [e["segment"] for e in invalid] == [
        "product type",
        "length",
        "serial number",
        "traceability information",
        "production date",
        "production date",
    ]
    assert "product type 'X' at position 4" in invalid[0]["error"]
    assert "this one has 23" in invalid[1]["error"]
    assert "serial number" in invalid[2]["error"]
    assert "(traceability information)" in invalid[3]["error"]
    assert "month character 'D' at position 16" in invalid[4]["error"]
    assert "is in the future" in invalid[5]["error"]


def test_code_exits_zero_when_every_code_is_valid_and_prints_a_table(cli: Cli) -> None:
    table = cli.ok("code", B1, PRODUCT).stdout

    assert B1 in table and PRODUCT in table and "2024-07-15" in table and "2025-08-01" in table
    bad = cli.run("code", B1, "NOT-A-CODE")
    assert bad.returncode == 1 and "has 10" in bad.stdout


# ---------------------------------------------------------------------------------- refusals
def test_an_unknown_battery_is_refused_on_one_line(cli: Cli) -> None:
    assert (
        cli.refused("show", UNKNOWN)
        == f"error: battery {UNKNOWN} is not registered; record its production first"
    )
    assert cli.refused("retire", UNKNOWN, "--reason", "x", "--as", CAST.vehicle_maker).startswith(
        f"error: battery {UNKNOWN} is not registered"
    )


def test_an_invalid_code_is_refused_on_one_line(cli: Cli) -> None:
    bad = B1[:3] + "X" + B1[4:]
    assert cli.refused("show", bad).startswith(f"error: invalid battery code '{bad}': product type 'X'")
    assert cli.refused("produce", "3CA", *PACK_OPTIONS, "--as", CAST.manufacturer).startswith(
        "error: invalid battery code '3CA': a battery code has 24 characters, this one has 3"
    )


def test_a_command_the_state_does_not_allow_is_refused_on_one_line(cli: Cli) -> None:
    assert cli.refused("install", B1, "--vin", VIN, "--as", CAST.vehicle_maker) == (
        f"error: battery {B1} is recycled: cannot install; it has been recycled; its life has ended"
    )
    assert cli.refused("retire", B2, "--reason", "again", "--as", CAST.cascade_user).startswith(
        f"error: battery {B2} is cascade-reused: cannot retire"
    )


def test_an_actor_without_the_right_is_refused_on_one_line(cli: Cli) -> None:
    not_owned = cli.refused("produce", FOREIGN, *PACK_OPTIONS, "--as", CAST.manufacturer)
    assert f"cannot produce {FOREIGN}: manufacturer code 4BY is not one of yours" in not_owned
    assert CAST.other_manufacturer not in not_owned
    assert cli.refused(
        "participants", "add", credit_code("91110000MA0000077"), "--name", "X", "--role", "recycler",
        "--as", CAST.manufacturer,
    ).startswith("error: ")  # fmt: skip
    stranger = credit_code("91110000MA0000088")
    assert cli.refused("produce", B1, *PACK_OPTIONS, "--as", stranger) == (
        f"error: participant {stranger} is not registered; register it with 'batterytrace participants add'"
    )
    assert "cannot recycle" in cli.refused("recycle", PRODUCT, *MATERIALS, "--as", CAST.recycler)


def test_a_malformed_or_unsupported_database_url_is_refused_on_one_line(cli: Cli) -> None:
    assert cli.refused("init", BATTERYTRACE_DATABASE_URL="not a url") == (
        "error: BATTERYTRACE_DATABASE_URL='not a url' is not a database URL; use "
        "sqlite:///path/to/batterytrace.db or postgresql://user:password@host:5432/dbname"
    )
    assert "batterytrace stores events in SQLite" in cli.refused(
        "participants", "list", BATTERYTRACE_DATABASE_URL="mysql://root@localhost/db"
    )
    assert "does not exist" in cli.refused("init", BATTERYTRACE_DATABASE_URL="sqlite:////no/such/folder/x.db")
    assert "in-memory" in cli.refused("init", BATTERYTRACE_DATABASE_URL="sqlite:///:memory:")


def test_an_unreachable_postgresql_server_is_refused_on_one_line(cli: Cli) -> None:
    line = cli.refused("init", BATTERYTRACE_DATABASE_URL="postgresql://postgres:secret@127.0.0.1:1/test")

    assert line.startswith("error: cannot open the event store at postgresql://postgres:***@127.0.0.1:1/test")
    assert "secret" not in line


def test_a_missing_import_file_is_refused_without_a_traceback(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.csv"

    result = cli.run("import", str(missing), "--as", CAST.manufacturer)

    assert result.returncode == 1 and "Traceback" not in result.stderr, str(result)
    assert result.stderr.splitlines()[-1] == f"error: no such file: {missing}"
    assert result.stdout == ""


@pytest.mark.parametrize("case", ["missing file", "unknown actor", "bad header"])
def test_a_refused_import_prints_exactly_one_line_on_stderr(cli: Cli, tmp_path: Path, case: str) -> None:
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("code,colour\n", encoding="utf-8")
    args = {
        "missing file": (str(tmp_path / "nowhere.csv"), "--as", CAST.manufacturer),
        "unknown actor": (str(bad_header), "--as", credit_code("91110000MA0000088")),
        "bad header": (str(bad_header), "--as", CAST.manufacturer),
    }[case]

    assert cli.refused("import", *args).startswith("error: ")


def test_bad_options_are_refused_on_one_line(cli: Cli) -> None:
    assert cli.refused("participants", "list", "--format", "xml") == (
        "error: --format 'xml' is unknown; use table or json"
    )
    assert cli.refused("show", B1, "--as-of", "last year").startswith(
        "error: --as-of 'last year' is not a date"
    )
    assert cli.refused("show", B1, "--as-of", "2024-07-01").startswith(
        f"error: battery {B1} did not exist yet"
    )
    assert cli.refused("recycle", B1, "--material", "Li", "--as", CAST.recycler) == (
        "error: --material 'Li' must be NAME=KG, e.g. Li=3.2"
    )


# ------------------------------------------------------------------------------ bulk import
def test_import_through_the_cli_reports_refused_rows_and_exits_1(cli: Cli, tmp_path: Path) -> None:
    codes = [make_battery_code("3CB", "P", "B", "12", "0A1B2C3", date(2024, 7, 16), n) for n in (1, 2)]
    path = tmp_path / "production.csv"
    path.write_text(
        "code,rated_capacity_ah,nominal_voltage_v,energy_kwh,mass_kg\n"
        f"{codes[0]},150,409.6,61.4,380\n{codes[1]},150,409.6,61.4,heavy\n",
        encoding="utf-8",
    )
    refused_out = tmp_path / "refused.csv"

    result = cli.run("import", str(path), "--as", CAST.manufacturer, "--refused-out", str(refused_out))
    again = cli.run("import", str(path), "--as", CAST.manufacturer)

    assert result.returncode == 1 and "Traceback" not in result.stderr, str(result)
    assert "2 rows: 1 stored, 0 already present, 1 refused in 1 batches" in result.stdout
    assert "mass_kg must be a number, got 'heavy'" in result.stdout
    with refused_out.open(newline="", encoding="utf-8") as written:
        assert list(csv.reader(written)) == [
            ["line", "code", "reason"],
            ["3", codes[1], "mass_kg must be a number, got 'heavy'"],
        ]
    assert "2 rows: 0 stored, 1 already present, 1 refused" in again.stdout
    assert cli.ok("show", codes[0], "-f", "json").json()["battery"]["state"] == "produced"


# ------------------------------------------------------------------------------- PostgreSQL
@pytest.mark.postgres
def test_a_short_story_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    cli = Cli(postgres_url, tmp_path)

    assert re.match(r"event store ready at postgresql://\S+ \(0 events\)", cli.ok("init").stdout)
    cli.ok("participants", "add", CAST.regulator, "--name", "MIIT traceability", "--role", "regulator")
    cli.ok(
        "participants", "add", CAST.manufacturer, "--name", "Ningde Cells Co.", "--role", "manufacturer",
        "--manufacturer-code", "3CA", "--as", CAST.regulator,
    )  # fmt: skip
    cli.ok(
        "participants", "add", CAST.vehicle_maker, "--name", "Shenzhen Motors", "--role", "vehicle_maker",
        "--as", CAST.regulator,
    )  # fmt: skip
    produced = cli.ok("produce", B1, *PACK_OPTIONS, "--request-id", "r-1", "--as", CAST.manufacturer)
    replay = cli.ok("produce", B1, *PACK_OPTIONS, "--request-id", "r-1", "--as", CAST.manufacturer)
    undelivered = cli.refused("install", B1, "--vin", VIN, "--at", "2024-08-01", "--as", CAST.vehicle_maker)
    cli.ok("deliver", B1, "--to", CAST.vehicle_maker, "--at", "2024-07-25", "--as", CAST.manufacturer)
    cli.ok("install", B1, "--vin", VIN, "--at", "2024-08-01", "--as", CAST.vehicle_maker)

    assert re.match(rf"produced {B1}: recorded Produced \(notification \d+\)", produced.stdout)
    assert "already recorded" in replay.stdout
    assert "has not been delivered to you" in undelivered and CAST.manufacturer not in undelivered
    document = cli.ok("show", B1, "--format", "json").json()
    assert timeline(document) == ["Produced", "Delivered", "Installed"]
    assert document["battery"]["vin"] == VIN
    assert len(cli.ok("participants", "list", "--format", "json").json()) == 3
    assert cli.refused("show", UNKNOWN).startswith(f"error: battery {UNKNOWN} is not registered")
    assert "cannot install" in cli.refused("install", B1, "--vin", VIN, "--as", CAST.vehicle_maker)


# ------------------------------------------------------------------------------------- demo
def test_demo_prints_example_codes_that_show_can_open(tmp_path: Path) -> None:
    pytest.importorskip("batterytrace.demo.national")
    cli = Cli(f"sqlite:///{tmp_path / 'demo.db'}", tmp_path)

    demo = cli.ok("demo", "--batteries", "200", "--seed", "3")

    examples_section = demo.stdout.split("try: batterytrace show CODE", 1)[1].split("act as:", 1)[0]
    examples = sorted(set(BATTERY_CODE.findall(examples_section)))
    assert len(examples) >= 5, demo.stdout
    for code in examples:
        document = cli.ok("show", code, "--format", "json").json()
        assert document["battery"]["code"] == code
        assert document["timeline"][0]["event"] == "Produced"
    assert examples[0] in cli.ok("show", examples[0]).stdout
    views = cli.ok("projections", "status", "--format", "json").json()
    assert {(row["lag"], row["position"] > 0) for row in views} == {(0, True)}  # built with the demo


def test_demo_without_views_leaves_them_to_a_rebuild(tmp_path: Path) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'demo.db'}", tmp_path)

    cli.ok("demo", "--batteries", "40", "--no-views")

    views = cli.ok("projections", "status", "--format", "json").json()
    assert {row["position"] for row in views} == {0} and all(row["lag"] > 0 for row in views)
    cli.ok("projections", "rebuild")
    assert {row["lag"] for row in cli.ok("projections", "status", "--format", "json").json()} == {0}
