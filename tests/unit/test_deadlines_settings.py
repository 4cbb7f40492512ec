"""BATTERYTRACE_DEADLINES: deadline rows as configuration, refused clearly when malformed."""

from __future__ import annotations

from pathlib import Path

import pytest

from batterytrace.trace.settings import ConfigurationError, Settings


def test_the_setting_changes_the_calendars_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATTERYTRACE_DEADLINES", "dismantler:HandedOver=10,vehicle_maker:Reinstalled=20")
    calendar = Settings.from_environment().working_calendar()
    dismantler = calendar.rule("HandedOver", ["dismantler"])
    reinstall = calendar.rule("Installed", ["vehicle_maker"], previous_state="removed")
    assert dismantler is not None and dismantler.working_days == 10
    assert reinstall is not None and reinstall.working_days == 20


def test_the_setting_may_name_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rows = tmp_path / "deadlines.txt"
    rows.write_text("manufacturer:Produced=20\n", encoding="utf-8")
    monkeypatch.setenv("BATTERYTRACE_DEADLINES", f"@{rows}")
    rule = Settings.from_environment().working_calendar().rule("Produced", ["manufacturer"])
    assert rule is not None and rule.working_days == 20


def test_without_the_setting_the_defaults_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATTERYTRACE_DEADLINES", raising=False)
    rule = Settings.from_environment().working_calendar().rule("HandedOver", ["dismantler"])
    assert rule is not None and rule.working_days == 15


def test_a_bad_entry_names_the_setting_the_entry_and_the_valid_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATTERYTRACE_DEADLINES", "dismantler:HandedOver=15,scrapper:HandedOver=15")
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_environment()
    message = str(refused.value)
    assert message.startswith("BATTERYTRACE_DEADLINES: ")
    assert "'scrapper:HandedOver=15'" in message
    assert "roles: manufacturer, vehicle_maker, outlet_operator, dismantler" in message


def test_a_missing_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BATTERYTRACE_DEADLINES", f"@{tmp_path / 'absent.txt'}")
    with pytest.raises(ConfigurationError, match="BATTERYTRACE_DEADLINES: cannot read"):
        Settings.from_environment()
