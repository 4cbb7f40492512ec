"""One shape for every benchmark and fault-run figure, printed as a table and as JSON.

CI and the issue tracker compare runs by reading the last line of ``--json`` output, so every
figure, whatever produced it, is the same flat object: ``metric, store, value, unit, baseline,
ratio, goal, ok``. ``ok`` is None where a figure has no goal (it is context, e.g. CPU share).
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

KEYS = ("metric", "store", "value", "unit", "baseline", "ratio", "goal", "ok")


def figure(
    metric: str,
    store: str,
    value: float | int | None,
    unit: str,
    *,
    baseline: float | int | None = None,
    ratio: float | None = None,
    goal: str | None = None,
    ok: bool | None = None,
) -> dict[str, Any]:
    """A row in the common shape (rounded so the JSON stays readable)."""

    def tidy(number: float | int | None) -> float | int | None:
        return round(number, 3) if isinstance(number, float) else number

    return dict(
        metric=metric,
        store=store,
        value=tidy(value),
        unit=unit,
        baseline=tidy(baseline),
        ratio=tidy(ratio),
        goal=goal,
        ok=ok,
    )


def failed(metric: str, store: str, error: BaseException) -> dict[str, Any]:
    """A figure that could not be measured: reported, not hidden, and counted as a missed goal."""
    return figure(metric, store, None, "error", goal=f"{type(error).__name__}: {error}"[:300], ok=False)


def print_table(rows: list[dict[str, Any]], title: str, console: Console | None = None) -> None:
    """The rows as a Rich table on stdout (the JSON line, when asked for, is printed after it)."""
    table = Table(*KEYS, title=title)
    for row in rows:
        verdict = {True: "[green]yes[/]", False: "[red]NO[/]", None: "-"}[row["ok"]]
        cells = ["" if row[k] is None else str(row[k]) for k in KEYS[:-1]]
        table.add_row(*cells, verdict)
    (console or Console(width=170)).print(table)


def json_line(rows: list[dict[str, Any]]) -> str:
    return json.dumps([{k: row[k] for k in KEYS} for row in rows])
