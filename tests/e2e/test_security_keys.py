"""Issue 10, finding 6: keys mint keys, and nothing listed them.

Over HTTP, on SQLite and PostgreSQL: a key issued with a key dies with it (the thief's chain
stolen → T1 → T2 dies with the stolen key, and T1 → T2 dies with T1), even when the revocation
races the minting; a participant's keys are listed with who issued each, through which key, when
it was revoked and last used (never a digest), and only to a regulator or the participant itself;
revoke-all keeps only the key it is told to keep; rotation replaces a secret and keeps the chain.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from batterytrace.events.api_key import ApiKey, digest, parse_token
from batterytrace.trace import keys
from tests.utils.api import Api
from tests.utils.cast import credit_code

NEW_RECYCLER = credit_code("91510100MA6C00011")
CST_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+08:00$")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def key_id(token: str) -> str:
    return parse_token(token)[0]


def issue(api: Api, credit_code: str, token: str, label: str = "") -> str:
    """A key issued over HTTP with ``token``; the new token."""
    response = api.client.post(
        f"/api/v1/participants/{credit_code}/keys", json={"label": label}, headers=bearer(token)
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]


def works(api: Api, token: str) -> bool:
    status = api.client.get("/api/v1/me", headers=bearer(token)).status_code
    assert status in (200, 401), status
    return status == 200


def inventory(api: Api, credit_code: str, member: str = "regulator") -> dict[str, dict[str, Any]]:
    response = api.client.get(f"/api/v1/participants/{credit_code}/keys", headers=api.auth(member))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["items"]) and body["participant_id"] == credit_code
    return {row["key_id"]: row for row in body["items"]}


def operator_key(api: Api, member: str) -> str:
    """A key the operator's CLI issued (the start of a chain)."""
    return api.service.issue_api_key(actor_id=None, participant_id=getattr(api.cast, member)).token


# ------------------------------------------------------------------------------------ chains
def test_keys_minted_with_a_stolen_key_die_with_it(api: Api) -> None:
    recycler = api.cast.recycler
    stolen = operator_key(api, "recycler")
    t1 = issue(api, recycler, stolen, "thief 1")
    t2 = issue(api, recycler, t1, "thief 2")
    assert all(works(api, token) for token in (stolen, t1, t2))

    revoked = api.client.delete(
        f"/api/v1/keys/{key_id(stolen)}", params={"reason": "leaked"}, headers=api.auth("recycler")
    )
    assert revoked.status_code == 200, revoked.text
    assert sorted(revoked.json()["revoked"]) == sorted(key_id(t) for t in (stolen, t1, t2))
    assert not any(works(api, token) for token in (stolen, t1, t2))
    assert works(api, api.keys["recycler"])  # the owner's other key is untouched

    rows = inventory(api, recycler)
    assert rows[key_id(t1)]["revoked_through"] == key_id(stolen)
    assert rows[key_id(t2)]["revoked_through"] == key_id(t1)
    assert rows[key_id(t2)]["revoke_reason"] == "leaked"


def test_revoking_a_key_revokes_what_was_issued_with_it_and_not_what_it_was_issued_with(api: Api) -> None:
    recycler = api.cast.recycler
    root = operator_key(api, "recycler")
    t1 = issue(api, recycler, root)
    t2 = issue(api, recycler, t1)
    sibling = issue(api, recycler, root)

    revoked = api.client.delete(f"/api/v1/keys/{key_id(t1)}", headers=bearer(root))
    assert sorted(revoked.json()["revoked"]) == sorted([key_id(t1), key_id(t2)])
    assert not works(api, t1) and not works(api, t2)
    assert works(api, root) and works(api, sibling)


def test_a_regulators_key_takes_the_keys_it_issued_with_it(api: Api) -> None:
    """Keys a regulator issues over HTTP hang below the regulator's key: a stolen regulator key
    cannot leave keys behind for its thief (the operator's CLI issues keys outside any chain)."""
    regulator_key = operator_key(api, "regulator")
    for_recycler = issue(api, api.cast.recycler, regulator_key)
    registered = api.client.post(
        "/api/v1/participants",
        json={"credit_code": NEW_RECYCLER, "name": "Chengdu Recycling", "roles": ["recycler"]},
        headers=bearer(regulator_key),
    )
    assert registered.status_code == 201, registered.text
    for_newcomer = registered.json()["api_key"]["token"]
    for member, token in ((api.cast.recycler, for_recycler), (NEW_RECYCLER, for_newcomer)):
        row = inventory(api, member)[key_id(token)]
        assert (row["issued_by"], row["issued_via"]) == (api.cast.regulator, key_id(regulator_key))

    api.client.delete(f"/api/v1/keys/{key_id(regulator_key)}", headers=api.auth("regulator"))
    assert not any(works(api, token) for token in (regulator_key, for_recycler, for_newcomer))


def test_a_key_minted_while_its_parent_is_being_revoked_is_revoked_too(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: the revocation has read T1 (no children yet) when T2 is minted with T1. Both
    writes touch T1's stream, so the revocation fails, reads again and takes T2 with it."""
    recycler = api.cast.recycler
    t1 = operator_key(api, "recycler")
    minted: list[str] = []
    racing: list[bool] = []
    load_key = keys.load_key

    def load_then_mint(app: Any, wanted: str) -> ApiKey:
        key = load_key(app, wanted)
        if wanted == key_id(t1) and not racing:  # the revocation's first read of T1
            racing.append(True)
            minted.append(issue(api, recycler, t1, "minted during the revocation"))
        return key

    monkeypatch.setattr(keys, "load_key", load_then_mint)
    result = api.service.revoke_api_key(actor_id=recycler, key_id=key_id(t1), reason="leaked")
    assert minted and sorted(k.key_id for k in result.saved) == sorted([key_id(t1), key_id(minted[0])])
    assert not works(api, minted[0])


def test_revoking_a_revoked_key_still_reaches_its_live_descendants(api: Api) -> None:
    """A key revoked without its chain (an older release, or a race) leaves its descendants
    live; revoking it again revokes them."""
    t1 = operator_key(api, "recycler")
    t2 = issue(api, api.cast.recycler, t1)
    alone = keys.load_key(api.service, key_id(t1))
    alone.revoke(by=None, reason="as an older release did")
    api.service.save(alone)
    assert works(api, t2)
    again = api.client.delete(f"/api/v1/keys/{key_id(t1)}", headers=api.auth("regulator"))
    assert again.status_code == 200 and again.json()["revoked"] == [key_id(t2)]
    assert not works(api, t2)


def test_a_key_of_another_participant_or_a_revoked_key_mints_nothing(api: Api) -> None:
    t1 = operator_key(api, "recycler")
    refused = api.client.post(f"/api/v1/participants/{api.cast.dismantler}/keys", headers=bearer(t1))
    assert refused.status_code == 403 and "cannot issue API keys" in refused.json()["detail"]
    api.service.revoke_api_key(actor_id=None, key_id=key_id(t1))
    assert (
        api.client.post(f"/api/v1/participants/{api.cast.recycler}/keys", headers=bearer(t1)).status_code
        == 401
    )


# ---------------------------------------------------------------------------------- inventory
def test_the_inventory_says_who_issued_each_key_how_and_when_never_its_digest(api: Api) -> None:
    recycler, regulator = api.cast.recycler, api.cast.regulator
    own = api.keys["recycler"]
    by_regulator = issue(api, recycler, api.keys["regulator"], "ERP")
    by_itself = issue(api, recycler, own, "MES")
    api.client.delete(f"/api/v1/keys/{key_id(by_itself)}", params={"reason": "unused"}, headers=bearer(own))
    rotated = api.client.post(f"/api/v1/keys/{key_id(by_regulator)}/rotate", headers=bearer(own))
    assert rotated.status_code == 200, rotated.text

    response = api.client.get(f"/api/v1/participants/{recycler}/keys", headers=bearer(own))
    assert response.status_code == 200, response.text
    rows = {row["key_id"]: row for row in response.json()["items"]}
    assert list(rows) == [key_id(own), key_id(by_regulator), key_id(by_itself)]  # oldest first
    first = rows[key_id(own)]
    assert (first["issued_by"], first["issued_via"], first["revoked"], first["label"]) == (
        None,
        None,
        False,
        "",
    )
    assert CST_TIME.match(first["issued_at"]) and CST_TIME.match(first["last_used_at"])
    erp = rows[key_id(by_regulator)]
    assert (erp["issued_by"], erp["issued_via"], erp["label"]) == (
        regulator,
        key_id(api.keys["regulator"]),
        "ERP",
    )
    assert CST_TIME.match(erp["rotated_at"]) and erp["revoked_at"] is None and erp["last_used_at"] is None
    mes = rows[key_id(by_itself)]
    assert (mes["issued_by"], mes["issued_via"]) == (recycler, key_id(own))
    assert (mes["revoked"], mes["revoked_by"], mes["revoke_reason"], mes["revoked_through"]) == (
        True,
        recycler,
        "unused",
        None,
    )
    assert CST_TIME.match(mes["revoked_at"])
    assert set(first) == {
        "key_id", "participant_id", "label", "issued_at", "issued_by", "issued_via", "rotated_at",
        "revoked", "revoked_at", "revoked_by", "revoke_reason", "revoked_through", "last_used_at",
    }  # fmt: skip
    for token in (own, by_regulator, by_itself, rotated.json()["token"]):
        secret = parse_token(token)[1]
        assert secret not in response.text and digest(secret) not in response.text


def test_only_a_regulator_or_the_participant_itself_lists_or_revokes_its_keys(api: Api) -> None:
    recycler = api.cast.recycler
    path = f"/api/v1/participants/{recycler}/keys"
    listed = api.client.get(path, headers=api.auth("manufacturer"))
    assert listed.status_code == 403, listed.text
    assert "cannot list the API keys of" in listed.json()["detail"]
    assert api.client.get(path).status_code == 401
    head = api.service.recorder.max_notification_id()
    refused = api.client.post(
        f"{path}/revoke-all", json={"reason": "rival"}, headers=api.auth("manufacturer")
    )
    assert refused.status_code == 403 and "cannot revoke the API keys of" in refused.json()["detail"]
    rotate = api.client.post(
        f"/api/v1/keys/{key_id(api.keys['recycler'])}/rotate", headers=api.auth("dismantler")
    )
    assert (
        rotate.status_code == 403 and "cannot rotate another participant's API key" in rotate.json()["detail"]
    )
    assert api.service.recorder.max_notification_id() == head
    assert works(api, api.keys["recycler"])
    assert set(inventory(api, recycler, "recycler")) == set(inventory(api, recycler, "regulator"))


def test_an_unknown_key_names_where_keys_are_listed(api: Api) -> None:
    response = api.client.delete("/api/v1/keys/0123456789abcdef", headers=api.auth("regulator"))
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "GET /api/v1/participants/{credit_code}/keys" in detail and "participants keys" in detail


def test_keys_issued_before_key_rings_are_listed(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store from an older release has keys without a ring: the first listing finds them (one
    scan of the log, recorded as done), later listings read the rings only."""
    service = api.service
    legacy, issued = ApiKey.issue(service.participant(api.cast.dismantler), by=None, label="legacy")
    service.save(legacy)  # as the older release did: no ring
    assert works(api, issued.token)
    assert list(inventory(api, api.cast.dismantler)) == [key_id(api.keys["dismantler"]), legacy.key_id]
    assert service.exists(keys.KEY_RINGS_COMPLETE)
    scans: list[object] = []
    monkeypatch.setattr(keys, "get_topic", lambda cls: scans.append(cls))
    assert len(inventory(api, api.cast.dismantler)) == 2
    assert scans == []


# ---------------------------------------------------------------------------------- last used
def test_last_used_is_noted_at_most_once_a_minute_per_key_and_never_read_on_a_request(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = api.service
    token = operator_key(api, "dismantler")
    start = service.clock()
    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "api_key_usage" in statement:
            statements.append(statement.split()[0].upper())

    engine = service.key_usage.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        assert inventory(api, api.cast.dismantler)[key_id(token)]["last_used_at"] is None
        statements.clear()
        for offset in (0, 20, 50):
            monkeypatch.setattr(service, "clock", lambda offset=offset: start + timedelta(seconds=offset))
            assert works(api, token)
        assert statements == ["INSERT"]  # one write in the first minute, no read
        first = inventory(api, api.cast.dismantler)[key_id(token)]["last_used_at"]
        monkeypatch.setattr(service, "clock", lambda: start + timedelta(seconds=61))
        assert works(api, token)
        later = inventory(api, api.cast.dismantler)[key_id(token)]["last_used_at"]
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert first == keys.cst(start) and CST_TIME.match(first)
    assert later == keys.cst(start + timedelta(seconds=61))


# -------------------------------------------------------------------------------- revoke-all
def test_revoke_all_revokes_every_key_but_the_one_kept(api: Api) -> None:
    recycler = api.cast.recycler
    own = api.keys["recycler"]
    spare = operator_key(api, "recycler")
    minted = issue(api, recycler, own)
    below_spare = issue(api, recycler, spare)
    path = f"/api/v1/participants/{recycler}/keys/revoke-all"

    response = api.client.post(
        path, json={"reason": "audit", "except_key_id": key_id(own)}, headers=bearer(own)
    )
    assert response.status_code == 200, response.text
    assert sorted(response.json()["revoked"]) == sorted(key_id(t) for t in (spare, minted, below_spare))
    assert works(api, own)
    assert not any(works(api, t) for t in (spare, minted, below_spare))
    assert f"KEYS-{recycler}:AllRevoked" in response.json()["events"]  # the ring records the sweep

    again = api.client.post(path, json={"reason": "audit", "except_key_id": key_id(own)}, headers=bearer(own))
    assert again.status_code == 200 and again.json()["revoked"] == [] and again.json()["replayed"]

    wrong = api.client.post(
        path, json={"reason": "audit", "except_key_id": key_id(api.keys["dismantler"])}, headers=bearer(own)
    )
    assert wrong.status_code == 422 and "is not a live key of" in wrong.json()["detail"]
    assert works(api, own)

    everything = api.client.post(path, json={"reason": "closed down"}, headers=api.auth("regulator"))
    assert everything.json()["revoked"] == [key_id(own)]
    assert not works(api, own)
    rows = inventory(api, recycler)
    assert all(row["revoked"] for row in rows.values())
    assert rows[key_id(own)]["revoked_by"] == api.cast.regulator


def test_revoke_all_needs_a_reason(api: Api) -> None:
    path = f"/api/v1/participants/{api.cast.recycler}/keys/revoke-all"
    response = api.client.post(path, json={}, headers=api.auth("recycler"))
    assert response.status_code == 422 and "reason" in response.text


# ----------------------------------------------------------------------------------- rotation
def test_rotation_replaces_the_secret_and_keeps_the_chain(api: Api) -> None:
    recycler = api.cast.recycler
    root = operator_key(api, "recycler")
    child = issue(api, recycler, root)
    rotated = api.client.post(f"/api/v1/keys/{key_id(root)}/rotate", headers=bearer(root))
    assert rotated.status_code == 200, rotated.text
    new_root = rotated.json()["token"]
    assert key_id(new_root) == key_id(root) and new_root != root
    assert not works(api, root) and works(api, new_root) and works(api, child)

    api.client.delete(f"/api/v1/keys/{key_id(root)}", headers=bearer(new_root))
    assert not works(api, new_root) and not works(api, child)
    again = api.client.post(f"/api/v1/keys/{key_id(root)}/rotate", headers=api.auth("regulator"))
    assert again.status_code == 422 and "a revoked key stays revoked" in again.json()["detail"]


def test_keys_answers_are_problem_documents(api: Api) -> None:
    response: httpx.Response = api.client.get(
        f"/api/v1/participants/{api.cast.recycler}/keys", headers=api.auth("dismantler")
    )
    assert response.headers["content-type"].startswith("application/problem+json")
