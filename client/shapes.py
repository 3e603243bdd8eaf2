"""The response bodies of the HTTP API beyond the stored records themselves.

The API declares them as its answers (they are its OpenAPI schemas, under these class names);
the agent and the dashboard read the same answers back through `client.http`. Request bodies,
which only the API validates, stay in `ingest.schemas`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel

from client.workers import WorkerCapability
from store.models import Bug, Event, Project, RepairReport, ToolchainInfo
from store.retention import Retention
from store.search import FacetValue, HistogramBucket
from store.timestamp import Timestamp
from store.vocabulary import Status

# No class docstrings below: a docstring would become the schema's description in the OpenAPI.


#: The header of a merged bug's 404 naming the bug it now lives in.
MERGED_INTO_HEADER = "X-LogCenter-Merged-Into"


class ProjectOut(BaseModel):
    id: int
    project_id: str
    name: str | None
    repo_url: str | None
    local_path: str | None
    description: str | None
    test_command: str | None
    default_branch: str | None
    auto_repair: bool | None
    language: str | None = None
    grouping: str | None = None
    retention_days: int | None = None
    #: The days its occurrences are kept: its own retention_days or the install's default,
    #: capped by the install's maximum.
    effective_retention_days: int | None = None
    toolchain: ToolchainInfo | None = None
    repo_url_warning: str | None = None
    has_ingest_key: bool = False
    public_key: str | None = None
    dsn: str | None = None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(
        cls, project: Project, api_url: str = "", retention: Retention | None = None
    ) -> ProjectOut:
        """The project as the API shows it; its DSN names the API at `api_url` (none without),
        its effective retention follows `retention` (none without)."""
        data = project.model_dump(exclude={"ingest_key"})
        dsn = sentry_dsn(api_url, project.public_key, project.id) if api_url else None
        days = retention.days(project.retention_days) if retention else None
        return cls(
            **data,
            has_ingest_key=bool(project.ingest_key),
            dsn=dsn,
            effective_retention_days=days,
        )


def sentry_dsn(api_url: str, public_key: str | None, number: int) -> str | None:
    """The DSN a Sentry SDK is given: the API's address with the project's public key as its
    user and the project's integer id as its last path segment."""
    if not public_key:
        return None
    parts = urlsplit(api_url)
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{public_key}@{parts.netloc}{path}/{number}"


class ProjectList(BaseModel):
    projects: list[ProjectOut]


class Transitions(BaseModel):
    status: Status
    allowed: list[Status]


class BugList(BaseModel):
    total: int
    items: list[Bug]
    facets: dict[str, list[FacetValue]]
    next_cursor: str | None


class EventList(BaseModel):
    total: int
    items: list[Event]
    next_cursor: str | None


class RepairEnqueued(BaseModel):
    job_id: str
    bug_id: int


class RepairReportList(BaseModel):
    reports: list[RepairReport]


class RepairReportPage(BaseModel):
    total: int
    reports: list[RepairReport]


class EventSearchOut(BaseModel):
    total: int
    items: list[Event]
    histogram: list[HistogramBucket]
    facets: dict[str, list[FacetValue]]
    interval: str
    next_cursor: str | None = None


class RepairStatus(BaseModel):
    #: Whether new bugs are repaired without a click (projects whose auto_repair is unset).
    automatic: bool
    #: Why not, for a person; `reason_code` names it for translations.
    reason: str | None = None
    reason_code: str | None = None
    #: LOGCENTER_AUTO_REPAIR: what an unset project's auto_repair follows.
    auto_repair_default: bool
    workers: list[WorkerCapability]
