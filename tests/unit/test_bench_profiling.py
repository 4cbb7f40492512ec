"""The benchmark's profiles explain a missed goal: the summaries point at our own functions."""

from bench.profiling import Profiles, folded_summary, profile_name

SCAN = 'process 1:"uvicorn";scan (batterytrace/trace/api/routes/scan.py:80)'
FOLDED = "\n".join(
    [
        f"{SCAN};execute (batterytrace/trace/application.py:200);execute (sqlite3) 60",
        f"{SCAN};render (starlette/responses.py:40) 20",
        'process 1:"uvicorn";follow (batterytrace/projections/runner.py:300);'
        "apply (batterytrace/projections/lifecycle_view.py:50) 20",
    ]
)


def test_the_summary_gives_each_own_function_its_share_of_the_samples():
    lines = folded_summary(FOLDED)
    assert lines[0] == "100 samples; batterytrace functions on the stack (inclusive):"
    assert "   80.0%  scan (batterytrace/trace/api/routes/scan.py:80)" in lines
    assert "   20.0%  follow (batterytrace/projections/runner.py:300)" in lines
    landed = lines[lines.index("where the samples landed (exclusive):") + 1 :]
    assert landed[0] == "   60.0%  execute (sqlite3)"


def test_rows_of_one_run_share_its_profile():
    assert profile_name("P2_scan_p99", "sqlite") == "P2-sqlite"
    assert profile_name("P4_rebuild_rate", "postgres") == "P3-postgres"
    assert profile_name("P1_import_rate", "sqlite") == "P1-sqlite"


def test_only_missed_goals_are_explained():
    profiles = Profiles(None)
    profiles.summaries["P2-sqlite"] = ["py-spy, P2-sqlite.folded", "  50.0%  scan"]
    rows = [
        {"metric": "P2_scan_rate", "store": "sqlite", "ok": False},
        {"metric": "P1_import_rate", "store": "sqlite", "ok": True},
    ]
    assert profiles.explain(rows) == [
        "P2_scan_rate (sqlite) missed; where the time went:",
        "py-spy, P2-sqlite.folded",
        "  50.0%  scan",
        "",
    ]
