"""``BATTERYTRACE_POSTGRES_POOL_SIZE``: how many connections a process keeps to the event store."""

from __future__ import annotations

import pytest

from batterytrace.store import InvalidSetting, eventsourcing_env

URL = "postgresql://postgres@127.0.0.1:5432/test"


def test_the_pool_is_five_connections_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATTERYTRACE_POSTGRES_POOL_SIZE", raising=False)
    assert eventsourcing_env(URL)["POSTGRES_POOL_SIZE"] == "5"
    monkeypatch.setenv("BATTERYTRACE_POSTGRES_POOL_SIZE", "1")
    assert eventsourcing_env(URL)["POSTGRES_POOL_SIZE"] == "1"


@pytest.mark.parametrize("given", ["0", "101", "five", "-1"])
def test_a_pool_size_out_of_range_is_refused_with_what_to_give(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv("BATTERYTRACE_POSTGRES_POOL_SIZE", given)
    with pytest.raises(InvalidSetting, match="from 1 to 100"):
        eventsourcing_env(URL)
