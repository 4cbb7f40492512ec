"""The demo generated with its views built: what ``batterytrace demo`` and ``serve --demo`` run.

Why the views come with it: a demo store is meant to be explored at once (reports, pages, the
ledger), and a follower catching a national demo up event by event afterwards would take far
longer than the set-wise rebuild. Where two cores and ``fork`` exist, the rebuild runs beside the
generation (``trace/views_alongside.py``: the two overlap, and the views stand at the head when the
last batch is stored); elsewhere it runs after it, in this process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from batterytrace.demo.national import DemoSummary, generate_demo
from batterytrace.trace.application import BatteryTrace
from batterytrace.trace.views_alongside import ViewsAlongside, ViewsAlongsideFailed


def generate_demo_with_views(
    app: BatteryTrace,
    *,
    progress: Callable[[int], None] | None = None,
    views_started: Callable[[], None] | None = None,
    **options: Any,
) -> DemoSummary:
    """``generate_demo(app, progress=progress, **options)``, then the views built to its last
    event. ``views_started()`` is called once the generation is done and only the views are left
    (a caller shows that it waits for them). A failure of the views leaves the demo's events
    stored and says so (``ViewsAlongsideFailed``, naming ``projections rebuild``)."""
    if not ViewsAlongside.available():
        summary = generate_demo(app, progress=progress, **options)
        if views_started:
            views_started()
        _views_or_hint(summary, lambda: _rebuild_here(app))
        return summary
    alongside = ViewsAlongside()
    alongside.start(app.settings)

    def stored(packs: int) -> None:
        alongside.stored(app.recorder.max_notification_id() or 0)
        if progress:
            progress(packs)

    try:
        summary = generate_demo(app, progress=stored, **options)
    except BaseException:
        alongside.abandon()
        raise
    if views_started:
        views_started()
    _views_or_hint(summary, lambda: alongside.finish(app.recorder.max_notification_id() or 0))
    return summary


def _rebuild_here(app: BatteryTrace) -> int:
    from batterytrace.projections.runner import ViewRunner

    runner = ViewRunner(app)
    try:
        return runner.rebuild()
    finally:
        runner.engine.dispose()


def _views_or_hint(summary: DemoSummary, build: Callable[[], int]) -> None:
    try:
        build()
    except Exception as error:
        raise ViewsAlongsideFailed(
            f"the demo's {summary.events} events are stored, but its views could not be built: "
            f"{error}. Build them with: batterytrace projections rebuild"
        ) from error
