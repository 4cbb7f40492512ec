"""What every fault run shares: a tally of failures, reported in the benchmarks' figure shape,
and the environment for ``batterytrace`` child processes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from bench.results import figure

MAX_LISTED = 5


@dataclass
class Tally:
    """Failures found by one run, with the first few described (a figure alone says nothing
    about what to fix)."""

    metric: str
    store: str
    context: str = ""
    failures: list[str] = field(default_factory=list)

    def check(self, holds: bool, what: str) -> bool:
        if not holds:
            self.failures.append(what)
        return holds

    def row(self) -> dict[str, Any]:
        unit = "failures" + (f" ({self.context})" if self.context else "")
        return figure(self.metric, self.store, len(self.failures), unit, goal="0", ok=not self.failures)

    def details(self) -> list[str]:
        shown = [f"  {self.metric} [{self.store}]: {f}" for f in self.failures[:MAX_LISTED]]
        if len(self.failures) > MAX_LISTED:
            shown.append(f"  … and {len(self.failures) - MAX_LISTED} more")
        return shown


def child_env(database_url: str) -> dict[str, str]:
    """This environment without any BATTERYTRACE_ setting of the caller's, on ``database_url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATTERYTRACE_")}
    env.update(BATTERYTRACE_DATABASE_URL=database_url, NO_COLOR="1", COLUMNS="200", PYTHONUNBUFFERED="1")
    return env
