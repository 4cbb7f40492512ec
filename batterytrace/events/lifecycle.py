"""The battery lifecycle as a state machine: which action each state allows.

One table, so that the rule a command enforces and the "allowed now" list in its error message can
never disagree.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    PRODUCED = "produced"  # made, in the manufacturer's hands (or delivered to a vehicle maker)
    ASSEMBLED = "assembled"  # built into a pack (modules, cells); follows its pack from then on
    INSTALLED = "installed"  # in a vehicle, or a second-life product at its site
    SWAP_STOCK = "at swap station"  # held by a swap operator at one of its stations, between vehicles
    IN_SCRAPPED_VEHICLE = "in scrapped vehicle"  # in a vehicle handed to a dismantler for scrapping
    REMOVED = "removed"  # out for repair or replacement; may be reinstalled
    RETIRED = "retired"  # end of first (or second) life, not yet in the formal channel
    COLLECTED = "collected"  # held at a collection point (recycling service outlet)
    HANDED_OVER = "handed over"  # held by a recycler or cascade-use enterprise
    CASCADE_REUSED = "cascade-reused"  # lives on inside a second-life product
    RECYCLED = "recycled"  # materials recovered; the end


class Action(StrEnum):
    ASSEMBLE = "assemble into a pack"
    DELIVER = "deliver"
    INSTALL = "install"
    REMOVE = "remove"
    SWAP_OUT = "swap out"
    SWAP_IN = "swap in"
    SCRAP_WITH_VEHICLE = "scrap with vehicle"
    RETIRE = "retire"
    COLLECT = "collect"
    HAND_OVER = "hand over"
    CASCADE_REUSE = "cascade-reuse"
    RECYCLE = "recycle"


ALLOWED: dict[State, tuple[Action, ...]] = {
    State.PRODUCED: (Action.ASSEMBLE, Action.DELIVER, Action.INSTALL, Action.SWAP_IN, Action.RETIRE),
    State.ASSEMBLED: (),
    State.INSTALLED: (Action.REMOVE, Action.SWAP_OUT, Action.SCRAP_WITH_VEHICLE, Action.RETIRE),
    State.SWAP_STOCK: (Action.SWAP_IN, Action.RETIRE),
    State.IN_SCRAPPED_VEHICLE: (Action.RETIRE,),
    State.REMOVED: (Action.INSTALL, Action.RETIRE),
    State.RETIRED: (Action.COLLECT, Action.HAND_OVER),
    State.COLLECTED: (Action.HAND_OVER,),
    State.HANDED_OVER: (Action.COLLECT, Action.HAND_OVER, Action.CASCADE_REUSE, Action.RECYCLE),
    State.CASCADE_REUSED: (),
    State.RECYCLED: (),
}

# Why a state with no actions allows nothing, for the error message.
DEAD_ENDS = {
    State.ASSEMBLED: "it is part of a pack; act on the pack instead",
    State.CASCADE_REUSED: "it lives on in a second-life product; act on that product instead",
    State.RECYCLED: "it has been recycled; its life has ended",
}


def allowed_actions(state: State) -> list[str]:
    return [str(action) for action in ALLOWED[state]]
