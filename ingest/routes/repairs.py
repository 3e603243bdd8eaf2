"""Repairs as a whole: whether they run without a click, and the workers that run them."""

from __future__ import annotations

from fastapi import APIRouter

from client.shapes import RepairStatus
from ingest.autorepair import repair_status
from ingest.deps import GUARDED_RESPONSES, Reader, ServicesDep

router = APIRouter(prefix="/api/v1/repairs", tags=["repairs"], responses=GUARDED_RESPONSES)


@router.get(
    "/status",
    response_model=RepairStatus,
    dependencies=[Reader],
    summary="Whether bugs are repaired automatically, why not, and the repair workers",
)
def get_repair_status(services: ServicesDep) -> RepairStatus:
    return repair_status(services.sync_redis, services.settings)
