"""``bench.rebuild_rate --per-view``: each view rebuilt alone, as a release that changes one view's
tables rebuilds it, gives the rows the rebuild of all of them gave, and a rate for each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from batterytrace.projections.runner import ViewRunner
from batterytrace.trace.application import BatteryTrace
from bench.rebuild_rate import view_rates
from tests.integration.test_setwise_rebuild import SETWISE, positions_of, three_views
from tests.utils.views import demo_store, differences, view_contents


@pytest.fixture
def runner(app: BatteryTrace) -> Iterator[ViewRunner]:
    made = ViewRunner(app, views=three_views(app))
    yield made
    made.engine.dispose()


def test_each_view_rebuilt_alone_gives_its_rate_and_the_same_rows(
    app: BatteryTrace, runner: ViewRunner
) -> None:
    demo_store(app, batteries=40)
    runner.rebuild()
    together = view_contents(runner.engine)
    head = runner.head()

    rates = view_rates(runner, head)

    assert sorted(rates) == sorted(runner.views)
    assert all(rate > 0 for rate in rates.values()), rates
    alone = view_contents(runner.engine)
    assert alone == together, differences(alone, together)
    assert positions_of(runner) == dict.fromkeys(SETWISE, head)
