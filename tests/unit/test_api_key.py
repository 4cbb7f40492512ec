"""API keys and key rings without any store: issuing, the chain of keys issued with keys,
revoking, rotating, and reading revocations recorded before the chain existed."""

from __future__ import annotations

import json

import pytest
from eventsourcing.application import Application

from batterytrace.events.api_key import ApiKey, KeyRing, digest, parse_token
from batterytrace.events.errors import InvalidInput, NotAuthenticated, NotAuthorised
from batterytrace.events.participant import Participant
from tests.utils.cast import NationalCast

CAST = NationalCast()


def member(code: str, roles: list[str], by: Participant | None) -> Participant:
    return Participant.register(credit_code=code, name=f"Member {code}", roles=roles, registered_by=by)


@pytest.fixture
def regulator() -> Participant:
    return member(CAST.regulator, ["regulator"], None)


@pytest.fixture
def recycler(regulator: Participant) -> Participant:
    return member(CAST.recycler, ["recycler"], regulator)


@pytest.fixture
def dismantler(regulator: Participant) -> Participant:
    return member(CAST.dismantler, ["dismantler"], regulator)


def secret_of(token: str) -> str:
    return parse_token(token)[1]


def test_a_key_keeps_only_the_digest_of_its_secret_and_says_who_issued_it(recycler: Participant) -> None:
    key, issued = ApiKey.issue(recycler, by=None, label="ERP")
    key_id, secret = parse_token(issued.token)
    assert (key_id, issued.key_id, issued.participant_id) == (key.key_id, key.key_id, recycler.id)
    assert key.secret_digest == digest(secret) and secret not in json.dumps(vars(key), default=str)
    assert (key.issued_by, key.issued_via, key.issued, key.label) == (None, None, [], "ERP")
    assert key.issued_at == key.created_on
    assert key.matches(secret) and not key.matches(secret + "x")


def test_a_regulator_issues_for_anyone_a_participant_only_for_itself(
    regulator: Participant, recycler: Participant, dismantler: Participant
) -> None:
    key, _ = ApiKey.issue(recycler, by=regulator)
    assert key.issued_by == regulator.id
    own, _ = ApiKey.issue(recycler, by=recycler)
    assert own.issued_by == recycler.id
    with pytest.raises(NotAuthorised, match="cannot issue API keys for"):
        ApiKey.issue(recycler, by=dismantler)


def test_a_key_issued_with_a_key_is_recorded_on_both(recycler: Participant) -> None:
    parent, _ = ApiKey.issue(recycler, by=None)
    child, _ = ApiKey.issue(recycler, by=recycler, via=parent)
    assert child.issued_via == parent.key_id
    assert parent.issued == [child.key_id]
    assert [type(e).__name__ for e in parent.collect_events()] == ["Issued", "IssuedAnother"]


def test_only_a_live_key_of_the_issuer_issues_keys(
    regulator: Participant, recycler: Participant, dismantler: Participant
) -> None:
    theirs, _ = ApiKey.issue(dismantler, by=None)
    with pytest.raises(NotAuthorised, match="does not belong to"):
        ApiKey.issue(recycler, by=recycler, via=theirs)
    revoked, _ = ApiKey.issue(recycler, by=None)
    revoked.revoke(by=recycler, reason="lost")
    with pytest.raises(NotAuthenticated):
        ApiKey.issue(recycler, by=recycler, via=revoked)
    assert revoked.issued == []


def test_revoking_records_who_when_why_and_through_which_key(
    regulator: Participant, recycler: Participant, dismantler: Participant
) -> None:
    key, issued = ApiKey.issue(recycler, by=None)
    with pytest.raises(NotAuthorised, match="cannot revoke another participant's API key"):
        key.revoke(by=dismantler)
    assert key.revoke(by=regulator, reason="leaked") is True
    assert (key.revoked, key.revoked_by, key.revoke_reason, key.revoked_through) == (
        True,
        regulator.id,
        "leaked",
        None,
    )
    assert key.revoked_at == key.modified_on
    assert not key.matches(secret_of(issued.token))
    assert key.revoke(by=regulator, reason="again") is False  # nothing new
    assert key.revoke_reason == "leaked"

    child, _ = ApiKey.issue(recycler, by=None)
    # Down the chain, the authority is the revoker's over the key it was issued through.
    assert child.revoke(by=dismantler, reason="chain", through=key.key_id) is True
    assert child.revoked_through == key.key_id
    operator, _ = ApiKey.issue(recycler, by=None)
    assert operator.revoke(by=None, reason="by the operator") and operator.revoked_by is None


def test_rotating_replaces_the_secret_and_keeps_the_key(
    regulator: Participant, recycler: Participant, dismantler: Participant
) -> None:
    key, old = ApiKey.issue(recycler, by=None)
    child, _ = ApiKey.issue(recycler, by=recycler, via=key)
    new = key.rotate(by=recycler)
    assert new.key_id == key.key_id and new.token != old.token
    assert key.matches(secret_of(new.token)) and not key.matches(secret_of(old.token))
    assert key.rotated_at == key.modified_on and key.issued == [child.key_id]
    with pytest.raises(NotAuthorised, match="cannot rotate another participant's API key"):
        key.rotate(by=dismantler)
    assert key.rotate(by=regulator).key_id == key.key_id
    key.revoke(by=recycler)
    with pytest.raises(InvalidInput, match="a revoked key stays revoked"):
        key.rotate(by=recycler)


def test_a_key_ring_lists_each_key_of_its_participant_once(
    recycler: Participant, dismantler: Participant
) -> None:
    ring = KeyRing(participant_id=recycler.id)
    first, _ = ApiKey.issue(recycler, by=None)
    second, _ = ApiKey.issue(recycler, by=None)
    for key in (first, second, first):
        ring.add(key)
    assert ring.key_ids == [first.key_id, second.key_id]
    assert ring.id == f"KEYS-{recycler.id}"
    with pytest.raises(InvalidInput, match="belongs to"):
        ring.add(ApiKey.issue(dismantler, by=None)[0])


def test_a_revocation_recorded_before_the_chain_existed_still_reads(recycler: Participant) -> None:
    """Stores hold ``Revoked`` events without ``through`` (class version 1): they upcast."""
    app = Application[str](env={"ORIGINATOR_ID_TYPE": "text"})
    key, _ = ApiKey.issue(recycler, by=None)
    key.revoke(by=recycler, reason="old style")
    issued_event, revoked_event = key.collect_events()
    stored = [app.mapper.to_stored_event(e) for e in (issued_event, revoked_event)]
    state = json.loads(stored[1].state)
    del state["through"], state["class_version"]
    stored[1] = type(stored[1])(
        originator_id=stored[1].originator_id,
        originator_version=stored[1].originator_version,
        topic=stored[1].topic,
        state=json.dumps(state).encode(),
    )
    app.recorder.insert_events(stored)
    reread = app.repository.get(key.id)
    assert isinstance(reread, ApiKey)
    assert (reread.revoked, reread.revoke_reason, reread.revoked_through) == (True, "old style", None)
    assert reread.revoked_at == revoked_event.timestamp
