"""Projects: auto-registered by reports, configured by people (repository, local path...)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from client.shapes import ProjectList, ProjectOut
from ingest.autorepair import AutoRepair
from ingest.deps import GUARDED_RESPONSES, Admin, Reader, ServicesDep, StoreDep
from ingest.gate import publish_ingest_key
from ingest.schemas import ProjectUpdate, ToolchainIn, invalid
from store.errors import NotFound
from store.models import Project, ToolchainInfo, first_configured, utcnow
from store.retention import Retention

router = APIRouter(prefix="/api/v1/projects", tags=["projects"], responses=GUARDED_RESPONSES)


def public_api_url(request: Request) -> str:
    """Where SDKs reach this API, for the DSNs shown: LOGCENTER_PUBLIC_API_URL, else the
    address this request came to."""
    settings = request.app.state.services.settings
    return settings.public_api_url or str(request.base_url)


def retention(request: Request) -> Retention:
    settings = request.app.state.services.settings
    return Retention(settings.retention_days, settings.retention_max_days)


def shown(project: Project, request: Request) -> ProjectOut:
    """The project as this API answers it (DSN, effective retention)."""
    return ProjectOut.of(project, public_api_url(request), retention(request))


@router.get("", response_model=ProjectList, dependencies=[Reader], summary="List projects")
def list_projects(request: Request, store: StoreDep) -> ProjectList:
    return ProjectList(projects=[shown(p, request) for p in store.list_projects()])


@router.get(
    "/{project_id}",
    response_model=ProjectOut,
    dependencies=[Reader],
    responses={404: {"description": "No such project"}},
    summary="Get a project",
)
def get_project(project_id: str, request: Request, store: StoreDep) -> ProjectOut:
    project = store.get_project(project_id)
    if project is None:
        raise HTTPException(404, f"project {project_id!r} not found")
    return shown(project, request)


@router.put(
    "/{project_id}",
    response_model=ProjectOut,
    dependencies=[Admin],
    summary="Edit a project (created when absent)",
    description="A partial update. Setting `repo_url` or `local_path` on a project that had "
    "neither queues repairs of its open NEW bugs (newest first, at most "
    "LOGCENTER_AUTO_REPAIR_BACKLOG) when its auto_repair is on and a repair worker can take "
    "them. `auto_repair`: null follows LOGCENTER_AUTO_REPAIR, true or false overrides it. "
    "`retention_days`: 1 to LOGCENTER_RETENTION_MAX_DAYS, null follows "
    "LOGCENTER_RETENTION_DAYS.",
)
def put_project(
    project_id: str, body: ProjectUpdate, request: Request, services: ServicesDep
) -> ProjectOut:
    if not project_id or len(project_id) > 200:
        raise invalid("path", "project_id", "project_id must be 1-200 characters")
    changes = {k: (v if v != "" else None) for k, v in body.model_dump(exclude_unset=True).items()}
    limits = retention(request)
    if not limits.allows(changes.get("retention_days")):
        raise invalid(
            "body",
            "retention_days",
            f"retention_days must be 1-{limits.max_days} (LOGCENTER_RETENTION_MAX_DAYS), "
            "or null for the default",
        )
    before = services.store.get_project(project_id)
    project = services.store.update_project(project_id, changes)
    services.projects.forget(project)
    if "ingest_key" in changes:
        publish_ingest_key(
            services.sync_redis, services.settings.redis_prefix, project_id, project.ingest_key
        )
    if first_configured(before, project):
        AutoRepair(services.store, services.sync_redis, services.settings).on_repository_configured(
            project
        )
    return shown(project, request)


@router.put(
    "/{project_id}/toolchain",
    response_model=ProjectOut,
    dependencies=[Admin],
    responses={404: {"description": "No such project"}},
    summary="Record the toolchain a repair worker detected for the project",
)
def put_toolchain(
    project_id: str, body: ToolchainIn, request: Request, store: StoreDep
) -> ProjectOut:
    info = ToolchainInfo(**body.model_dump(), detected_at=utcnow())
    try:
        return shown(store.set_project_toolchain(project_id, info), request)
    except NotFound:
        raise HTTPException(404, f"project {project_id!r} not found") from None
