"""Routes: collection points (recycling service outlets) — registered by their operator or a
regulator, approved by a regulator, listed publicly once approved (where owners hand batteries in).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field

from batterytrace.events.collection_point import Review
from batterytrace.projections import queries
from batterytrace.trace.api.deps import Caller, Regulator, Service, Views
from batterytrace.trace.api.models import WriteResponse, problem_responses, write_fields
from batterytrace.trace.api.paging import Paged, RegionFilter, ReportPage, list_answer
from batterytrace.trace.presenters import collection_point_record

router = APIRouter(tags=["participants"])

EXAMPLE_POINT = "CP-110105-0001"
EXAMPLE_OPERATOR = "91360700MA35000080"
PointIdPath = Annotated[
    str, Path(max_length=60, description="The collection point's id.", examples=[EXAMPLE_POINT])
]


# ------------------------------------------------------------------------------------- bodies
class CollectionPointRegistration(BaseModel):
    """A recycling service outlet (as `batterytrace collection-points add`)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "point_id": EXAMPLE_POINT,
                    "operator_id": EXAMPLE_OPERATOR,
                    "name": "朝阳回收服务网点",
                    "name_en": "Chaoyang collection outlet",
                    "division_code": "110105",
                    "address": "1 Battery Road, Chaoyang, Beijing",
                    "kind": "collection",
                    "capacity_kg": 5000,
                    "latitude": 39.92,
                    "longitude": 116.44,
                }
            ]
        },
    )

    point_id: str = Field(max_length=60, description="CP- followed by capital letters, digits, dashes.")
    operator_id: str = Field(max_length=40, description="The operating enterprise's credit code.")
    name: str = Field(min_length=1, max_length=200)
    name_en: str | None = Field(
        None, max_length=200, description="The name in English, shown on English pages (optional)."
    )
    division_code: str = Field(max_length=6, description="6-digit GB/T 2260 division code.")
    address: str = Field("", max_length=300)
    kind: str = Field("collection", description="collection (≤ about 5 t) or central_storage (≥ 30 t).")
    capacity_kg: float = Field(5000.0, gt=0, description="What it may hold, kg.")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


class CollectionPointApproval(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "site visited on 2026-03-02"}]}
    )

    note: str = Field("", max_length=500, description="What was checked (optional).")


# ------------------------------------------------------------------------------------ answers
class CollectionPointRecord(BaseModel):
    id: str
    name: str
    name_en: str | None = Field(None, description="The name in English, where it was registered.")
    operator_id: str
    kind: str
    capacity_kg: float
    address: str
    division_code: str
    latitude: float | None
    longitude: float | None
    review: Review = Field(
        description="approved (shown on public pages) or pending (registered by its operator, "
        "waiting for a regulator's approval)."
    )


class CollectionPointRegistered(WriteResponse):
    collection_point: CollectionPointRecord
    warning: str | None = Field(
        None,
        description="What is unusual about the point's capacity for its kind (a collection-type "
        "outlet above about 5 t: check the unit, or register central storage); the point is "
        "recorded as given. Null when nothing is.",
        examples=[None],
    )


class PublicCollectionPoint(BaseModel):
    id: str
    name: str
    name_en: str | None = Field(None, description="The name in English, where it was registered.")
    kind: str
    capacity_kg: float
    address: str
    division_code: str
    latitude: float | None
    longitude: float | None


# -------------------------------------------------------------------------- collection points
@router.post(
    "/collection-points",
    summary="Register a collection point (regulator, or the operator for itself)",
    status_code=status.HTTP_201_CREATED,
    response_model=CollectionPointRegistered,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def register_collection_point(
    body: CollectionPointRegistration, service: Service, caller: Caller
) -> dict[str, Any]:
    """A point a regulator registers is approved at once; one its operator registers is pending
    review, and public pages leave it out until a regulator approves it."""
    result = service.register_collection_point(
        actor_id=caller.id,
        point_id=body.point_id,
        operator_id=body.operator_id,
        name=body.name,
        kind=body.kind,
        capacity_kg=body.capacity_kg,
        address=body.address,
        division_code=body.division_code,
        latitude=body.latitude,
        longitude=body.longitude,
        name_en=body.name_en,
    )
    point = service.collection_point(body.point_id)
    return {
        **write_fields(service, result),
        "collection_point": collection_point_record(point),
        "warning": point.capacity_warning,
    }


@router.post(
    "/collection-points/{point_id}/approve",
    summary="Approve a collection point for public pages (regulator)",
    response_model=CollectionPointRegistered,
    responses=problem_responses(401, 403, 404, 409, 422),
)
def approve_collection_point(
    point_id: PointIdPath,
    service: Service,
    caller: Regulator,
    body: CollectionPointApproval | None = None,
) -> dict[str, Any]:
    """A point its operator registered is pending review; once approved, public pages list it.
    Approving an approved point changes nothing (`replayed`)."""
    result = service.approve_collection_point(
        actor_id=caller.id, point_id=point_id, note=body.note if body else ""
    )
    point = service.collection_point(point_id)
    return {
        **write_fields(service, result),
        "collection_point": collection_point_record(point),
        "warning": point.capacity_warning,
    }


@router.get(
    "/collection-points",
    summary="Where batteries can be handed in (public)",
    response_model=ReportPage[PublicCollectionPoint],
    responses=problem_responses(422),
)
def list_collection_points(request: Request, views: Views, paging: Paged, region: RegionFilter) -> Any:
    """Every approved collection point, by id (a point pending review is not listed); `region`
    narrows to a province (2 digits), prefecture (4) or county (6). `total` counts them all,
    `next` is the following page, `format=csv` gives every row. Pass `?after=ID` to include one
    just registered or approved."""
    filters = paging.filters(region=region)
    return list_answer(
        request,
        "collection-points",
        PublicCollectionPoint,
        paging,
        queries.collection_points_rows(views, filters),
        lambda: queries.collection_points_count(views, filters),
    )
