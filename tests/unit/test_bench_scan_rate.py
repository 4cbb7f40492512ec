"""P2's plumbing that runs without a server: the rows of the scan and mixed-write loads."""

from __future__ import annotations

import pytest

from batterytrace.projections.runner import default_views
from bench.scan_rate import LedgerCost, RunFigures, StoreFigures, json_rows


def run(requests: int, p99_ms: float = 20.0) -> RunFigures:
    return RunFigures(
        requests=requests,
        errors=0,
        seconds=10.0,
        p50_ms=p99_ms / 2,
        p99_ms=p99_ms,
        server_cpu=1.0,
        client_cpu=0.1,
        exhausted=False,
    )


def test_the_mixed_load_is_reported_in_rows_of_its_own() -> None:
    figures = StoreFigures("sqlite", run(1000), run(4000), mix=run(3000, 40.0), mix_bare=run(6000))
    rows = {row["metric"]: row for row in json_rows([figures])}
    assert rows["scan_rate"]["ratio"] == 0.25 and rows["scan_rate"]["ok"]
    assert rows["mix_rate"]["ratio"] == 0.5 and rows["mix_rate"]["ok"]
    assert rows["mix_p99"]["value"] == 40.0 and rows["mix_p99"]["ok"]
    assert {name.split("_", 1)[1] for name in rows} == {"rate", "p99", "p50", "errors", "server_cpu"}


def test_without_the_mixed_load_only_scan_rows() -> None:
    rows = json_rows([StoreFigures("postgres", run(100, 80.0), run(4000))])
    assert all(row["metric"].startswith("scan_") for row in rows)
    assert not next(row for row in rows if row["metric"] == "scan_p99")["ok"]


def test_the_log_s_cost_is_the_scan_rate_with_it_against_the_mean_without_it() -> None:
    cost = LedgerCost(run(960), [run(1000), run(1020)])
    figures = StoreFigures("sqlite", run(960), run(4000), ledger=cost)
    row = next(r for r in json_rows([figures]) if r["metric"] == "scan_rate_log_on_vs_off")
    assert row["baseline"] == 101.0 and round(row["ratio"], 3) == 0.950 and row["ok"]
    slower = StoreFigures("sqlite", run(900), run(4000), ledger=LedgerCost(run(900), [run(1000)]))
    assert not next(r for r in json_rows([slower]) if r["metric"] == "scan_rate_log_on_vs_off")["ok"]


def test_the_ledger_view_can_be_left_out_to_measure_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "ledger" in default_views()
    monkeypatch.setenv("BATTERYTRACE_LEDGER", "off")
    assert set(default_views()) == {"lifecycle", "network", "reports"}
