"""P8's plumbing without a store: each row's baseline is the library's save at the same number of
clients, and the work is shared out whole."""

from __future__ import annotations

from bench.write_ceiling import FULL, QUICK, chunks, json_rows, split


def test_every_row_is_compared_with_the_library_at_the_same_concurrency() -> None:
    rates = {
        "library_save_c1": 100.0,
        "library_save_c4": 120.0,
        "single_c1": 60.0,
        "single_c4": 90.0,
        "batch100_c4": 1200.0,
        "db_functions_c4": 180.0,
    }
    rows = {row["metric"]: row for row in json_rows("postgres", rates)}
    assert rows["P8_library_save_c1"]["baseline"] is None
    assert (rows["P8_single_c1"]["baseline"], rows["P8_single_c1"]["ratio"]) == (100.0, 0.6)
    assert (rows["P8_single_c4"]["baseline"], rows["P8_single_c4"]["ratio"]) == (120.0, 0.75)
    assert (rows["P8_batch100_c4"]["unit"], rows["P8_batch100_c4"]["ratio"]) == ("batteries/s", 10.0)
    assert rows["P8_db_functions_c4"]["ratio"] == 1.5
    assert {row["ok"] for row in rows.values()} == {None}  # no goals: figures for the sizing table


def test_the_work_is_shared_out_whole() -> None:
    items = [f"b{i}" for i in range(10)]
    shares = split(items, 4)
    assert sorted(item for share in shares for item in share) == sorted(items) and [
        len(s) for s in shares
    ] == [3, 3, 2, 2]
    assert [len(c) for c in chunks(items, 4)] == [4, 4, 2]


def test_the_full_run_has_the_issues_client_counts_and_batch_sizes() -> None:
    assert FULL.clients == (1, 4, 16, 32) and FULL.batch_sizes == (10, 100)
    assert set(QUICK.clients) < set(FULL.clients)
