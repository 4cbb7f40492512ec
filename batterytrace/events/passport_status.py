"""The EU battery passport's battery status, from the battery's lifecycle: one table, one rule.

Regulation (EU) 2023/1542 Annex XIII point 4(c) and the Battery Pass data model
(``BatteryStatusEnumeration``) know five statuses: Original, Repurposed, Reused, Remanufactured,
Waste. Which of the traced events gives which, read against the Regulation's definitions
(Art. 3(1); 're-use' is not defined there, so Directive 2008/98/EC Art. 3(13) applies: a product
that is not waste used again for the same purpose for which it was conceived):

- **Original** from production until the battery's first life ends: made, delivered, in a
  vehicle, removed for repair or replacement, reinstalled in the same vehicle (a repair is not a
  new use), in a swap station's stock or swapped into any vehicle (battery swapping is the use the
  swap operator's batteries are conceived for: they circulate between its customers' vehicles,
  owned by the operator, so a swap is no re-use), in a scrapped vehicle not yet taken out.
- **Reused** once a removed battery is installed in a vehicle other than the one it was taken
  out of (``Removed`` then ``Installed`` with another VIN): the same purpose, an EV's traction
  battery, in a new use. It stays Reused through later repairs and moves, until its life ends.
- **Waste** once it is retired: retired, collected at an outlet, handed over (for recycling, or to
  a cascade-use enterprise that has not yet made anything of it: until then it is a waste battery
  the enterprise holds). A retired battery cannot be installed again here (``lifecycle.py``), so
  no event takes a battery from Waste back to Reused ('preparing for re-use', Art. 3(1)(29),
  would need one).
- **Repurposed** for a second-life product (its own passport, ``derived_from`` its originals:
  'repurposing', Art. 3(1)(31), a use other than the one the battery was designed for; Art. 77(6)
  links the new passport to the original's) and for each original once it lives on in one
  (``CascadeReused``), so both say where the other is. A second-life product moved from one site
  to another stays Repurposed (its purpose is the second-life one); retired in turn it is Waste.
- **Remanufactured** is given by no event: 'remanufacturing' (Art. 3(1)) is disassembling and
  evaluating every cell and module, replacing some, and restoring at least 90 % of the rated
  capacity with cells' states of health within 3 % of each other, for the original purpose. A
  ``Removed`` for ``repair`` records none of that, and the Chinese rules (``domain.md``) report
  repair and replacement only. It would need an event of its own (say ``Remanufactured``, by the
  holder of a removed battery, carrying the restored capacity and the cells' spread, checked
  against those bounds) with its command, lifecycle action, custody consequence, views, EPCIS
  mapping, deadline row, API and CLI: not a small change, so not made.
- **Ended** after recycling: Art. 77(7), the passport ceases to exist once the battery is
  recycled; the passport route and the resolver say so instead of showing one.

A module or cell built into a pack (``assembled``) has no passport of its own: the regulation's
passport is the pack's (the battery placed on the market).

Pure: the history is read as (event name, facts) pairs, as ``custody.py`` reads it, so events
and timeline rows give the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from batterytrace.events.lifecycle import State

ORIGINAL = "Original"
REPURPOSED = "Repurposed"
REUSED = "Reused"
REMANUFACTURED = "Remanufactured"  # no event gives it yet (see above)
WASTE = "Waste"
ENDED = None  # recycled: no passport any more

STATUS_BY_STATE = MappingProxyType(
    {
        State.PRODUCED: ORIGINAL,
        State.INSTALLED: ORIGINAL,
        State.SWAP_STOCK: ORIGINAL,
        State.IN_SCRAPPED_VEHICLE: ORIGINAL,
        State.REMOVED: ORIGINAL,
        State.RETIRED: WASTE,
        State.COLLECTED: WASTE,
        State.HANDED_OVER: WASTE,
        State.CASCADE_REUSED: REPURPOSED,
        State.RECYCLED: ENDED,
    }
)
# States in which a battery has no passport of its own (the pack it is part of has it).
WITHOUT_PASSPORT = frozenset({State.ASSEMBLED})
# Events that put a battery into a vehicle, with its VIN in ``vin``.
_INTO_VEHICLE = frozenset({"Installed", "SwappedIn"})


def first_life_use(events: Iterable[tuple[str, Mapping[str, Any]]]) -> str:
    """``REUSED`` once the battery, taken out of a vehicle (``Removed``), was installed in
    another vehicle; ``ORIGINAL`` otherwise. ``events``: (event name, facts), oldest first."""
    vin: str | None = None
    removed_from: str | None = None
    for name, facts in events:
        if name == "Removed":
            removed_from = vin
        elif name in _INTO_VEHICLE:
            vin = facts.get("vin")
            if name == "Installed" and removed_from is not None and vin and vin != removed_from:
                return REUSED
            removed_from = None
    return ORIGINAL


def passport_status(state: State, *, second_life: bool, use: str = ORIGINAL) -> str | None:
    """The passport status of a battery in ``state``; None once its passport has ended.
    ``use``: its first life's, from ``first_life_use``. A second-life product is Repurposed for
    as long as its life as a product lasts."""
    status = STATUS_BY_STATE[state]
    if status != ORIGINAL:
        return status
    return REPURPOSED if second_life else use
