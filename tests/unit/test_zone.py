"""Times shown to a person are China Standard Time with the offset (issue 11, item 2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from batterytrace.events.zone import CHINA_STANDARD_TIME, china_local, in_china_time, shown_time
from batterytrace.projections.event_data import plain

REPORTED = datetime(2019, 12, 28, 4, 29, 26, 512_000, tzinfo=UTC)  # 12:29:26 in Beijing


def test_a_report_recorded_in_utc_is_shown_at_beijing_time_with_its_offset() -> None:
    assert shown_time(REPORTED) == "2019-12-28 12:29:26+08:00"
    assert shown_time(REPORTED.isoformat()) == "2019-12-28 12:29:26+08:00"
    assert shown_time("2019-12-28T10:32:00+08:00") == "2019-12-28 10:32:00+08:00"


def test_a_time_in_another_zone_is_moved_not_relabelled() -> None:
    berlin_winter = timezone(timedelta(hours=1))
    moment = datetime(2026, 1, 5, 6, 0, tzinfo=berlin_winter)

    assert in_china_time(moment) == moment
    assert shown_time(moment) == "2026-01-05 13:00:00+08:00"


def test_a_time_without_a_zone_is_china_standard_time_as_everywhere_on_the_platform() -> None:
    assert in_china_time(datetime(2026, 3, 1, 9, 0)).tzinfo is CHINA_STANDARD_TIME
    assert shown_time("2026-03-01T09:00:00") == "2026-03-01 09:00:00+08:00"


def test_nothing_is_shown_as_an_empty_cell() -> None:
    assert shown_time(None) == "" and shown_time("") == ""


def test_plain_values_carry_times_in_china_standard_time_and_dates_as_they_are() -> None:
    assert plain(REPORTED) == "2019-12-28T12:29:26.512000+08:00"
    assert plain({"at": [REPORTED]}) == {"at": ["2019-12-28T12:29:26.512000+08:00"]}
    assert plain(REPORTED.date()) == "2019-12-28"


def test_china_local_gives_the_fields_astimezone_gives_and_keeps_a_time_already_at_plus_eight() -> None:
    stored = datetime.fromisoformat("2026-01-31T23:30:00+08:00")  # as an event's time is revived
    assert china_local(stored) is stored
    for moment in (
        datetime(2026, 1, 31, 16, 30, tzinfo=UTC),  # 00:30 on 1 February in Beijing
        datetime(2026, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
        stored,
    ):
        local = china_local(moment)
        expected = moment.astimezone(CHINA_STANDARD_TIME)
        assert (local.date(), local.hour, local.minute) == (expected.date(), expected.hour, expected.minute)
        assert local == moment  # the same instant
