"""``batterytrace export epcis`` as users run it (the console script in a child process) on a SQLite
store holding a battery at every stage: the whole store, some batteries, what was recorded after a
log position; to a file or stdout; every document valid EPCIS 2.0.1 with each event's ledger leaf;
an unknown code refused in one line before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batterytrace.events.epcis_mapping import LEDGER_LEAF
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.epcis.source import battery_topics
from batterytrace.trace.settings import Settings
from tests.e2e.test_cli import Cli
from tests.utils.cast import register_cast
from tests.utils.epcis import schema_errors
from tests.utils.views import VariedStore, battery_code, varied_store


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, VariedStore, int, int]:
    """The store, what it holds, how many battery events and the last one's log position."""
    folder: Path = tmp_path_factory.mktemp("cli-epcis")
    url = f"sqlite:///{folder / 'batterytrace.db'}"
    app = BatteryTrace(Settings(database_url=url))
    try:
        store = varied_store(app, register_cast(app))
        events = sum(len(app.history(code)) for code in store.codes)
        logged = app.recorder.select_notifications(start=1, limit=10_000, topics=battery_topics())
    finally:
        app.close()
    return Cli(url, folder), store, events, logged[-1].id


def test_the_whole_store_to_a_file(stored: tuple[Cli, VariedStore, int, int]) -> None:
    cli, _, events, _ = stored
    cli.ok("export", "epcis", "--output", "all.jsonld")
    document = json.loads((cli.cwd / "all.jsonld").read_text("utf-8"))
    assert len(document["epcisBody"]["eventList"]) == events
    assert schema_errors(document) == []
    # the ledger was brought up to date first: every event names its leaf, each its own
    leaves = [event[LEDGER_LEAF]["bt:index"] for event in document["epcisBody"]["eventList"]]
    assert len(set(leaves)) == events


def test_some_batteries_and_what_came_after_a_position_to_stdout(
    stored: tuple[Cli, VariedStore, int, int],
) -> None:
    cli, store, _, last = stored
    pack = cli.ok("export", "epcis", store.pack, *store.modules).json()["epcisBody"]["eventList"]
    named = {
        uri
        for event in pack
        for key in ("epcList", "childEPCs", "inputEPCList")
        for uri in event.get(key, ())
    }
    assert {uri.rsplit("/", 1)[1] for uri in named} == {store.pack, *store.modules}
    assert schema_errors(cli.ok("export", "epcis", store.pack).json()) == []
    after = cli.ok("export", "epcis", "--since", str(last - 1)).json()
    assert len(after["epcisBody"]["eventList"]) == 1
    assert cli.ok("export", "epcis", "--since", str(last)).json()["epcisBody"]["eventList"] == []


def test_an_unknown_battery_is_refused_before_anything_is_written(
    stored: tuple[Cli, VariedStore, int, int],
) -> None:
    cli, *_ = stored
    unknown = battery_code("P", 999)
    assert f"battery {unknown} is not registered" in cli.refused(
        "export", "epcis", unknown, "--output", "none.jsonld"
    )
    assert not (cli.cwd / "none.jsonld").exists()
