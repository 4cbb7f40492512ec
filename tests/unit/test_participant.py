"""Participants: registration, roles, manufacturer codes and the whitelist, without any store."""

from __future__ import annotations

from datetime import date

import pytest

from batterytrace.events.errors import InvalidCreditCode, InvalidInput, NotAuthorised
from batterytrace.events.participant import (
    Activity,
    Participant,
    Role,
    WhitelistPeriod,
    parse_manufacturer_code,
    parse_roles,
)
from tests.utils.cast import NationalCast, credit_code

CAST = NationalCast()
BAD_CHECK = "91110000600037341A"  # the example code with a wrong check character


def regulator() -> Participant:
    return Participant.register(
        credit_code=CAST.regulator, name="MIIT traceability", roles=["regulator"], registered_by=None
    )


def register(
    code: str,
    roles: list[str],
    mfr: list[str] | None = None,
    *,
    by: Participant | None = None,
    name: str = "Some Enterprise Co.",
    allow_bad_check: bool = False,
) -> Participant:
    return Participant.register(
        credit_code=code,
        name=name,
        roles=roles,
        manufacturer_codes=mfr,
        registered_by=by,
        allow_bad_check=allow_bad_check,
    )


@pytest.fixture
def miit() -> Participant:
    return regulator()


@pytest.fixture
def recycler(miit: Participant) -> Participant:
    recycler = register(CAST.recycler, ["recycler"], by=miit, name="Ganzhou Recycling")
    recycler.collect_events()
    return recycler


# ------------------------------------------------------------------------------ registration
def test_a_regulator_registers_a_manufacturer_keyed_by_its_credit_code(miit: Participant) -> None:
    maker = register(
        f" {CAST.manufacturer.lower()} ",
        ["Manufacturer"],
        ["3ca", " 3CB "],
        by=miit,
        name="  Ningde Cells Co. ",
    )

    assert maker.id == maker.credit_code == CAST.manufacturer
    assert maker.name == "Ningde Cells Co."
    assert maker.roles == ["manufacturer"]
    assert maker.manufacturer_codes == ["3CA", "3CB"]
    assert maker.registered_by == miit.id
    assert maker.check_override is False
    assert maker.whitelist == []
    [registered] = maker.collect_events()
    assert type(registered).__name__ == "Registered"
    assert registered.originator_id == CAST.manufacturer
    assert registered.roles == ["manufacturer"]


def test_the_first_regulator_registers_itself(miit: Participant) -> None:
    assert miit.is_regulator
    assert miit.registered_by is None


def test_roles_are_normalised_and_deduplicated(miit: Participant) -> None:
    maker = register(CAST.vehicle_maker, ["vehicle-maker", " OUTLET_OPERATOR ", "vehicle_maker"], by=miit)
    assert maker.roles == ["vehicle_maker", "outlet_operator"]
    assert maker.has_role(Role.VEHICLE_MAKER) and maker.has_role(Role.OUTLET_OPERATOR)
    assert not maker.has_role(Role.RECYCLER) and not maker.is_regulator


def test_an_unknown_role_is_refused_listing_the_known_ones(miit: Participant) -> None:
    with pytest.raises(InvalidInput) as caught:
        register(CAST.recycler, ["recycler", "scrap dealer"], by=miit)
    assert "unknown role 'scrap dealer'" in str(caught.value)
    assert all(role.value in str(caught.value) for role in Role)


def test_a_participant_needs_a_role(miit: Participant) -> None:
    with pytest.raises(InvalidInput, match="needs at least one role"):
        register(CAST.recycler, [], by=miit)
    with pytest.raises(InvalidInput, match="needs at least one role"):
        parse_roles(())


def test_a_participant_needs_a_name(miit: Participant) -> None:
    with pytest.raises(InvalidInput, match="needs a name"):
        register(CAST.recycler, ["recycler"], by=miit, name="   ")


def test_a_battery_manufacturer_needs_a_manufacturer_code(miit: Participant) -> None:
    with pytest.raises(InvalidInput, match="at least one 3-character manufacturer code"):
        register(CAST.manufacturer, ["manufacturer"], by=miit)
    with pytest.raises(InvalidInput, match="at least one 3-character manufacturer code"):
        register(CAST.manufacturer, ["manufacturer"], [], by=miit)


def test_a_cascade_use_enterprise_may_own_codes_for_its_second_life_products(
    miit: Participant,
) -> None:
    assert register(CAST.cascade_user, ["cascade_user"], ["9CU"], by=miit).manufacturer_codes == ["9CU"]
    assert register(CAST.cascade_user, ["cascade_user"], by=miit).manufacturer_codes == []


def test_only_manufacturers_and_cascade_use_enterprises_own_codes(miit: Participant) -> None:
    with pytest.raises(InvalidInput, match="add the role manufacturer or cascade_user"):
        register(CAST.recycler, ["recycler"], ["RCY"], by=miit)


@pytest.mark.parametrize("code", ["3C", "3CAB", "3C-", "", "٣CA", "ßA", "3Ｃ"])
def test_a_malformed_manufacturer_code_is_refused(miit: Participant, code: str) -> None:
    with pytest.raises(InvalidInput, match="must be 3 digits or capital letters"):
        register(CAST.manufacturer, ["manufacturer"], [code], by=miit)


def test_manufacturer_codes_are_upper_cased() -> None:
    assert parse_manufacturer_code(" 9cu ") == "9CU"


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("9135090MA2YE0001", "has 16 characters"),
        ("91350900MA2YE000O7", "character 'O' at position 17"),
        (credit_code("91350900MA2YE0001")[:-1] + "0", "fails its check character"),
    ],
)
def test_a_bad_credit_code_is_refused(miit: Participant, code: str, fragment: str) -> None:
    with pytest.raises(InvalidCreditCode, match=fragment):
        register(code, ["recycler"], by=miit)


def test_a_regulator_may_register_an_early_code_that_fails_its_check(miit: Participant) -> None:
    early = register(BAD_CHECK, ["recycler"], by=miit, allow_bad_check=True)
    assert early.id == BAD_CHECK
    assert early.check_override is True


def test_the_check_override_is_recorded_only_when_it_was_needed(miit: Participant) -> None:
    assert register(CAST.recycler, ["recycler"], by=miit, allow_bad_check=True).check_override is False


def test_only_a_regulator_may_override_the_check(miit: Participant) -> None:
    maker = register(CAST.vehicle_maker, ["vehicle_maker"], by=miit)
    with pytest.raises(NotAuthorised, match="regulator"):
        register(BAD_CHECK, ["recycler"], by=maker, allow_bad_check=True)
    with pytest.raises(NotAuthorised, match="regulator"):
        register(BAD_CHECK, ["regulator"], by=None, allow_bad_check=True)


def test_without_the_override_a_failing_code_is_refused_even_for_a_regulator(
    miit: Participant,
) -> None:
    with pytest.raises(InvalidCreditCode, match="expected 'L' at position 18, got 'A'"):
        register(BAD_CHECK, ["recycler"], by=miit)


def test_require_role_says_who_lacks_which_role(recycler: Participant) -> None:
    recycler.require_role(Role.RECYCLER, to="recycle a battery")
    with pytest.raises(NotAuthorised) as caught:
        recycler.require_role(Role.MANUFACTURER, Role.CASCADE_USER, to="produce a battery")
    message = str(caught.value)
    assert f"Ganzhou Recycling ({CAST.recycler}) cannot produce a battery" in message
    assert "needs the role manufacturer or cascade_user, it has recycler" in message


# -------------------------------------------------------------------------------- whitelist
def test_a_whitelisted_recycler_is_whitelisted_from_the_effective_date_on(
    miit: Participant, recycler: Participant
) -> None:
    recycler.grant_whitelist(Activity.RECYCLING, date(2025, 3, 1), by=miit)

    assert not recycler.is_whitelisted(Activity.RECYCLING, on=date(2025, 2, 28))
    assert recycler.is_whitelisted(Activity.RECYCLING, on=date(2025, 3, 1))
    assert recycler.is_whitelisted(Activity.RECYCLING, on=date(2039, 1, 1))
    assert not recycler.is_whitelisted(Activity.CASCADE_USE, on=date(2025, 3, 1))
    assert recycler.whitelist_periods() == [WhitelistPeriod("recycling", date(2025, 3, 1))]
    [granted] = recycler.collect_events()
    assert type(granted).__name__ == "WhitelistGranted"
    assert (granted.activity, granted.effective_on, granted.granted_by) == (
        "recycling",
        "2025-03-01",
        miit.id,
    )


def test_a_revocation_ends_the_whitelist_from_its_effective_date(
    miit: Participant, recycler: Participant
) -> None:
    recycler.grant_whitelist(Activity.RECYCLING, date(2025, 3, 1), by=miit)
    recycler.revoke_whitelist(
        Activity.RECYCLING, date(2025, 9, 1), by=miit, reason="failed the annual inspection"
    )

    assert recycler.is_whitelisted(Activity.RECYCLING, on=date(2025, 8, 31))
    assert not recycler.is_whitelisted(Activity.RECYCLING, on=date(2025, 9, 1))
    assert not recycler.is_whitelisted(Activity.RECYCLING, on=date(2026, 1, 1))
    assert recycler.whitelist_periods() == [WhitelistPeriod("recycling", date(2025, 3, 1), date(2025, 9, 1))]
    revoked = recycler.collect_events()[-1]
    assert type(revoked).__name__ == "WhitelistRevoked"
    assert (revoked.effective_on, revoked.revoked_by, revoked.reason) == (
        "2025-09-01",
        miit.id,
        "failed the annual inspection",
    )


def test_a_recycler_whitelisted_again_has_a_gap_in_between(miit: Participant, recycler: Participant) -> None:
    recycler.grant_whitelist(Activity.RECYCLING, date(2025, 3, 1), by=miit)
    recycler.revoke_whitelist(Activity.RECYCLING, date(2025, 9, 1), by=miit, reason="inspection")
    recycler.grant_whitelist(Activity.RECYCLING, date(2026, 1, 1), by=miit)

    assert recycler.is_whitelisted(Activity.RECYCLING, on=date(2025, 5, 1))
    assert not recycler.is_whitelisted(Activity.RECYCLING, on=date(2025, 12, 31))
    assert recycler.is_whitelisted(Activity.RECYCLING, on=date(2026, 1, 1))
    assert len(recycler.whitelist_periods()) == 2


def test_granting_again_while_whitelisted_records_nothing(miit: Participant, recycler: Participant) -> None:
    recycler.grant_whitelist(Activity.RECYCLING, date(2025, 3, 1), by=miit)
    recycler.collect_events()
    recycler.grant_whitelist(Activity.RECYCLING, date(2025, 6, 1), by=miit)
    assert recycler.collect_events() == []
    assert len(recycler.whitelist_periods()) == 1


def test_whitelists_are_per_activity(miit: Participant) -> None:
    both = register(CAST.cascade_user, ["recycler", "cascade_user"], ["9CU"], by=miit)
    both.grant_whitelist(Activity.CASCADE_USE, date(2025, 1, 1), by=miit)
    assert both.is_whitelisted(Activity.CASCADE_USE, on=date(2025, 6, 1))
    assert not both.is_whitelisted(Activity.RECYCLING, on=date(2025, 6, 1))
    with pytest.raises(InvalidInput, match="is not whitelisted for recycling"):
        both.revoke_whitelist(Activity.RECYCLING, date(2025, 6, 1), by=miit, reason="typo")


def test_only_an_enterprise_with_the_matching_role_can_be_whitelisted(
    miit: Participant, recycler: Participant
) -> None:
    with pytest.raises(NotAuthorised, match="cannot be whitelisted for cascade_use"):
        recycler.grant_whitelist(Activity.CASCADE_USE, date(2025, 3, 1), by=miit)
    assert recycler.collect_events() == []


def test_only_a_regulator_grants_whitelist_status(miit: Participant, recycler: Participant) -> None:
    with pytest.raises(NotAuthorised, match="cannot grant whitelist status"):
        recycler.grant_whitelist(Activity.RECYCLING, date(2025, 3, 1), by=recycler)
    assert not recycler.is_whitelisted(Activity.RECYCLING, on=date(2025, 3, 1))
    assert recycler.collect_events() == []


def test_only_a_regulator_revokes_whitelist_status(miit: Participant, recycler: Participant) -> None:
    rival = register(CAST.informal_recycler, ["recycler"], by=miit)
    recycler.grant_whitelist(Activity.RECYCLING, date(2025, 3, 1), by=miit)
    recycler.collect_events()
    with pytest.raises(NotAuthorised, match="cannot revoke whitelist status"):
        recycler.revoke_whitelist(Activity.RECYCLING, date(2025, 9, 1), by=rival, reason="envy")
    assert recycler.is_whitelisted(Activity.RECYCLING, on=date(2025, 9, 1))
    assert recycler.collect_events() == []


def test_revoking_a_whitelist_that_was_never_granted_is_refused(
    miit: Participant, recycler: Participant
) -> None:
    with pytest.raises(InvalidInput, match="is not whitelisted for recycling"):
        recycler.revoke_whitelist(Activity.RECYCLING, date(2025, 9, 1), by=miit, reason="x")


def test_revoking_a_whitelist_twice_is_refused(miit: Participant, recycler: Participant) -> None:
    recycler.grant_whitelist(Activity.RECYCLING, date(2025, 3, 1), by=miit)
    recycler.revoke_whitelist(Activity.RECYCLING, date(2025, 9, 1), by=miit, reason="x")
    with pytest.raises(InvalidInput, match="is not whitelisted for recycling"):
        recycler.revoke_whitelist(Activity.RECYCLING, date(2025, 10, 1), by=miit, reason="x")


def test_a_revocation_before_the_grant_is_refused(miit: Participant, recycler: Participant) -> None:
    recycler.grant_whitelist(Activity.RECYCLING, date(2025, 3, 1), by=miit)
    with pytest.raises(InvalidInput, match="2025-02-01 is before the grant on 2025-03-01"):
        recycler.revoke_whitelist(Activity.RECYCLING, date(2025, 2, 1), by=miit, reason="x")
    assert recycler.is_whitelisted(Activity.RECYCLING, on=date(2025, 3, 1))


def test_a_participant_rebuilt_from_its_events_has_the_same_whitelist(
    miit: Participant,
) -> None:
    recycler = register(CAST.recycler, ["recycler"], by=miit, name="Ganzhou Recycling")
    recycler.grant_whitelist(Activity.RECYCLING, date(2025, 3, 1), by=miit)
    recycler.revoke_whitelist(Activity.RECYCLING, date(2025, 9, 1), by=miit, reason="x")
    recycler.grant_whitelist(Activity.RECYCLING, date(2026, 1, 1), by=miit)

    rebuilt = None
    for domain_event in recycler.collect_events():
        rebuilt = domain_event.mutate(rebuilt)
    assert isinstance(rebuilt, Participant)
    assert rebuilt.whitelist_periods() == recycler.whitelist_periods()
    assert rebuilt.version == recycler.version == 4


def test_only_a_regulator_registers_others(miit: Participant) -> None:
    maker = register(CAST.vehicle_maker, ["vehicle_maker"], by=miit)
    with pytest.raises(NotAuthorised, match="cannot register participants"):
        register(CAST.recycler, ["recycler"], by=maker)


def test_without_a_registering_regulator_only_a_regulator_registers_itself() -> None:
    with pytest.raises(NotAuthorised, match="only a regulator"):
        register(CAST.recycler, ["recycler"], by=None)


def test_a_grant_dated_before_the_open_grant_is_refused(miit: Participant, recycler: Participant) -> None:
    recycler.grant_whitelist(Activity.RECYCLING, date(2025, 6, 1), by=miit)
    recycler.grant_whitelist(Activity.RECYCLING, date(2025, 9, 1), by=miit)  # already covered
    with pytest.raises(InvalidInput, match="since 2025-06-01"):
        recycler.grant_whitelist(Activity.RECYCLING, date(2025, 1, 1), by=miit)
    assert len(recycler.whitelist_periods()) == 1
