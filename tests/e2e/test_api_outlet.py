"""The outlet page's reads: the caller's own collection points, the batteries a point holds now, and
the receivers with their whitelist status today, on SQLite and PostgreSQL (the ``api`` fixture).

Batteries are arranged through the application service; the writes that change what the reads
show (a scan, a handover, a whitelist revocation) go through the API, and each read passes
``?after=`` with the write's notification id, as the page does.
"""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.test_api_scan import retired, scan_text
from tests.utils.api import Api


def on_hand(api: Api, member: str, after: int, point: str | None = None) -> list[dict]:
    point = point or api.cast.collection_point
    answer = api.client.get(
        f"/api/v1/collection-points/{point}/batteries", params={"after": after}, headers=api.auth(member)
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_a_point_holds_what_was_scanned_in_until_it_is_handed_over(api: Api) -> None:
    first, second = retired(api, 501), retired(api, 502)
    scanned = scan_text(api, first, "outlet-1")
    assert scanned.status_code == 201, scanned.text
    scanned = scan_text(api, second, "outlet-2")
    rows = on_hand(api, "outlet_operator", scanned.json()["notification_id"])
    assert [row["code"] for row in rows] == [first, second]  # longest-held first
    assert rows[0]["chemistry"] == scanned.json()["chemistry"]
    assert rows[0]["manufacturer_name"] == scanned.json()["maker"]["name"]
    assert rows[0]["mass_kg"] == 110
    assert rows[0]["collected_at"].endswith("+08:00")

    handed = api.client.post(
        f"/api/v1/batteries/{first}/handover",
        json={"receiver_id": api.cast.recycler, "activity": "recycling"},
        headers=api.auth("outlet_operator"),
    )
    assert handed.status_code == 200, handed.text
    after = handed.json()["notification_id"]
    assert [row["code"] for row in on_hand(api, "outlet_operator", after)] == [second]
    assert [row["code"] for row in on_hand(api, "regulator", after)] == [second]
    # The vehicle maker's own point holds nothing of this.
    assert on_hand(api, "vehicle_maker", after, api.cast.other_collection_point) == []

    as_csv = api.client.get(
        f"/api/v1/collection-points/{api.cast.collection_point}/batteries",
        params={"format": "csv"},
        headers=api.auth("outlet_operator"),
    )
    assert as_csv.status_code == 200
    assert as_csv.text.splitlines()[0].startswith("code,level,chemistry")
    assert second in as_csv.text and first not in as_csv.text


def test_another_operators_point_and_an_unknown_point_are_refused(api: Api) -> None:
    other = api.client.get(
        f"/api/v1/collection-points/{api.cast.other_collection_point}/batteries",
        headers=api.auth("outlet_operator"),
    )
    assert other.status_code == 403
    assert "does not operate collection point" in other.json()["detail"]
    unknown = api.client.get(
        "/api/v1/collection-points/CP-110105-9999/batteries", headers=api.auth("regulator")
    )
    assert unknown.status_code == 404, unknown.text


def test_my_collection_points_include_one_registered_just_now(api: Api) -> None:
    registered = api.client.post(
        "/api/v1/collection-points",
        json={
            "point_id": "CP-110105-0002",
            "operator_id": api.cast.outlet_operator,
            "name": "Chaoyang second outlet",
            "division_code": "110105",
        },
        headers=api.auth("outlet_operator"),
    )
    assert registered.status_code == 201, registered.text
    mine = api.client.get(
        "/api/v1/me/collection-points",
        params={"after": registered.json()["notification_id"]},
        headers=api.auth("outlet_operator"),
    )
    assert mine.status_code == 200, mine.text
    assert [p["id"] for p in mine.json()["items"]] == [api.cast.collection_point, "CP-110105-0002"]
    assert mine.json()["items"][1]["name"] == "Chaoyang second outlet"
    none = api.client.get("/api/v1/me/collection-points", headers=api.auth("recycler"))
    assert none.json() == {"items": [], "count": 0}


def test_receivers_show_whitelist_status_today(api: Api) -> None:
    def status(after: int | None = None) -> dict[str, dict]:
        answer = api.client.get(
            "/api/v1/receivers",
            params={"after": after} if after else None,
            headers=api.auth("outlet_operator"),
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["on"] == api.service.today().isoformat()
        return {row["credit_code"]: row for row in answer.json()["items"]}

    receivers = status()
    cast = api.cast
    assert set(receivers) == {cast.recycler, cast.informal_recycler, cast.cascade_user}
    assert receivers[cast.recycler]["whitelisted_for"] == ["recycling"]
    assert receivers[cast.recycler]["activities"] == ["recycling"]
    assert receivers[cast.informal_recycler]["whitelisted_for"] == []
    assert receivers[cast.cascade_user]["activities"] == ["cascade_use"]
    assert receivers[cast.cascade_user]["whitelisted_for"] == ["cascade_use"]

    # Revoked from today: no longer whitelisted. Granted from tomorrow: not yet.
    revoked = api.client.post(
        f"/api/v1/participants/{cast.recycler}/whitelist/revoke",
        json={"activity": "recycling", "reason": "failed the inspection"},
        headers=api.auth("regulator"),
    )
    assert revoked.status_code == 200, revoked.text
    tomorrow = api.service.today() + timedelta(days=1)
    granted = api.client.post(
        f"/api/v1/participants/{cast.informal_recycler}/whitelist",
        json={"activity": "recycling", "effective_on": tomorrow.isoformat()},
        headers=api.auth("regulator"),
    )
    assert granted.status_code == 200, granted.text
    receivers = status(granted.json()["notification_id"])
    assert receivers[cast.recycler]["whitelisted_for"] == []
    assert receivers[cast.informal_recycler]["whitelisted_for"] == []
