"""The command line starts quickly (issue 11, item 11): its entry module imports Typer only, a
command's module is imported when that command runs, and the event store's, the views' and the
web service's libraries load inside the commands that use them. Checked structurally, in a fresh
interpreter, by which modules are loaded (a timing would depend on the machine;
``python -m bench.cli_startup`` measures). ``show`` and ``report compliance`` on views that hold
every event read them in plain SQL, without SQLAlchemy, and print byte for byte what the
SQLAlchemy path prints, on both stores."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.test_cli import B1, Cli
from tests.utils.stores import store_url

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


# The read-only commands whose answers on current views come from the plain reads, answers and
# refusals; then one that is not in the views (the event store says why: the full path).
ANSWERS = (
    ("show", "{code}"),
    ("show", "{code}", "--format", "json"),
    ("report", "lifecycle", "{code}"),
    ("report", "compliance"),
    ("report", "compliance", "--format", "json"),
    ("report", "compliance", "--format", "csv", "--lang", "zh"),
    ("report", "compliance", "--kind", "late_report", "--lang", "en"),
    ("report", "compliance", "--region", "44", "--limit", "3"),
    ("report", "compliance", "--since", "2025-01-01", "--until", "2026-12-31"),
)
REFUSALS = (
    ("show", "NOTACODE"),
    ("report", "compliance", "--kind", "bogus"),
    ("report", "compliance", "--limit", "0"),
    ("report", "compliance", "--lang", "fr"),
)
QUICK_COMMANDS = ANSWERS + REFUSALS
FULL_PATH_COMMAND = ("show", "3CAPB120A1B2C3R7F0000123")
# The commands run one after another in one fresh interpreter (a process per command would take
# minutes on a busy machine), each one's output, status and the modules loaded so far kept apart.
# FULL_PATH makes the plain reads find the views stale, so each command answers through
# SQLAlchemy, as before the plain reads.
RUN = """import contextlib, io, json, sys
from batterytrace.cli.main import run
if {full_path}:
    import batterytrace.projections.plain_reads as plain
    plain.open_current_views = lambda *_: None
answers = []
for args in {commands!r}:
    out, err = io.StringIO(), io.StringIO()
    sys.argv = ["batterytrace", *args]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            run()
            status = 0
        except SystemExit as end:
            status = end.code
    answers.append([status, out.getvalue(), err.getvalue(), sorted(sys.modules)])
print(json.dumps(answers))
"""


@dataclass
class Answer:
    status: int
    stdout: str
    stderr: str
    loaded: set[str]  # after this command and those before it


def _answers(cli: Cli, commands: list[tuple[str, ...]], *, full_path: bool = False) -> list[Answer]:
    program = RUN.format(full_path=full_path, commands=[list(c) for c in commands])
    done = subprocess.run(
        [sys.executable, "-c", program], env=cli.env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return [Answer(s, o, e, set(m)) for s, o, e, m in json.loads(done.stdout.strip().splitlines()[-1])]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def answered(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[tuple[str, ...], tuple[Answer, Answer]]]:
    """On a demo store whose views hold every event (once per store): each command's answer
    through the plain reads and through the full path."""
    folder = tmp_path_factory.mktemp("startup")
    with store_url(request, tmp_path_factory, "startup") as url:
        cli = Cli(url, folder)
        cli.ok("init")
        example = cli.ok("demo", "--batteries", "40", "--show-example").stdout
        cli.ok("report", "compliance")  # the first read brings the views up to date
        code = re.findall(r"\b[0-9A-Z]{24}\b", example)[0]
        commands = [*QUICK_COMMANDS, FULL_PATH_COMMAND]
        filled = [tuple(arg.replace("{code}", code) for arg in command) for command in commands]
        quick, full = _answers(cli, filled), _answers(cli, filled, full_path=True)
        yield dict(zip(commands, zip(quick, full, strict=True), strict=True))


def _heavy_loaded(answer: Answer) -> list[str]:
    return sorted(m for m in answer.loaded if m.startswith(("sqlalchemy", "eventsourcing")))


@pytest.mark.parametrize("command", [*QUICK_COMMANDS, FULL_PATH_COMMAND], ids=" ".join)
def test_show_and_report_on_current_views_print_what_the_full_path_prints(
    answered: dict[tuple[str, ...], tuple[Answer, Answer]], command: tuple[str, ...]
) -> None:
    """Byte for byte, answers and refusals alike, on both stores."""
    quick, full = answered[command]

    assert (quick.status, quick.stdout, quick.stderr) == (full.status, full.stdout, full.stderr)
    assert "sqlalchemy" in full.loaded  # the comparison is with the SQLAlchemy path
    if command in ANSWERS:
        assert quick.status == 0 and quick.stdout, quick.stderr
    if command in REFUSALS:
        assert quick.status != 0 and quick.stderr.startswith("error: "), quick.stderr


def test_show_and_report_on_current_views_load_neither_sqlalchemy_nor_the_application(
    answered: dict[tuple[str, ...], tuple[Answer, Answer]],
) -> None:
    """When the views already hold every event, ``show`` and ``report compliance`` read them at
    once in plain SQL (``projections/plain_reads.py``): neither SQLAlchemy nor the event-sourcing
    library nor the aggregates load (``python -m bench.cli_startup`` measures the time). A battery
    the views do not have is asked of the event store, which loads them."""
    after_all_quick, _ = answered[QUICK_COMMANDS[-1]]
    not_in_views, _ = answered[FULL_PATH_COMMAND]

    assert _heavy_loaded(after_all_quick) == []
    assert "batterytrace.trace.application" not in after_all_quick.loaded
    assert "sqlalchemy" in not_in_views.loaded


def test_views_of_another_release_are_rebuilt_first(tmp_path) -> None:
    """A view whose stored fingerprint is not this release's: ``show`` takes the full path, which
    rebuilds it, and answers the same."""
    cli = Cli(f"sqlite:///{tmp_path / 'batterytrace.db'}", tmp_path)
    cli.ok("init")
    example = cli.ok("demo", "--batteries", "40", "--show-example").stdout
    code = re.findall(r"\b[0-9A-Z]{24}\b", example)[0]
    cli.ok("report", "compliance")
    show = ("show", code, "--format", "json")
    (before,) = _answers(cli, [show])
    sqlite3.connect(tmp_path / "batterytrace.db").execute(
        "UPDATE view_positions SET schema = 'older' WHERE view = 'network'"
    ).connection.commit()

    rebuilt, again = _answers(cli, [show, show])

    assert rebuilt.status == 0, rebuilt.stderr
    assert "sqlalchemy" in rebuilt.loaded
    assert rebuilt.stdout == before.stdout
    (quick,) = _answers(cli, [show])  # rebuilt: current again
    assert _heavy_loaded(quick) == []
    assert (quick.stdout, again.stdout) == (before.stdout, before.stdout)
