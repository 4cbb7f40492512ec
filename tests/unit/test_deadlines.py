"""Reporting deadlines per (who reports, what happened), as domain.md's table gives them."""

from __future__ import annotations

from datetime import datetime

import pytest

from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.deadlines import (
    REPORTING_ROLES,
    SITUATIONS,
    ReportingDeadlines,
    parse_deadline_overrides,
)
from batterytrace.events.working_days import WorkingCalendar

# Monday 2 March 2026, 10:00 China Standard Time; no holidays in the weeks after it.
HANDED_OVER = datetime(2026, 3, 2, 10, 0, tzinfo=CHINA_STANDARD_TIME)
# 25 working days later (five full weeks): past 15 working days, within 30.
REPORTED_25_WORKING_DAYS_LATER = datetime(2026, 4, 6, 9, 0, tzinfo=CHINA_STANDARD_TIME)


def days(rule: object) -> int | None:
    return None if rule is None else rule.working_days  # type: ignore[attr-defined]


def test_a_dismantlers_hand_over_25_working_days_late_is_late() -> None:
    calendar = WorkingCalendar()
    assert calendar.is_late("HandedOver", HANDED_OVER, REPORTED_25_WORKING_DAYS_LATER, ["dismantler"])


def test_an_outlets_hand_over_25_working_days_later_is_on_time() -> None:
    calendar = WorkingCalendar()
    assert not calendar.is_late(
        "HandedOver", HANDED_OVER, REPORTED_25_WORKING_DAYS_LATER, ["outlet_operator"], at_an_outlet=True
    )


def test_hand_over_deadlines_follow_the_reporter() -> None:
    deadlines = ReportingDeadlines()
    assert days(deadlines.rule("HandedOver", ["dismantler"])) == 15
    assert days(deadlines.rule("HandedOver", ["outlet_operator"])) == 30
    assert days(deadlines.rule("HandedOver", ["recycler"])) == 30  # nobody's own row: the "any" row


def test_an_outlet_of_a_vehicle_maker_reports_as_an_outlet() -> None:
    """Vehicle makers' outlets report for them (domain.md): a hand-over out of a collection point
    is the outlet's, whatever roles its operator registered with."""
    rule = ReportingDeadlines().rule("HandedOver", ["vehicle_maker"], at_an_outlet=True)
    assert rule is not None and (rule.role, rule.working_days) == ("outlet_operator", 30)
    assert days(ReportingDeadlines().rule("Collected", ["vehicle_maker"])) == 30


def test_a_participant_with_several_roles_is_held_to_the_shortest_of_their_deadlines() -> None:
    rule = ReportingDeadlines().rule("HandedOver", ["recycler", "dismantler"], at_an_outlet=True)
    assert rule is not None and (rule.role, rule.working_days) == ("dismantler", 15)


def test_a_reinstall_after_a_removal_is_a_repair_with_30_days() -> None:
    deadlines = ReportingDeadlines()
    reinstall = deadlines.rule("Installed", ["vehicle_maker", "outlet_operator"], previous_state="removed")
    assert reinstall is not None and (reinstall.situation, reinstall.working_days) == ("Reinstalled", 30)
    first = deadlines.rule("Installed", ["vehicle_maker"], previous_state="produced")
    assert first is not None and (first.situation, first.working_days) == ("Installed", 15)


def test_a_reinstall_reported_20_working_days_later_is_on_time() -> None:
    calendar = WorkingCalendar()
    reinstalled = HANDED_OVER
    reported = datetime(2026, 3, 30, 9, 0, tzinfo=CHINA_STANDARD_TIME)  # 20 working days on
    assert not calendar.is_late(
        "Installed", reinstalled, reported, ["vehicle_maker"], previous_state="removed"
    )
    assert calendar.is_late("Installed", reinstalled, reported, ["vehicle_maker"], previous_state="produced")


def test_assembling_modules_into_a_pack_has_no_deadline_of_its_own() -> None:
    assert ReportingDeadlines().rule("AssembledInto", ["manufacturer"]) is None


def test_every_situation_has_a_row_for_any_reporter() -> None:
    deadlines = ReportingDeadlines()
    assert all(deadlines.rule(situation, ["regulator"]) is not None for situation in SITUATIONS)


def test_configured_rows_replace_the_defaults_and_keep_the_rest() -> None:
    deadlines = ReportingDeadlines(
        parse_deadline_overrides("dismantler:HandedOver=10, manufacturer:Produced=20")
    )
    assert days(deadlines.rule("HandedOver", ["dismantler"])) == 10
    assert days(deadlines.rule("Produced", ["manufacturer"])) == 20
    assert days(deadlines.rule("HandedOver", ["outlet_operator"], at_an_outlet=True)) == 30


def test_a_deadline_file_may_have_lines_and_comments() -> None:
    text = "# our province's reading\ndismantler:HandedOver=15  # 2026 measures\nany:Recycled=20\n"
    assert parse_deadline_overrides(text) == {("dismantler", "HandedOver"): 15, ("any", "Recycled"): 20}


@pytest.mark.parametrize(
    ("entry", "names"),
    [
        ("dismantler-HandedOver=15", ["dismantler:HandedOver=15"]),
        ("scrapper:HandedOver=15", ["'scrapper'", *REPORTING_ROLES]),
        ("dismantler:Scrapped=15", ["'Scrapped'", *SITUATIONS]),
        ("dismantler:HandedOver=fifteen", ["whole number"]),
        ("dismantler:HandedOver=0", ["1 to 365"]),
    ],
)
def test_a_bad_entry_is_named_with_what_would_be_valid(entry: str, names: list[str]) -> None:
    with pytest.raises(ValueError) as refused:
        parse_deadline_overrides(f"vehicle_maker:Reinstalled=30,{entry}")
    message = str(refused.value)
    assert entry in message
    assert all(name in message for name in names), message
