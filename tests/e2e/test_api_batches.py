"""An outlet hands over the batteries it selected, and sends the scans its page queued offline, each
as one request and one transaction: all recorded or none, one answer per battery; on SQLite and
PostgreSQL (the ``api`` fixture), through HTTP.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from batterytrace.events.commands import Collect, Reporting
from batterytrace.trace.batches import MAX_BATCH
from tests.e2e.test_api_scan import VIN, at, code, problem_of, retired
from tests.utils.api import Api
from tests.utils.server import batterytrace_command

RECYCLING = {"activity": "recycling"}


def handovers(api: Api, point: str | None = None) -> str:
    return f"/api/v1/collection-points/{point or api.cast.collection_point}/handovers"


def scan_batch(api: Api) -> str:
    return f"/api/v1/collection-points/{api.cast.collection_point}/scans/batch"


def collected(api: Api, serial: int) -> str:
    """Retired by the vehicle maker, then taken in at the outlet operator's point."""
    pack = retired(api, serial)
    api.service.execute(
        Collect(
            actor_id=api.cast.outlet_operator,
            code=pack,
            collection_point_id=api.cast.collection_point,
            reporting=Reporting(occurred_at=at(2025, 6, 15)),
        )
    )
    return pack


def hand_over(api: Api, codes: list[str], member: str = "outlet_operator", **body: Any):
    path = handovers(api, body.pop("point", None))
    payload = {"codes": codes, "receiver_id": api.cast.recycler, **RECYCLING, **body}
    return api.client.post(path, json=payload, headers=api.auth(member))


def head(api: Api) -> int:
    return api.service.recorder.max_notification_id() or 0


def saves_counted(api: Api) -> list[int]:
    """The events each save of the service recorded, from now on (one entry per transaction)."""
    saves: list[int] = []
    api.service.recorded_listeners.append(saves.append)
    return saves


def last_event(api: Api, battery: str) -> str:
    return type(api.service.history(battery)[-1]).__name__


# ------------------------------------------------------------------------------- hand-overs
def test_three_batteries_are_handed_over_in_one_transaction_with_three_answers(api: Api) -> None:
    packs = [collected(api, serial) for serial in (601, 602, 603)]
    saves = saves_counted(api)
    answer = hand_over(api, packs, request_id="batch-601")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["count"], body["recorded"], body["replayed"]) == (3, 3, False)
    assert [item["code"] for item in body["items"]] == packs
    assert {(i["result"], i["compliant"], i["warning"]) for i in body["items"]} == {
        ("handed_over", True, None)
    }
    assert body["events"] == [f"{pack}:HandedOver" for pack in packs]
    assert saves == [3]  # one transaction
    assert all(last_event(api, pack) == "HandedOver" for pack in packs)

    again = hand_over(api, packs, request_id="batch-601")  # the same request: answered, not recorded
    assert again.status_code == 200, again.text
    assert (again.json()["recorded"], again.json()["replayed"]) == (0, True)
    assert {item["result"] for item in again.json()["items"]} == {"replayed"}
    assert saves == [3]


def test_a_batch_with_one_battery_refused_stores_nothing_and_says_which(api: Api) -> None:
    ours = [collected(api, 611), collected(api, 612)]
    not_ours = retired(api, 613)  # still the vehicle maker's
    before = head(api)
    answer = hand_over(api, [ours[0], not_ours, ours[1]])
    body = problem_of(answer, 403, "1 of 3 batteries were refused, so none was recorded")
    assert (body["code"], body["params"]) == ("batch.refused", {"refused": 1, "count": 3})
    assert [(i["code"], i["result"]) for i in body["items"]] == [
        (ours[0], "not_stored"),
        (not_ours, "refused"),
        (ours[1], "not_stored"),
    ]
    refused = body["items"][1]["problem"]
    assert (refused["status"], refused["code"]) == (403, "battery.not_holder")
    assert "you do not hold it" in refused["detail"]
    assert api.cast.vehicle_maker not in answer.text and VIN not in answer.text  # never who holds it
    assert head(api) == before
    assert [last_event(api, pack) for pack in ours] == ["Collected", "Collected"]

    # Refusals of different kinds: 422 for the batch, each item with its own status.
    unknown = code(619)
    mixed = hand_over(api, [ours[0], unknown, not_ours])
    body = problem_of(mixed, 422)
    assert [i["problem"] and i["problem"]["status"] for i in body["items"]] == [None, 404, 403]
    assert head(api) == before

    # Sent again without the refused one, the rest is recorded.
    assert hand_over(api, ours).status_code == 200


def test_a_non_whitelisted_receiver_is_recorded_flagged_for_every_battery(api: Api) -> None:
    packs = [collected(api, 621), collected(api, 622)]
    answer = hand_over(api, packs, receiver_id=api.cast.informal_recycler)
    assert answer.status_code == 200, answer.text
    assert {item["compliant"] for item in answer.json()["items"]} == {False}
    assert all("not whitelisted" in item["warning"] for item in answer.json()["items"])


def test_only_the_operator_hands_over_from_its_own_point(api: Api) -> None:
    packs = [collected(api, 631), collected(api, 632)]
    before = head(api)
    by_another = hand_over(api, packs, member="vehicle_maker")  # not the point's operator
    assert problem_of(by_another, 403, "does not operate collection point")["code"] == "point.not_operator"
    at_another_point = hand_over(api, packs, point=api.cast.other_collection_point)
    problem_of(at_another_point, 403, "does not operate collection point")
    assert api.client.post(handovers(api), json={"codes": packs, **RECYCLING}).status_code == 401
    assert head(api) == before


def test_a_battery_held_elsewhere_by_the_same_operator_is_refused_at_this_point(api: Api) -> None:
    pack = collected(api, 641)
    cast = api.cast
    api.service.register_collection_point(
        actor_id=cast.regulator,
        point_id="CP-110105-0009",
        operator_id=cast.outlet_operator,
        name="Second outlet",
        kind="collection",
        capacity_kg=5000,
        address="Chaoyang",
        division_code="110105",
    )
    answer = hand_over(api, [pack], point="CP-110105-0009")
    body = problem_of(answer, 409)
    assert body["items"][0]["problem"]["code"] == "battery.wrong_state.not_at_point"
    assert "not held at collection point CP-110105-0009" in body["items"][0]["problem"]["detail"]


def test_the_batch_size_is_bounded_and_each_battery_listed_once(api: Api) -> None:
    pack = collected(api, 651)
    too_many = [code(10_000 + i) for i in range(MAX_BATCH + 1)]
    body = problem_of(hand_over(api, too_many), 422, f"a batch holds at most {MAX_BATCH} batteries")
    assert (body["code"], body["params"]) == ("batch.too_large", {"max": MAX_BATCH, "count": MAX_BATCH + 1})
    assert problem_of(hand_over(api, []), 422)["code"] == "batch.empty"
    repeated = problem_of(hand_over(api, [pack, pack.lower()]), 422, "is listed twice")
    assert repeated["code"] == "batch.repeated"
    assert last_event(api, pack) == "Collected"


def test_the_views_after_a_batch_equal_the_same_hand_overs_one_by_one(api: Api) -> None:
    batch = [collected(api, serial) for serial in (661, 662, 663)]
    one_by_one = [collected(api, serial) for serial in (671, 672, 673)]
    when = {"occurred_at": "2025-07-01T10:00:00+08:00"}
    assert hand_over(api, batch, **when).status_code == 200
    for pack in one_by_one:
        single = api.client.post(
            f"/api/v1/batteries/{pack}/handover",
            json={"receiver_id": api.cast.recycler, **RECYCLING, **when},
            headers=api.auth("outlet_operator"),
        )
        assert single.status_code == 200, single.text
    after = head(api)

    def seen(pack: str) -> dict[str, Any]:
        answer = api.client.get(
            f"/api/v1/batteries/{pack}", params={"after": after}, headers=api.auth("regulator")
        )
        assert answer.status_code == 200, answer.text
        return _without_identity(answer.json(), pack)

    for batched, single in zip(batch, one_by_one, strict=True):
        assert seen(batched) == seen(single)
    on_hand = api.client.get(
        f"/api/v1/collection-points/{api.cast.collection_point}/batteries",
        params={"after": after},
        headers=api.auth("outlet_operator"),
    )
    assert set(batch + one_by_one).isdisjoint(row["code"] for row in on_hand.json()["items"])


def _without_identity(value: Any, pack: str) -> Any:
    """The answer with what must differ between two batteries taken out: the code (and the
    serial it ends in), when and where in the log the store recorded them (not when they happened)."""
    if isinstance(value, dict):
        return {
            k: _without_identity(v, pack)
            for k, v in value.items()
            if k not in ("recorded_at", "position", "notification_id", "serial")
        }
    if isinstance(value, list):
        return [_without_identity(v, pack) for v in value]
    return "CODE" if value == pack else value


# ------------------------------------------------------------------------------------ scans
def test_queued_scans_are_taken_in_together_and_answered_again(api: Api) -> None:
    packs = [retired(api, serial) for serial in (681, 682, 683)]
    scans = [
        {"text": f"https://trace.example.cn/b/{packs[0]}", "client_scan_id": "q-1"},
        {"text": packs[1], "client_scan_id": "q-2", "occurred_at": "2025-06-20T09:00:00+08:00"},
        {"text": packs[2], "client_scan_id": "q-3", "mass_kg": 108.5},
    ]
    saves = saves_counted(api)
    answer = api.client.post(scan_batch(api), json={"scans": scans}, headers=api.auth("outlet_operator"))
    assert answer.status_code == 201, answer.text
    items = answer.json()["items"]
    assert [(i["code"], i["client_scan_id"], i["result"]) for i in items] == [
        (packs[0], "q-1", "taken_in"),
        (packs[1], "q-2", "taken_in"),
        (packs[2], "q-3", "taken_in"),
    ]
    assert items[1]["collected_at"] == "2025-06-20T09:00:00+08:00"
    assert items[2]["mass_kg"] == 108.5
    assert saves == [3]

    # The same queue sent again (its answer was lost): answered, nothing recorded.
    again = api.client.post(scan_batch(api), json={"scans": scans}, headers=api.auth("outlet_operator"))
    assert again.status_code == 200, again.text
    assert {i["result"] for i in again.json()["items"]} == {"replayed"}
    assert saves == [3]


def test_a_queued_scan_already_sent_alone_is_answered_in_the_batch(api: Api) -> None:
    first, second = retired(api, 691), retired(api, 692)
    alone = api.client.post(
        f"/api/v1/collection-points/{api.cast.collection_point}/scans",
        json={"text": first, "client_scan_id": "q-alone"},
        headers=api.auth("outlet_operator"),
    )
    assert alone.status_code == 201, alone.text
    scans = [{"text": first, "client_scan_id": "q-alone"}, {"text": second, "client_scan_id": "q-new"}]
    answer = api.client.post(scan_batch(api), json={"scans": scans}, headers=api.auth("outlet_operator"))
    assert answer.status_code == 201, answer.text
    assert [i["result"] for i in answer.json()["items"]] == ["replayed", "taken_in"]


def test_a_queue_with_an_unreadable_label_stores_nothing(api: Api) -> None:
    pack = retired(api, 695)
    before = head(api)
    scans = [{"text": pack, "client_scan_id": "q-ok"}, {"text": "not a label", "client_scan_id": "q-bad"}]
    answer = api.client.post(scan_batch(api), json={"scans": scans}, headers=api.auth("outlet_operator"))
    body = problem_of(answer, 422, "none was recorded")
    assert [(i["client_scan_id"], i["result"]) for i in body["items"]] == [
        ("q-ok", "not_stored"),
        ("q-bad", "refused"),
    ]
    assert head(api) == before
    by_another = api.client.post(
        scan_batch(api), json={"scans": scans[:1]}, headers=api.auth("vehicle_maker")
    )
    problem_of(by_another, 403, "does not operate collection point")
    too_many = [{"text": pack, "client_scan_id": f"q-{i}"} for i in range(MAX_BATCH + 1)]
    answer = api.client.post(scan_batch(api), json={"scans": too_many}, headers=api.auth("outlet_operator"))
    assert problem_of(answer, 422, f"at most {MAX_BATCH} scans")["code"] == "batch.too_large"
    assert head(api) == before


# -------------------------------------------------------------------------------------- CLI
def test_the_cli_hands_over_several_batteries_from_a_point_all_or_none(api: Api, database_url: str) -> None:
    ours = [collected(api, 701), collected(api, 702)]
    not_ours = retired(api, 703)
    cast = api.cast
    env = {
        **os.environ,
        "BATTERYTRACE_DATABASE_URL": database_url,
        "BATTERYTRACE_ACTOR": cast.outlet_operator,
    }
    point = ["--point", cast.collection_point, "--to", cast.recycler]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [batterytrace_command(), "handover", *args], env=env, capture_output=True, text=True, timeout=120
        )

    before = head(api)
    refused = cli(*ours, not_ours, *point)
    assert refused.returncode == 1, refused.stderr
    assert f"refused {not_ours}: " in refused.stderr and "you do not hold it" in refused.stderr
    assert "1 of 3 batteries were refused, so none was recorded" in refused.stderr
    assert cast.vehicle_maker not in refused.stderr
    assert head(api) == before

    without_point = cli(*ours, "--to", cast.recycler)
    assert without_point.returncode == 2 and "--point" in without_point.stderr

    done = cli(*ours, *point)
    assert done.returncode == 0, done.stderr
    assert f"handed over 2 batteries from {cast.collection_point}" in done.stdout
    assert [last_event(api, pack) for pack in ours] == ["HandedOver", "HandedOver"]
