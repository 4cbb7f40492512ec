"""Refusals and replays tell a caller only what it may know (issue 10, findings 4, 5, 15 and the
read side of 10), on both stores through the HTTP API.

- a refusal says "you do not hold this battery", never who does or the vehicle's VIN;
- a request id is the caller's own: another participant reusing it is a new request, authorised
  like any other, and learns nothing of the first;
- the loser of two identical handovers gets 409 (read again), not 403;
- an involved participant reads a battery from the event at which it became involved, and the
  VIN only if it had the vehicle or made the battery.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from batterytrace.events.battery import ProductionSpec
from batterytrace.events.commands import Collect, Deliver, HandOver, Install, Reporting, Retire
from tests.e2e.test_api_writes import MATERIALS, VIN, code, post, problem_of
from tests.utils.api import Api


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def installed_pack(api: Api, serial: int) -> str:
    """A pack made, delivered to the vehicle maker and installed in its vehicle."""
    service, cast = api.service, api.cast
    pack = code(serial)
    service.produce(
        actor_id=cast.manufacturer,
        spec=ProductionSpec(pack, 150, 100, 15, 110, occurred_at=at(2024, 7, 15, 2)),
    )
    service.execute(
        Deliver(
            actor_id=cast.manufacturer,
            code=pack,
            receiver_id=cast.vehicle_maker,
            reporting=Reporting(occurred_at=at(2024, 7, 20)),
        )
    )
    service.execute(
        Install(
            actor_id=cast.vehicle_maker, code=pack, vin=VIN, reporting=Reporting(occurred_at=at(2024, 8, 1))
        )
    )
    return pack


def retired_pack(api: Api, serial: int) -> str:
    pack = installed_pack(api, serial)
    api.service.execute(
        Retire(
            actor_id=api.cast.vehicle_maker,
            code=pack,
            reason="worn",
            reporting=Reporting(occurred_at=at(2025, 1, 2)),
        )
    )
    return pack


def collected_pack(api: Api, serial: int) -> str:
    pack = retired_pack(api, serial)
    api.service.execute(
        Collect(
            actor_id=api.cast.outlet_operator,
            code=pack,
            collection_point_id=api.cast.collection_point,
            reporting=Reporting(occurred_at=at(2025, 1, 5), request_id="scan:intake-1"),
        )
    )
    return pack


def assert_tells_nothing_of(api: Api, response: httpx.Response, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in response.text, f"{secret} leaked: {response.text}"


# ------------------------------------------------------------------------- finding 4: refusals
@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("remove", {"reason": "repair"}),
        ("retire", {"reason": "worn"}),
        ("handover", {"receiver_id": "91360700MA35000060", "activity": "recycling"}),
    ],
)
def test_a_non_holder_is_told_only_that_it_does_not_hold_the_battery(
    api: Api, action: str, body: dict[str, Any]
) -> None:
    pack = retired_pack(api, 1) if action == "handover" else installed_pack(api, 1)
    body = {**body, "receiver_id": api.cast.recycler} if action == "handover" else body
    refused = post(api, f"/batteries/{pack}/{action}", body, "outlet_operator")
    problem_of(refused, 403, "you do not hold it")
    assert_tells_nothing_of(api, refused, api.cast.vehicle_maker, VIN)


def test_a_handover_to_an_unregistered_receiver_looks_the_same_as_any_refusal_to_a_stranger(
    api: Api,
) -> None:
    pack = collected_pack(api, 2)
    registered = post(
        api,
        f"/batteries/{pack}/handover",
        {"receiver_id": api.cast.recycler, "activity": "recycling"},
        "dismantler",
    )
    unregistered = post(
        api,
        f"/batteries/{pack}/handover",
        {"receiver_id": "91110000600037341L", "activity": "recycling"},
        "dismantler",
    )
    assert registered.status_code == unregistered.status_code == 403
    assert registered.json()["detail"] == unregistered.json()["detail"]
    # the holder itself is told that the receiver is not registered
    problem_of(
        post(
            api,
            f"/batteries/{pack}/handover",
            {"receiver_id": "91110000600037341L", "activity": "recycling"},
            "outlet_operator",
        ),
        404,
        "not registered",
    )


def test_a_scan_at_another_operators_point_does_not_name_its_operator(api: Api) -> None:
    pack = retired_pack(api, 3)
    refused = api.client.post(
        f"/api/v1/collection-points/{api.cast.other_collection_point}/scans",
        json={"text": pack, "client_scan_id": "s-1"},
        headers=api.auth("outlet_operator"),
    )
    problem_of(refused, 403, "does not operate collection point")
    assert_tells_nothing_of(api, refused, api.cast.vehicle_maker)


# ---------------------------------------------------------------- finding 5: idempotency keys
def test_another_participant_reusing_a_scan_id_gets_no_replay_and_no_battery(api: Api) -> None:
    pack = collected_pack(api, 4)  # the outlet's scan id "intake-1"
    stranger = api.client.post(
        f"/api/v1/collection-points/{api.cast.other_collection_point}/scans",
        json={"text": pack, "client_scan_id": "intake-1"},
        headers=api.auth("vehicle_maker"),
    )
    assert stranger.status_code == 409, stranger.text  # a new request: the battery is already collected
    assert "replayed" not in stranger.text
    assert_tells_nothing_of(api, stranger, VIN, api.cast.outlet_operator)


def test_another_participant_reusing_a_request_id_is_authorised_like_any_request(api: Api) -> None:
    pack = collected_pack(api, 5)
    handed = post(
        api,
        f"/batteries/{pack}/handover",
        {"receiver_id": api.cast.recycler, "activity": "recycling", "request_id": "h-1"},
        "outlet_operator",
    )
    assert handed.status_code == 200, handed.text
    for action, body in (
        ("handover", {"receiver_id": api.cast.recycler, "activity": "recycling"}),  # same action
        ("retire", {"reason": "worn"}),  # another action with the used id
    ):
        stranger = post(api, f"/batteries/{pack}/{action}", {**body, "request_id": "h-1"}, "dismantler")
        assert stranger.status_code in (403, 409), stranger.text
        assert "replayed" not in stranger.text and "already used" not in stranger.text
        assert_tells_nothing_of(api, stranger, VIN, api.cast.outlet_operator)
    # the owner of the id still gets its replay
    again = post(
        api,
        f"/batteries/{pack}/handover",
        {"receiver_id": api.cast.recycler, "activity": "recycling", "request_id": "h-1"},
        "outlet_operator",
    )
    assert again.status_code == 200 and again.json()["replayed"] is True


# ---------------------------------------------------------- finding 15: identical handovers race
def test_of_two_identical_handovers_at_once_one_wins_and_the_other_gets_409(api: Api) -> None:
    for serial in range(10, 14):
        pack = collected_pack(api, serial)
        barrier = threading.Barrier(2)
        answers: list[httpx.Response] = []

        def hand_over(
            request_id: str, pack: str = pack, barrier: threading.Barrier = barrier, answers: list = answers
        ) -> None:
            barrier.wait()
            answers.append(
                post(
                    api,
                    f"/batteries/{pack}/handover",
                    {"receiver_id": api.cast.recycler, "activity": "recycling", "request_id": request_id},
                    "outlet_operator",
                )
            )

        threads = [threading.Thread(target=hand_over, args=(f"race-{i}",)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = sorted(a.status_code for a in answers)
        assert statuses[0] == 200, [a.text for a in answers]
        assert statuses[1] in (200, 409), [a.text for a in answers]  # never 403
        if statuses[1] == 409:
            assert "read it again" in next(a for a in answers if a.status_code == 409).json()["detail"]


# ------------------------------------------------------- finding 10: read from involvement
def test_an_outlet_reads_the_battery_from_its_intake_without_the_vin(api: Api) -> None:
    pack = collected_pack(api, 20)
    head = api.service.recorder.max_notification_id()
    seen = api.client.get(
        f"/api/v1/batteries/{pack}?after={head}", headers=api.auth("outlet_operator")
    ).json()
    assert seen["access"] == "full"
    assert [e["event"] for e in seen["timeline"]] == ["Collected"]
    assert seen["battery"]["vin"] is None
    assert VIN not in str(seen)
    history = api.client.get(f"/api/v1/batteries/{pack}/history", headers=api.auth("outlet_operator")).json()
    assert [e["event"] for e in history["timeline"]] == ["Collected"]
    assert VIN not in str(history)


def test_the_vehicle_maker_reads_from_the_delivery_with_the_vin(api: Api) -> None:
    pack = collected_pack(api, 21)
    head = api.service.recorder.max_notification_id()
    seen = api.client.get(f"/api/v1/batteries/{pack}?after={head}", headers=api.auth("vehicle_maker")).json()
    assert [e["event"] for e in seen["timeline"]][:2] == ["Delivered", "Installed"]
    assert seen["battery"]["vin"] == VIN


def test_the_regulator_and_the_manufacturer_read_everything(api: Api) -> None:
    pack = collected_pack(api, 22)
    head = api.service.recorder.max_notification_id()
    for member in ("regulator", "manufacturer"):
        seen = api.client.get(f"/api/v1/batteries/{pack}?after={head}", headers=api.auth(member)).json()
        assert seen["timeline"][0]["event"] == "Produced"
        assert seen["battery"]["vin"] == VIN


def test_a_scan_answer_carries_no_vin_for_an_outlet_that_never_had_the_vehicle(api: Api) -> None:
    pack = retired_pack(api, 23)
    answer = api.client.post(
        f"/api/v1/collection-points/{api.cast.collection_point}/scans",
        json={"text": pack, "client_scan_id": "s-23"},
        headers=api.auth("outlet_operator"),
    )
    assert answer.status_code == 201, answer.text
    assert VIN not in answer.text


def test_a_recycler_write_answer_carries_no_vin(api: Api) -> None:
    pack = collected_pack(api, 24)
    api.service.execute(
        HandOver(
            actor_id=api.cast.outlet_operator, code=pack, receiver_id=api.cast.recycler, activity="recycling"
        )
    )
    recycled = post(api, f"/batteries/{pack}/recycle", {"recovered_kg": MATERIALS}, "recycler")
    assert recycled.status_code == 200, recycled.text
    assert VIN not in recycled.text
