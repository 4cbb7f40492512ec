"""The CLI's plain reads (``projections/plain_reads.py``: DB-API only, no SQLAlchemy) answer exactly
what their SQLAlchemy twins in ``queries`` / ``report_queries`` answer, on both stores: every
battery's lifecycle document and the compliance findings under every filter, on the national demo
(every planted finding) and on the varied store (every stage and link); and they call views
current exactly when ``freshness.views_are_current`` does."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from batterytrace.events.credit_code import credit_code_check_character
from batterytrace.projections import plain_reads, queries, report_queries
from batterytrace.projections.filters import Filters
from batterytrace.projections.freshness import views_are_current
from batterytrace.projections.plain_db import PlainConnection
from batterytrace.projections.runner import ViewRunner
from batterytrace.projections.tables import lifecycle_batteries
from batterytrace.projections.view_rows import FINDING_KINDS
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.settings import Settings
from tests.utils.cast import NationalCast
from tests.utils.stores import store_url
from tests.utils.views import demo_store, varied_store


@dataclass
class Views:
    url: str
    app: BatteryTrace
    engine: Engine
    plain: PlainConnection
    now: datetime

    def codes(self) -> list[str]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(lifecycle_batteries.c.code).order_by("code")).scalars())


def _open(url: str, app: BatteryTrace, now: datetime) -> Iterator[Views]:
    runner = ViewRunner(app)
    runner.catch_up()
    plain = plain_reads.open_current_views(url, app.settings.working_calendar())
    assert plain is not None, "views that hold every event must be current for the plain reads"
    try:
        yield Views(url, app, runner.engine, plain, now)
    finally:
        plain.close()
        runner.engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Views]:
    """The national demo (every planted compliance case) and its views, once per store."""
    with store_url(request, tmp_path_factory, "plain") as url:
        now = datetime.now(UTC).replace(microsecond=0)
        app = BatteryTrace(Settings(database_url=url), clock=lambda: now)
        try:
            demo_store(app, batteries=60)
            yield from _open(url, app, now)
        finally:
            app.close()


def _same_lifecycles(views: Views, codes: list[str]) -> None:
    assert codes
    for code in codes:
        for days in (90, 1):  # the overdue flag, off and on
            expected = queries.battery_lifecycle(views.engine, code, now=views.now, overdue_days=days)
            got = plain_reads.battery_lifecycle(views.plain, code, now=views.now, overdue_days=days)
            assert got == expected, code
            assert repr(got) == repr(expected), code  # the same keys in the same order, the same types


def test_every_demo_battery_reads_the_same(demo: Views) -> None:
    _same_lifecycles(demo, demo.codes())
    assert plain_reads.battery_lifecycle(demo.plain, "3CAPB120A1B2C3R7F0000123", now=demo.now) is None


def test_the_varied_store_reads_the_same(database_url: str, app: BatteryTrace, cast: NationalCast) -> None:
    store = varied_store(app, cast)
    for views in _open(database_url, app, datetime.now(UTC)):
        _same_lifecycles(views, sorted(views.codes()))
        assert set(store.codes) <= set(views.codes())
        assert list(plain_reads.compliance_rows(views.plain)) == list(
            report_queries.compliance_rows(views.engine, now=views.now)
        )


FILTERS = [
    Filters(),
    Filters(limit=1),
    Filters(limit=3, offset=1),
    Filters(offset=2),
    Filters(region="44"),
    Filters(region="440300"),
    Filters(since=date(2025, 1, 1)),
    Filters(until=date(2025, 6, 30)),
    Filters(since=date(2024, 1, 1), until=date(2030, 12, 31), limit=4),
    Filters(until=date.max),
]


@pytest.mark.parametrize("kind", [None, *FINDING_KINDS])
@pytest.mark.parametrize("filters", FILTERS, ids=repr)
def test_compliance_reads_the_same(demo: Views, filters: Filters, kind: str | None) -> None:
    expected = list(report_queries.compliance_rows(demo.engine, filters, kind=kind, now=demo.now))
    got = list(plain_reads.compliance_rows(demo.plain, filters, kind=kind, now=demo.now))

    assert repr(got) == repr(expected)


def test_every_planted_finding_is_read(demo: Views) -> None:
    kinds = {row["kind"] for row in plain_reads.compliance_rows(demo.plain, now=demo.now)}

    assert {"non_compliant_handover", "outlet_over_capacity", "scrapped_not_handed_over"} <= kinds


def test_a_manufacturers_findings_read_the_same(demo: Views) -> None:
    makers = {r["manufacturer_id"] for r in report_queries.compliance_rows(demo.engine, now=demo.now)} - {
        None
    }
    assert makers
    for maker in sorted(makers):
        filters = Filters(manufacturer=maker)
        expected = list(report_queries.compliance_rows(demo.engine, filters, now=demo.now))
        assert list(plain_reads.compliance_rows(demo.plain, filters, now=demo.now)) == expected


def test_the_scrapped_finding_depends_on_now(demo: Views) -> None:
    """A state of now: a moment long before the deadline shows none, as through SQLAlchemy."""
    earlier = demo.now - timedelta(days=3650)
    kind = "scrapped_not_handed_over"

    assert list(plain_reads.compliance_rows(demo.plain, kind=kind, now=earlier)) == []
    assert list(plain_reads.compliance_rows(demo.plain, kind=kind, now=demo.now)) == list(
        report_queries.compliance_rows(demo.engine, kind=kind, now=demo.now)
    )


# --------------------------------------------------------------------------------- freshness
def _current(url: str, app: BatteryTrace, engine: Engine, calendar: Any = None) -> tuple[bool, bool]:
    """(plain, SQLAlchemy): whether each calls the views current."""
    calendar = calendar or app.settings.working_calendar()
    plain = plain_reads.open_current_views(url, calendar)
    if plain is not None:
        plain.close()
    return plain is not None, views_are_current(engine, calendar)


def test_plain_freshness_agrees_with_the_sqlalchemy_one(
    database_url: str, app: BatteryTrace, cast: NationalCast
) -> None:
    runner = ViewRunner(app)
    try:
        assert _current(database_url, app, runner.engine) == (False, False)  # the cast not applied

        runner.catch_up()
        assert _current(database_url, app, runner.engine) == (True, True)

        first17 = "91440300MA5F00009"
        app.register_participant(
            actor_id=cast.regulator,
            credit_code=first17 + credit_code_check_character(first17),
            name="Late Recycler",
            roles=["recycler"],
        )
        assert _current(database_url, app, runner.engine) == (False, False)  # one event behind

        runner.catch_up()
        other = Settings(database_url="sqlite://", holidays=(date(2026, 10, 1),)).working_calendar()
        assert _current(database_url, app, runner.engine, other) == (False, False)  # other settings
        assert _current(database_url, app, runner.engine) == (True, True)
    finally:
        runner.engine.dispose()


def test_a_store_without_views_or_without_a_file_is_not_current(tmp_path: Any) -> None:
    calendar = Settings().working_calendar()
    missing = tmp_path / "missing.db"
    assert plain_reads.open_current_views(f"sqlite:///{missing}", calendar) is None
    assert not missing.exists()  # the plain read never creates a file

    app = BatteryTrace(Settings(database_url=f"sqlite:///{tmp_path / 'events.db'}"))
    try:
        assert plain_reads.open_current_views(app.settings.database_url, calendar) is None  # no views
    finally:
        app.close()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n")
    assert plain_reads.open_current_views(f"sqlite:///{notes}", calendar) is None
