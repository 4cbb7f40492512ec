"""The command line starts quickly (issue 11, item 11): its entry module imports Typer only, a
command's module is imported when that command runs, and the event store's, the views' and the
web service's libraries load inside the commands that use them. Checked structurally, in a fresh
interpreter, by which modules are loaded (a timing would depend on the machine;
``python -m bench.cli_startup`` measures)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.e2e.test_cli import B1, Cli

# Libraries a command that does not open the store, serve HTTP or draw labels must not load.
HEAVY = (
    "sqlalchemy",
    "eventsourcing",
    "psycopg",
    "fastapi",
    "starlette",
    "uvicorn",
    "qrcode",
    "PIL",
    "fpdf",
    "zxingcpp",
    "prometheus_client",
    "batterytrace.trace.application",
    "batterytrace.projections",
)


def _loaded_after(statements: str) -> set[str]:
    """The modules loaded in a fresh interpreter after running ``statements``."""
    program = f"import json, sys\n{statements}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


COMMAND_MODULES = {
    f"batterytrace.cli.{name}"
    for name in ("bulk", "lifecycle", "participants", "qr", "serve", "show", "projections", "reports")
}


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY))


def test_importing_the_cli_entry_module_loads_no_store_web_or_drawing_library() -> None:
    loaded = _loaded_after("import batterytrace.cli.main")

    assert _heavy(loaded) == []
    assert "pydantic" not in loaded
    assert sorted(loaded & COMMAND_MODULES) == []  # each loads when its command runs


def test_the_code_command_runs_without_loading_the_store() -> None:
    run_code = (
        "from batterytrace.cli.main import app\n"
        f"try:\n    app(['code', '{B1}'], standalone_mode=False)\nexcept SystemExit:\n    pass"
    )
    loaded = _loaded_after(run_code)

    assert _heavy(loaded) == []
    assert sorted(loaded & COMMAND_MODULES) == ["batterytrace.cli.show"]


@pytest.mark.parametrize("group", ["report", "projections"])
def test_the_lazily_loaded_groups_are_listed_and_answer_like_the_others(group: str, tmp_path) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'batterytrace.db'}", tmp_path)

    listing = cli.ok("--help").stdout
    own_help = cli.ok(group, "--help").stdout

    assert re.search(rf"│ {group} +\w", listing), listing
    assert f"Usage: batterytrace {group} [OPTIONS] COMMAND" in own_help
    assert "--install-completion" not in own_help  # as the other groups: no completion options


def test_show_and_report_read_current_views_without_building_the_application(tmp_path) -> None:
    """When the views already hold every event, ``show`` and ``report`` read them at once: the
    event-sourcing library and the aggregates are not loaded (``projections/freshness.py``)."""
    cli = Cli(f"sqlite:///{tmp_path / 'batterytrace.db'}", tmp_path)
    cli.ok("init")
    example = cli.ok("demo", "--batteries", "40", "--show-example").stdout
    code = re.findall(r"\b[0-9A-Z]{24}\b", example)[0]
    cli.ok("report", "compliance")  # the first read brings the views up to date

    for command in (["show", code], ["report", "compliance"]):
        program = (
            "import json, sys\nfrom batterytrace.cli.main import app\n"
            f"try:\n    app({command!r}, standalone_mode=False)\nexcept SystemExit:\n    pass\n"
            "print(json.dumps(sorted(sys.modules)))"
        )
        done = subprocess.run(
            [sys.executable, "-c", program],
            env=cli.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))

        assert code in done.stdout or command[0] == "report"
        assert (
            sorted(m for m in loaded if m.startswith(("eventsourcing", "batterytrace.trace.application")))
            == []
        )
