"""A collection point's review by a regulator, as a plain enumeration the read side can import
without building the ``CollectionPoint`` aggregate."""

from __future__ import annotations

from enum import StrEnum


class Review(StrEnum):
    """Whether a regulator has checked the point: only approved points are shown to the public."""

    PENDING = "pending"
    APPROVED = "approved"
