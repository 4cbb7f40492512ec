"""Scans and lifecycle commands queued together (``api/written_together.py``, run by
``api/batch_thread.py``): each answered as it would have been alone, on SQLite and PostgreSQL.

A batch reads every point, battery and maker at once and records every plain collection in one
transaction; whatever is not plain (a bad body, a refusal, a second scan of the same battery) is
made alone after it, and a batch that lost a race to another writer is made again scan by scan.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest
from fastapi.exceptions import RequestValidationError

from batterytrace.events.commands import Collect, HandOver, Install, Reporting
from batterytrace.events.errors import InvalidInput, LifecycleViolation, NotAuthorised, NotFound
from batterytrace.trace.api.routes.scan import JsonScan
from batterytrace.trace.api.written_together import CommandJob, write_together
from tests.e2e.test_api_scan import code, collected_events, retired, scans
from tests.utils.api import Api


def queued(api: Api, member: str, text: str, scan_id: str, point: str | None = None) -> JsonScan:
    caller = api.service.participant(getattr(api.cast, member))
    body = orjson.dumps({"text": text, "client_scan_id": scan_id})
    return JsonScan(caller, point or api.cast.collection_point, body)


def test_a_batch_answers_each_scan_as_it_would_be_answered_alone(api: Api) -> None:
    first, second, third = retired(api, 1), retired(api, 2), retired(api, 3)
    outcomes = write_together(
        api.service,
        [
            queued(api, "outlet_operator", first, "a-1"),
            queued(api, "outlet_operator", second, "b-1"),
            queued(api, "outlet_operator", first, "a-1"),  # the same scan again: answered again
            queued(api, "outlet_operator", first, "a-2"),  # another scan of it: already collected
            JsonScan(api.service.participant(api.cast.outlet_operator), api.cast.collection_point, b"{}"),
            queued(api, "outlet_operator", code(99), "unknown"),
            queued(api, "vehicle_maker", third, "not-the-operator"),
            queued(api, "outlet_operator", third, "c-1"),
            queued(api, "outlet_operator", third, "elsewhere", point="CP-999999-0001"),
        ],
    )
    answers = [outcome.value for outcome in outcomes]
    errors = [outcome.error for outcome in outcomes]
    assert [a["code"] if a else None for a in answers] == [first, second, first] + [None] * 4 + [third, None]
    assert [a["replayed"] for a in answers if a] == [False, False, True, False]
    assert answers[2]["collected_at"] == answers[0]["collected_at"]
    assert isinstance(errors[3], LifecycleViolation) and "is collected: cannot collect" in errors[3].message
    assert isinstance(errors[4], RequestValidationError)
    assert isinstance(errors[5], NotFound) and f"battery {code(99)} is not registered" in errors[5].message
    assert isinstance(errors[6], NotAuthorised) and "does not operate collection point" in errors[6].message
    assert isinstance(errors[8], NotFound) and "CP-999999-0001 is not registered" in errors[8].message
    for pack in (first, second, third):
        assert len(collected_events(api, pack)) == 1
    # the plain collections of the batch were recorded together, in one transaction, in order
    positions = [answers[i]["notification_id"] for i in (0, 1, 7)]
    assert positions == list(range(positions[0], positions[0] + 3))


def test_a_batch_that_lost_a_race_to_another_writer_is_made_again_scan_by_scan(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = retired(api, 1), retired(api, 2)
    service = api.service
    commit_each = service.commit_each

    def rival_first(writes: Any) -> Any:
        """Another request collects ``first`` between the batch's read and its write."""
        monkeypatch.setattr(service, "commit_each", commit_each)
        rival = Collect(
            actor_id=api.cast.outlet_operator,
            code=first,
            collection_point_id=api.cast.collection_point,
            reporting=Reporting(request_id="scan:rival"),
        )
        service.execute(rival)
        return commit_each(writes)

    monkeypatch.setattr(service, "commit_each", rival_first)
    outcomes = write_together(
        service,
        [queued(api, "outlet_operator", first, "lost"), queued(api, "outlet_operator", second, "kept")],
    )
    assert isinstance(outcomes[0].error, LifecycleViolation), outcomes[0]
    assert outcomes[1].error is None and outcomes[1].value["replayed"] is False
    assert [e.request_id for e in collected_events(api, first)] == ["scan:rival"]
    assert len(collected_events(api, second)) == 1


def test_concurrent_scans_of_the_same_batteries_collect_each_once(api: Api) -> None:
    packs = [retired(api, serial) for serial in range(1, 7)]
    # each battery: the same scan sent twice (a retry) and another scanner's scan of it
    sends = [(pack, f"{pack}-{n}") for pack in packs for n in (1, 1, 2)]

    def send(pack_and_id: tuple[str, str]) -> tuple[str, str, int]:
        pack, scan_id = pack_and_id
        response = api.client.post(
            scans(api), json={"text": pack, "client_scan_id": scan_id}, headers=api.auth("outlet_operator")
        )
        return pack, scan_id, response.status_code

    with ThreadPoolExecutor(max_workers=9) as pool:
        results = list(pool.map(send, sends))
    for pack in packs:
        mine = [(scan_id, status) for p, scan_id, status in results if p == pack]
        winners = [scan_id for scan_id, status in mine if status == 201]
        assert len(winners) == 1, mine
        for scan_id, status in mine:
            if status != 201:  # a retry of the winner is answered again; anything else is refused
                assert status == (200 if scan_id == winners[0] else 409), mine
        assert [e.request_id for e in collected_events(api, pack)] == [f"scan:{winners[0]}"]


# ------------------------------------------------------------------ lifecycle commands queued
def test_queued_lifecycle_commands_are_each_answered_as_alone(api: Api) -> None:
    from tests.e2e.test_api_writes import VIN, delivered

    first, second = delivered(api, 11), delivered(api, 12)
    maker = api.service.participant(api.cast.vehicle_maker)
    stranger = api.service.participant(api.cast.recycler)

    def install(code_: str, by: Any = maker, request_id: str | None = None) -> CommandJob:
        command = Install(actor_id=by.id, code=code_, vin=VIN, reporting=Reporting(request_id=request_id))
        return CommandJob(command, by, lambda result: result)

    outcomes = write_together(
        api.service,
        [
            install(first, request_id="i-1"),
            install(first, request_id="i-1"),  # the same request again: answered as a replay
            install(second, by=stranger),  # not its holder: refused in its own words
            install(second),
            install(code(98)),  # never produced
        ],
    )
    results = [outcome.value for outcome in outcomes]
    errors = [outcome.error for outcome in outcomes]
    assert results[0].replayed is False and results[0].battery(first).state == "installed"
    assert results[1].replayed is True
    assert isinstance(errors[2], NotAuthorised | LifecycleViolation), errors[2]
    assert results[3].replayed is False and results[3].battery(second).vin == VIN
    assert isinstance(errors[4], NotFound) and "is not registered" in errors[4].message
    for pack in (first, second):
        assert [type(e).__name__ for e in api.service.history(pack)].count("Installed") == 1


def test_concurrent_installs_and_retirements_through_http_each_record_once(api: Api) -> None:
    from tests.e2e.test_api_writes import VIN, delivered

    packs = [delivered(api, serial) for serial in range(21, 27)]

    def install(pack: str) -> int:
        body = {"vin": VIN, "request_id": f"install-{pack}"}
        return api.client.post(
            f"/api/v1/batteries/{pack}/install", json=body, headers=api.auth("vehicle_maker")
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(install, packs * 2))  # each install sent twice
    assert statuses == [200] * len(statuses)
    for pack in packs:
        assert [type(e).__name__ for e in api.service.history(pack)].count("Installed") == 1

    def retire(pack: str) -> int:
        body = {"reason": "capacity below 80%"}
        return api.client.post(
            f"/api/v1/batteries/{pack}/retire", json=body, headers=api.auth("vehicle_maker")
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(retire, packs * 2))  # each retirement sent twice, no request id
    assert sorted(statuses) == [200] * len(packs) + [409] * len(packs)


def test_queued_hand_overs_find_their_receivers_in_the_batchs_one_read(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.e2e.test_api_writes import retired as retired_pack

    first, second = retired_pack(api, 31), retired_pack(api, 32)
    maker = api.service.participant(api.cast.vehicle_maker)
    read_alone: list[str] = []
    participant = api.service.participant
    monkeypatch.setattr(api.service, "participant", lambda pid: read_alone.append(pid) or participant(pid))

    def hand_over(pack: str, receiver: str) -> CommandJob:
        command = HandOver(actor_id=maker.id, code=pack, receiver_id=receiver, activity="recycling")
        return CommandJob(command, maker, lambda result: result)

    unknown = "91110000MA00000000"
    outcomes = write_together(api.service, [hand_over(first, api.cast.recycler), hand_over(second, unknown)])
    assert outcomes[0].error is None
    assert outcomes[0].value.battery(first).holder_id == api.cast.recycler
    assert isinstance(outcomes[1].error, NotFound | InvalidInput), outcomes[1]
    assert api.cast.recycler not in read_alone  # read with the batteries, not on its own
    assert api.service.battery(second).holder_id == api.cast.vehicle_maker
