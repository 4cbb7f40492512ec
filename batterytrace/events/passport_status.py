"""The EU battery passport's battery status, from the battery's lifecycle state: one table.

Regulation (EU) 2023/1542 (Art. 77, Annex XIII) and the Battery Pass data model know five statuses:
Original, Repurposed, Reused, Remanufactured, Waste. The traced life maps onto them so:

- **Original** from production until the battery's (first) life ends: made, delivered, in a
  vehicle, removed for repair, in a swap station's stock, in a scrapped vehicle not yet taken out.
- **Waste** once it is retired: retired, collected at an outlet, handed over (for recycling, or to
  a cascade-use enterprise that has not yet made anything of it: until then it is a waste battery
  the enterprise holds).
- **Repurposed** for a second-life product (its own passport, ``derived_from`` its originals) and
  for each original once it lives on in one (``cascade-reused``): the regulation links the new
  passport to the original's, so both say where the other is. A second-life product that is
  retired in turn is Waste again.
- **Ended** after recycling: Art. 77(7), the passport ceases to exist once the battery is
  recycled; the passport route and the resolver say so instead of showing one.

A module or cell built into a pack (``assembled``) has no passport of its own: the regulation's
passport is the pack's (the battery placed on the market). Reused and Remanufactured have no
lifecycle event here yet.
"""

from __future__ import annotations

from types import MappingProxyType

from batterytrace.events.lifecycle import State

ORIGINAL = "Original"
REPURPOSED = "Repurposed"
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


def passport_status(state: State, *, second_life: bool) -> str | None:
    """The passport status of a battery in ``state``; None once its passport has ended.
    A second-life product is Repurposed for as long as its first life as a product lasts."""
    status = STATUS_BY_STATE[state]
    if second_life and status == ORIGINAL:
        return REPURPOSED
    return status
