"""Who may read which part of a battery passport: the Battery Pass attribute list's access tiers.

The tiers are data (``data/passport_access.csv``, see ``data/passport_access.md``): each of the 93
attributes of the Battery Pass data model 1.2.0 longlist with its access right and the aspect field
it is emitted in. A reader is in one tier: the **public**; **persons with a legitimate interest**
(here: the battery's holder and every participant involved with it, the disclosure rule of
``disclosure.py``); **authorities** (regulators, who read everything). ``cut`` removes from an
aspect every field the reader's tier may not see, and says which.

One decision of this service widens the list, and only one: the battery's **status** is shown to
the public although the list has it for persons with a legitimate interest. The QR code's public
page already shows the battery's lifecycle state (retired, collected …) so that whoever finds a
battery knows to hand it in; the passport's five statuses say less than that page does. The date
the battery was put into service stays withheld: an exact date narrows a battery down to its
vehicle and owner, which is why the public page shows the production month only.
"""

from __future__ import annotations

import copy
import csv
from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from pathlib import Path
from typing import Any

TABLE = Path(__file__).parent / "data" / "passport_access.csv"


class Tier(IntEnum):
    """Access tiers, each seeing everything the ones below it see."""

    PUBLIC = 0
    LEGITIMATE_INTEREST = 1
    AUTHORITIES = 2


TIER_NAMES = {
    "public": Tier.PUBLIC,
    "legitimate_interest": Tier.LEGITIMATE_INTEREST,
    "authorities": Tier.AUTHORITIES,
}
# The one widening of the list (module doc): (aspect, field) -> the tier that sees it here.
WIDENED = {("GeneralProductInformation", "batteryStatus"): Tier.PUBLIC}


@dataclass(frozen=True)
class Attribute:
    number: int
    name: str
    tier: Tier
    level: str
    aspect: str
    path: str

    @property
    def flag(self) -> str | None:
        """``isCriticalRawMaterial`` for ``batteryMaterials[isCriticalRawMaterial]``, else None."""
        return self.path.partition("[")[2].rstrip("]") or None

    @property
    def field(self) -> str:
        return self.path.partition("[")[0]


@cache
def attributes() -> tuple[Attribute, ...]:
    with TABLE.open(encoding="utf-8", newline="") as handle:
        return tuple(
            Attribute(
                int(row["number"]),
                row["attribute"],
                TIER_NAMES[row["tier"]],
                row["level"],
                row["aspect"],
                row["path"],
            )
            for row in csv.DictReader(handle)
        )


@cache
def field_tiers(aspect: str) -> dict[str, Tier]:
    """Each field of ``aspect`` with the tier that may see it: the strictest of the attributes
    mapped to it (a field shared by a public and a restricted attribute is restricted)."""
    tiers: dict[str, Tier] = {}
    for attribute in attributes():
        if attribute.aspect == aspect and attribute.flag is None:
            tiers[attribute.field] = max(tiers.get(attribute.field, Tier.PUBLIC), attribute.tier)
    for (widened_aspect, field), tier in WIDENED.items():
        if widened_aspect == aspect:
            tiers[field] = tier
    return tiers


@cache
def item_openings(aspect: str) -> dict[str, tuple[str, Tier]]:
    """Lists of ``aspect`` some of whose items a wider tier sees: field -> (flag, tier)."""
    return {a.field: (a.flag, a.tier) for a in attributes() if a.aspect == aspect and a.flag}


def withheld_fields(aspect: str, reader: Tier) -> list[str]:
    """The fields of ``aspect`` (dotted paths) that ``reader`` may not see in whole."""
    return sorted(field for field, tier in field_tiers(aspect).items() if tier > reader)


def cut(aspect: str, body: dict[str, Any], reader: Tier) -> tuple[dict[str, Any], list[str]]:
    """``body`` without what ``reader`` may not see, and the paths withheld (present in ``body``).
    A list opened item by item keeps the items whose flag is set (``field[flag]`` in the list)."""
    shown = copy.deepcopy(body)
    withheld = []
    for field in withheld_fields(aspect, reader):
        *parents, last = field.split(".")
        holder: Any = shown
        for part in parents:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if not isinstance(holder, dict) or last not in holder:
            continue
        opening = item_openings(aspect).get(field)
        if opening and opening[1] <= reader and isinstance(holder[last], list):
            holder[last] = [item for item in holder[last] if item.get(opening[0]) is True]
            withheld.append(f"{field}[not {opening[0]}]")
            continue
        del holder[last]
        withheld.append(field)
        for emptied in _prune_emptied(shown, parents):  # named once, not field by field
            withheld = [path for path in withheld if not path.startswith(f"{emptied}.")] + [emptied]
    return shown, withheld


def _prune_emptied(shown: dict[str, Any], parents: list[str]) -> list[str]:
    """Remove the objects a cut left empty (all of ``temperatureInformation`` withheld), deepest
    first, and name them: an empty object would claim a value the reader was not given."""
    pruned = []
    for depth in range(len(parents), 0, -1):
        holder: Any = shown
        for part in parents[: depth - 1]:
            holder = holder[part]
        if holder.get(parents[depth - 1]) == {}:
            del holder[parents[depth - 1]]
            pruned.append(".".join(parents[:depth]))
    return pruned
