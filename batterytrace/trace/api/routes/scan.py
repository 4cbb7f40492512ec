"""Routes: scan."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["scan"])
