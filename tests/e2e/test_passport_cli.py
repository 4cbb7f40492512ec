"""``batterytrace models add``, ``readings`` and ``passport`` as users run them (the console script
in a child process) on a SQLite store holding a battery at every stage: the owner posts a model,
another maker is refused in one line, the holder reports readings, and the passport prints whole
for the operator, cut for a participant and for the public, valid against the Battery Pass schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.e2e.test_cli import Cli
from tests.utils.batterypass import aspect_errors, model_body, readings_body
from tests.utils.cast import NationalCast, register_cast
from tests.utils.views import VariedStore, varied_store


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, VariedStore, NationalCast]:
    folder: Path = tmp_path_factory.mktemp("cli-passport")
    url = f"sqlite:///{folder / 'batterytrace.db'}"
    app = BatteryTrace(Settings(database_url=url))
    try:
        cast = register_cast(app)
        store = varied_store(app, cast)
    finally:
        app.close()
    (folder / "model.json").write_text(json.dumps(model_body("3CAPB12")), "utf-8")
    (folder / "readings.json").write_text(json.dumps(readings_body()), "utf-8")
    (folder / "bad.json").write_text(json.dumps({**model_body(), "warranty_months": 0}), "utf-8")
    return Cli(url, folder), store, cast


def test_models_readings_and_the_passport_from_the_command_line(
    stored: tuple[Cli, VariedStore, NationalCast],
) -> None:
    cli, store, cast = stored
    code = store.others["installed"]
    refused = cli.refused("models", "add", "model.json", "--as", cast.other_manufacturer)
    assert "cannot post model 3CAPB12" in refused and cast.manufacturer not in refused
    assert "warranty_months" in cli.refused("models", "add", "bad.json", "--as", cast.manufacturer)
    assert "cannot read nothing.json" in cli.refused(
        "models", "add", "nothing.json", "--as", cast.manufacturer
    )
    assert "model 3CAPB12" in cli.ok("models", "add", "model.json", "--as", cast.manufacturer).stdout
    assert "already recorded" in cli.ok("models", "add", "model.json", "--as", cast.manufacturer).stdout
    assert "do not hold it" in cli.refused("readings", code, "readings.json", "--as", cast.manufacturer)
    cli.ok("readings", code, "readings.json", "--as", cast.vehicle_maker)

    whole = cli.ok("passport", code).json()
    assert whole["access"] == "authorities" and whole["withheld"] == {} and aspect_errors(whole) == []
    holder = cli.ok("passport", code, "--as", cast.vehicle_maker).json()
    assert holder["access"] == "legitimate_interest" and aspect_errors(holder) == []
    public = cli.ok("passport", code, "--public").json()
    assert public["access"] == "public" and aspect_errors(public) == []
    assert public == cli.ok("passport", code, "--as", cast.informal_recycler).json()
    assert "its passport has ended" in cli.refused("passport", store.pack)
