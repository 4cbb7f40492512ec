"""Callers authenticated a moment ago are not looked up again (``deps.RecentCallers``), and a scan
reads its collection point, battery and maker in one statement; on SQLite and PostgreSQL (``api``).

The bound that makes the first safe is tested here: a key revoked through this service stops
working at the next request; one revoked by another process (a second application on the same
store, as the CLI or another worker would) works for at most ``AUTH_CACHE_SECONDS`` more by the
service's clock, then never again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from batterytrace.events.api_key import parse_token
from batterytrace.trace import application
from batterytrace.trace.api import deps
from batterytrace.trace.api.deps import AUTH_CACHE_SECONDS, RecentCallers
from batterytrace.trace.application import BatteryTrace
from tests.e2e.test_api_scan import retired, scan_text
from tests.utils.api import Api


def whoami(api: Api, token: str) -> int:
    """Status of an authenticated read of the caller's own keys."""
    path = f"/api/v1/participants/{api.cast.dismantler}/keys"
    return api.client.get(path, headers={"Authorization": f"Bearer {token}"}).status_code


def frozen_clock(api: Api, monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """The service's clock held still; the returned function moves it to ``start + seconds``."""
    start = api.service.clock()

    def move(seconds: float) -> None:
        monkeypatch.setattr(api.service, "clock", lambda: start + timedelta(seconds=seconds))

    move(0)
    return move


def counted_lookups(api: Api, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every ``service.authenticate`` (a key and a participant read from the store)."""
    calls: list[str] = []
    real = api.service.authenticate

    def authenticate(token: str) -> Any:
        calls.append(token)
        return real(token)

    monkeypatch.setattr(api.service, "authenticate", authenticate)
    return calls


def fresh_key(api: Api) -> str:
    return api.service.issue_api_key(actor_id=None, participant_id=api.cast.dismantler).token


def test_a_key_used_again_within_the_window_is_not_looked_up_again(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = fresh_key(api)
    move = frozen_clock(api, monkeypatch)
    lookups = counted_lookups(api, monkeypatch)
    for seconds in (0, 1, AUTH_CACHE_SECONDS - 0.5):
        move(seconds)
        assert whoami(api, token) == 200
    assert len(lookups) == 1
    move(AUTH_CACHE_SECONDS + 0.5)
    assert whoami(api, token) == 200
    assert len(lookups) == 2


def test_a_key_revoked_through_this_service_stops_at_the_next_request(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = fresh_key(api)
    frozen_clock(api, monkeypatch)
    assert whoami(api, token) == 200
    api.service.revoke_api_key(actor_id=None, key_id=parse_token(token)[0], reason="leaked")
    assert whoami(api, token) == 401


def test_a_key_rotated_over_http_stops_at_the_next_request(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    token = fresh_key(api)
    frozen_clock(api, monkeypatch)
    assert whoami(api, token) == 200
    rotated = api.client.post(
        f"/api/v1/keys/{parse_token(token)[0]}/rotate", headers={"Authorization": f"Bearer {token}"}
    )
    assert rotated.status_code == 200, rotated.text
    assert whoami(api, token) == 401
    assert whoami(api, rotated.json()["token"]) == 200


def test_a_key_revoked_by_another_process_stops_within_the_window(
    api: Api, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = fresh_key(api)
    move = frozen_clock(api, monkeypatch)
    assert whoami(api, token) == 200
    elsewhere = BatteryTrace(api.service.settings)  # the CLI, or another worker: not this process's saves
    try:
        elsewhere.revoke_api_key(actor_id=None, key_id=parse_token(token)[0], reason="leaked")
    finally:
        elsewhere.close()
    move(AUTH_CACHE_SECONDS / 2)
    assert whoami(api, token) == 200  # the documented window: still known here
    move(AUTH_CACHE_SECONDS)
    assert whoami(api, token) == 401
    move(0)  # and not known again when the clock goes back: the entry is gone
    assert whoami(api, token) == 401


def test_a_wrong_secret_is_never_remembered(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    token = fresh_key(api)
    frozen_clock(api, monkeypatch)
    lookups = counted_lookups(api, monkeypatch)
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert [whoami(api, wrong) for _ in range(2)] == [401, 401]
    assert len(lookups) == 2


def test_a_known_key_from_a_throttled_address_is_still_refused(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = fresh_key(api)
    frozen_clock(api, monkeypatch)
    assert whoami(api, token) == 200
    guard = api.client.app.state.auth_guard  # type: ignore[attr-defined]
    monkeypatch.setattr(guard.throttle, "wait_seconds", lambda keys: 30.0)
    assert whoami(api, token) == 429


def test_the_cache_is_bounded_and_keeps_no_secret() -> None:
    class Service:
        identity_version = 0

        @staticmethod
        def clock() -> datetime:
            return datetime(2026, 1, 1)

    recent = RecentCallers(max_entries=2)
    for n in range(3):
        recent.put(f"bt_k{n}_secret{n}", object(), at=Service.clock(), version=0)  # type: ignore[arg-type]
    assert recent.get("bt_k0_secret0", Service) is None  # type: ignore[arg-type]
    assert recent.get("bt_k2_secret2", Service) is not None  # type: ignore[arg-type]
    assert not any("secret" in repr(key) for key in recent._entries)
    Service.identity_version = 1  # a participant or key changed in this process: all forgotten
    assert recent.get("bt_k2_secret2", Service) is None  # type: ignore[arg-type]


def test_a_json_scan_reads_its_point_battery_and_maker_in_one_statement(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = retired(api, 901)
    service = api.service
    assert scan_text(api, retired(api, 902), "warm").status_code == 201  # the caller is known now
    reads: list[tuple[str, ...]] = []
    real_select = application.select_streams

    def select_streams(recorder: Any, stream_ids: Any) -> Any:
        reads.append(tuple(stream_ids))
        return real_select(recorder, stream_ids)

    single: list[str] = []
    real_get = service.repository.get

    def get(stream_id: str, **kwargs: Any) -> Any:
        single.append(stream_id)
        return real_get(stream_id, **kwargs)

    monkeypatch.setattr(application, "select_streams", select_streams)
    monkeypatch.setattr(service.repository, "get", get)
    answer = scan_text(api, pack, "one-read")
    assert answer.status_code == 201, answer.text
    # the battery first (a queued batch keys its writes by it), the maker by the warm scan's hint
    assert reads == [(pack, api.cast.collection_point, api.cast.manufacturer)]
    assert not {pack, api.cast.collection_point, api.cast.manufacturer} & set(single)
    assert api.keys["outlet_operator"] not in single and not any(s.startswith("KEY-") for s in single)


def test_deps_do_not_hop_to_a_thread_for_a_known_caller(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    token = fresh_key(api)
    frozen_clock(api, monkeypatch)
    assert whoami(api, token) == 200
    hops: list[object] = []
    real = deps.run_in_threadpool

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(deps, "run_in_threadpool", counted)
    assert whoami(api, token) == 200
    assert hops == []
