"""Who a participant is (its roles) and what a receiver does with a battery (its activity).

Plain enumerations in a module of their own, apart from the ``Participant`` aggregate: the
reporting deadlines, the settings and the read side name roles without building any aggregate
class, which keeps the read-only CLI commands quick to start.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    MANUFACTURER = "manufacturer"  # battery manufacturer
    VEHICLE_MAKER = "vehicle_maker"
    OUTLET_OPERATOR = "outlet_operator"  # runs recycling service outlets
    DISMANTLER = "dismantler"  # end-of-life vehicle dismantler
    CASCADE_USER = "cascade_user"  # cascade-use (second-life) enterprise
    RECYCLER = "recycler"
    SWAP_OPERATOR = "swap_operator"  # runs battery-swap stations (battery as a service)
    REGULATOR = "regulator"


class Activity(StrEnum):
    """What a receiver does with a battery; whitelists are granted per activity."""

    RECYCLING = "recycling"
    CASCADE_USE = "cascade_use"
