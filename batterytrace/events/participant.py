"""Participants: the enterprises and authorities that act on batteries.

A participant's stream is keyed by its Unified Social Credit Code. It holds the roles that decide
what it may do, the GB/T 34014 manufacturer codes it owns, and its whitelist history (the
comprehensive-utilisation conditions, granted and revoked by a regulator), which decides whether a
handover to it is compliant on a given date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from eventsourcing.domain import event

from batterytrace.events.base import TraceAggregate
from batterytrace.events.credit_code import credit_code_check_character, parse_credit_code
from batterytrace.events.errors import InvalidInput, NotAuthorised
from batterytrace.events.regions import check_division_code
from batterytrace.events.roles import Activity, Role

ROLE_FOR_ACTIVITY = {Activity.RECYCLING: Role.RECYCLER, Activity.CASCADE_USE: Role.CASCADE_USER}

# Roles that may operate collection points: outlets are set up by vehicle makers (domain.md), by
# dedicated outlet operators, and by recyclers and cascade-use enterprises for their own intake.
OUTLET_ROLES = frozenset(
    {Role.OUTLET_OPERATOR, Role.VEHICLE_MAKER, Role.RECYCLER, Role.CASCADE_USER, Role.DISMANTLER}
)


def parse_roles(values: list[str] | tuple[str, ...]) -> tuple[Role, ...]:
    roles = []
    for value in values:
        try:
            roles.append(Role(value.strip().lower().replace("-", "_")))
        except ValueError:
            raise InvalidInput(
                f"unknown role {value!r}; use one of: {', '.join(r.value for r in Role)}"
            ) from None
    if not roles:
        raise InvalidInput(f"a participant needs at least one role: {', '.join(Role)}")
    return tuple(dict.fromkeys(roles))


def _seat_division(division_code: str | None) -> str | None:
    """The division code of a participant's seat, checked as a collection point's is (a listed
    GB/T 2260 province, prefecture or county); None when none is given. Checked at registration
    only: a participant recorded before the check loads with whatever code it was given."""
    if division_code is None or not division_code.strip():
        return None
    try:
        return check_division_code(division_code)
    except ValueError as error:
        raise InvalidInput(str(error)) from None


def parse_manufacturer_code(value: str) -> str:
    code = "".join(c.upper() if c.isascii() else c for c in value.strip())
    if len(code) != 3 or not all("0" <= c <= "9" or "A" <= c <= "Z" for c in code):
        raise InvalidInput(
            f"manufacturer code {value!r} must be 3 digits or capital letters (GB/T 34014 "
            "positions 1-3), e.g. 3CA"
        )
    return code


@dataclass(frozen=True)
class WhitelistPeriod:
    activity: str
    granted_on: date
    revoked_on: date | None = None

    def covers(self, day: date) -> bool:
        return self.granted_on <= day and (self.revoked_on is None or day < self.revoked_on)


class Participant(TraceAggregate):
    """An enterprise or authority registered on the platform."""

    @staticmethod
    def create_id(credit_code: str, **_: object) -> str:
        return credit_code

    @event("Registered")
    def __init__(
        self,
        *,
        credit_code: str,
        name: str,
        roles: list[str],
        manufacturer_codes: list[str],
        division_code: str | None,
        check_override: bool,
        registered_by: str | None,
        name_en: str | None = None,
    ) -> None:
        self.credit_code = credit_code
        self.name = name
        # The name in English, for English pages; optional (events recorded before it have none).
        self.name_en = name_en
        self.roles = list(roles)
        self.manufacturer_codes = list(manufacturer_codes)
        self.division_code = division_code
        self.check_override = check_override
        self.registered_by = registered_by
        self.whitelist: list[dict[str, str | None]] = []

    @classmethod
    def register(
        cls,
        *,
        credit_code: str,
        name: str,
        roles: list[str],
        manufacturer_codes: list[str] | None = None,
        division_code: str | None = None,
        registered_by: Participant | None,
        allow_bad_check: bool = False,
        name_en: str | None = None,
    ) -> Participant:
        """Register an enterprise; only a regulator may, except the very first regulator."""
        if registered_by is not None:
            registered_by.require_role(Role.REGULATOR, to="register participants")
        elif [r.strip().lower() for r in roles] != [Role.REGULATOR.value]:
            raise NotAuthorised("without a registering regulator, only a regulator can register (itself)")
        if allow_bad_check and (registered_by is None or not registered_by.is_regulator):
            raise NotAuthorised("only a regulator may register a credit code that fails its check")
        code = parse_credit_code(credit_code, allow_bad_check=allow_bad_check)
        if not name.strip():
            raise InvalidInput("a participant needs a name")
        parsed_roles = parse_roles(roles)
        codes = [parse_manufacturer_code(c) for c in manufacturer_codes or []]
        repeated = sorted({c for c in codes if codes.count(c) > 1})
        if repeated:
            raise InvalidInput(f"manufacturer code {', '.join(repeated)} is listed twice")
        if codes and not {Role.MANUFACTURER, Role.CASCADE_USER} & set(parsed_roles):
            raise InvalidInput(
                "manufacturer codes are for battery manufacturers and cascade-use enterprises "
                "(second-life products get codes under their maker's own code); add the role "
                "manufacturer or cascade_user"
            )
        if Role.MANUFACTURER in parsed_roles and not codes:
            raise InvalidInput("a battery manufacturer needs at least one 3-character manufacturer code")
        return cls(
            credit_code=code,
            name=name.strip(),
            roles=[r.value for r in parsed_roles],
            manufacturer_codes=codes,
            division_code=_seat_division(division_code),
            check_override=code[17] != credit_code_check_character(code[:17]),
            registered_by=registered_by.id if registered_by else None,
            name_en=(name_en or "").strip() or None,
        )

    # -- queries ------------------------------------------------------------------------------
    def has_role(self, role: Role) -> bool:
        return role.value in self.roles

    @property
    def is_regulator(self) -> bool:
        return self.has_role(Role.REGULATOR)

    def whitelist_periods(self) -> list[WhitelistPeriod]:
        return [
            WhitelistPeriod(
                activity=str(p["activity"]),
                granted_on=date.fromisoformat(str(p["granted_on"])),
                revoked_on=date.fromisoformat(str(p["revoked_on"])) if p["revoked_on"] else None,
            )
            for p in self.whitelist
        ]

    def is_whitelisted(self, activity: Activity, on: date) -> bool:
        return any(p.activity == activity and p.covers(on) for p in self.whitelist_periods())

    def require_role(self, *roles: Role, to: str) -> None:
        if not any(self.has_role(role) for role in roles):
            needed = " or ".join(r.value for r in roles)
            raise NotAuthorised(
                f"{self.name} ({self.id}) cannot {to}: it needs the role {needed}, "
                f"it has {', '.join(self.roles)}",
                key="participant.missing_role",
                params={"name": self.name, "roles": [r.value for r in roles]},
            )

    # -- whitelist ----------------------------------------------------------------------------
    def grant_whitelist(self, activity: Activity, effective_on: date, *, by: Participant) -> None:
        by.require_role(Role.REGULATOR, to="grant whitelist status")
        self.require_role(ROLE_FOR_ACTIVITY[activity], to=f"be whitelisted for {activity}")
        open_periods = [p for p in self.whitelist_periods() if p.activity == activity and not p.revoked_on]
        if open_periods:
            since = open_periods[-1].granted_on
            if effective_on >= since:
                return  # already whitelisted then: granting again changes nothing
            raise InvalidInput(
                f"{self.name} ({self.id}) is whitelisted for {activity} since {since}; to change the "
                "start date, revoke the grant first"
            )
        self._whitelist_granted(
            activity=activity.value, effective_on=effective_on.isoformat(), granted_by=by.id
        )

    @event("WhitelistGranted")
    def _whitelist_granted(self, activity: str, effective_on: str, granted_by: str) -> None:
        self.whitelist.append({"activity": activity, "granted_on": effective_on, "revoked_on": None})

    def revoke_whitelist(
        self, activity: Activity, effective_on: date, *, by: Participant, reason: str
    ) -> None:
        by.require_role(Role.REGULATOR, to="revoke whitelist status")
        open_periods = [p for p in self.whitelist if p["activity"] == activity and p["revoked_on"] is None]
        if not open_periods:
            raise InvalidInput(f"{self.name} ({self.id}) is not whitelisted for {activity}")
        if effective_on < date.fromisoformat(str(open_periods[-1]["granted_on"])):
            raise InvalidInput(
                f"revocation date {effective_on} is before the grant on {open_periods[-1]['granted_on']}"
            )
        self._whitelist_revoked(
            activity=activity.value,
            effective_on=effective_on.isoformat(),
            revoked_by=by.id,
            reason=reason,
        )

    @event("WhitelistRevoked")
    def _whitelist_revoked(self, activity: str, effective_on: str, revoked_by: str, reason: str) -> None:
        for period in self.whitelist:
            if period["activity"] == activity and period["revoked_on"] is None:
                period["revoked_on"] = effective_on


class ManufacturerCodeClaim(TraceAggregate):
    """Who owns a 3-character manufacturer code.

    A claim is its own tiny stream keyed ``MFR-<code>`` and saved atomically with the participant
    that registers it, so two enterprises can never own one code: the second save collides in
    the store. Producing a battery looks the owner up here in one primary-key read.
    """

    @staticmethod
    def create_id(manufacturer_code: str, **_: object) -> str:
        return claim_id(manufacturer_code)

    @event("Claimed")
    def __init__(self, *, manufacturer_code: str, owner_id: str) -> None:
        self.manufacturer_code = manufacturer_code
        self.owner_id = owner_id


def claim_id(manufacturer_code: str) -> str:
    return f"MFR-{manufacturer_code}"


BOOTSTRAP_ID = "PLATFORM-BOOTSTRAP"


class PlatformBootstrap(TraceAggregate):
    """Marks that the first regulator has registered itself.

    Saved in the same transaction as that regulator, under one fixed id: of two first regulators
    registering at the same moment, the second collides in the store instead of both succeeding.
    """

    @staticmethod
    def create_id(**_: object) -> str:
        return BOOTSTRAP_ID

    @event("FirstRegulatorRegistered")
    def __init__(self, *, regulator_id: str) -> None:
        self.regulator_id = regulator_id
