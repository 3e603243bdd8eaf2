"""Request bodies of the HTTP API and its error helpers; the response bodies the agent and the
dashboard read back are in `client.shapes`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from fastapi import HTTPException
from pydantic import BaseModel, Field, field_validator, model_validator

from ingest.deps import MAX_ID
from ingest.merge import MAX_MERGED
from ingest.validation import check_repo_url, no_option
from store.models import RepairRound, ToolchainReport
from store.vocabulary import REGRESSION_STATUSES, Status

_REF = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)[\w./-]{1,200}(?<![./])$")


class ProjectUpdate(BaseModel):
    """Editable project settings; every field optional (partial update). "" clears a field."""

    name: str | None = Field(default=None, max_length=200, examples=["RTC 后端"])
    repo_url: str | None = Field(
        default=None,
        max_length=2048,
        examples=["https://gitea.example.com/team/rtc_backend.git"],
    )
    local_path: str | None = Field(
        default=None, max_length=4096, examples=["/home/dev/projects/rtc_backend"]
    )
    description: str | None = Field(default=None, max_length=4000)
    test_command: str | None = Field(default=None, max_length=2000, examples=["pytest -q"])
    default_branch: str | None = Field(default=None, max_length=200, examples=["main"])
    auto_repair: bool | None = None
    ingest_key: str | None = Field(default=None, max_length=200)
    #: The language of the project's alert messages; "" follows LOGCENTER_DEFAULT_LANGUAGE.
    language: Literal["", "en", "zh"] | None = None
    #: How new reports become bugs: "line" (the guide's formulas), "stack" (error type and the
    #: in-app frames' files and functions); "" or null = the default (line). Existing bugs stay.
    grouping: Literal["line", "stack", ""] | None = None
    #: Days its occurrences are kept, at most LOGCENTER_RETENTION_MAX_DAYS (checked by the
    #: route); null follows LOGCENTER_RETENTION_DAYS.
    retention_days: int | None = Field(default=None, ge=1, examples=[90])

    model_config = {"extra": "forbid"}

    @field_validator("repo_url")
    @classmethod
    def _repo_url(cls, value: str | None) -> str | None:
        return check_repo_url(value) if value else value

    @field_validator("local_path")
    @classmethod
    def _local_path(cls, value: str | None) -> str | None:
        if not value:
            return value
        no_option(value, "local_path")
        path = PurePosixPath(value)
        if not path.is_absolute():
            raise ValueError("local_path must be an absolute path")
        if ".." in path.parts:
            raise ValueError("local_path must not contain '..'")
        return value

    @field_validator("default_branch")
    @classmethod
    def _branch(cls, value: str | None) -> str | None:
        if value and not _REF.match(value):
            raise ValueError("default_branch is not a valid branch name")
        return value


class ToolchainIn(ToolchainReport):
    """What a repair worker detected about a project's toolchain; the API stamps the time."""

    model_config = {"extra": "forbid"}


class StatusChangeIn(BaseModel):
    status: Status
    failure_reason: str | None = Field(default=None, max_length=8000)
    note: str | None = Field(default=None, max_length=8000)
    by: str | None = Field(default=None, max_length=100, examples=["agent"])
    #: Refuse the move (409) unless the bug is currently in this status.
    expected_status: Status | None = None
    fixed_version: str | None = Field(
        default=None,
        max_length=200,
        examples=["1.3.0"],
        description="With a move to FIXED, VERIFIED or DEPLOYED: the release the fix ships in. "
        "Without it a move to FIXED records the newest version seen on the bug. An occurrence "
        "from an older release (PEP 440 or SemVer order) does not reopen the bug.",
    )

    @model_validator(mode="after")
    def _fixed_version_with_a_fix(self) -> StatusChangeIn:
        if self.fixed_version and self.status not in REGRESSION_STATUSES:
            raise ValueError("fixed_version goes with a move to FIXED, VERIFIED or DEPLOYED")
        return self


class MergeIn(BaseModel):
    """Bugs to merge into the one the path names (all of its project)."""

    bug_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        min_length=1, max_length=MAX_MERGED, examples=[[12, 31]]
    )
    by: str | None = Field(default=None, max_length=100, examples=["alice"])


class RepairReportBody(RepairRound):
    """One repair round (the bug id comes from the path)."""


class EventSearchIn(BaseModel):
    """An ad hoc query over occurrences, Kibana Discover style."""

    q: str = Field(default="", max_length=4000, examples=['level:ERROR AND message:"timed out"'])
    from_: datetime | None = Field(default=None, alias="from", examples=["2026-01-30T00:00:00Z"])
    to: datetime | None = Field(default=None, examples=["2026-01-31T00:00:00Z"])
    #: "none": no histogram (a page of documents alone).
    #: "auto": the smallest interval giving at most ~60 buckets; a fixed interval giving more
    #: than store.search.MAX_BUCKETS is widened (the answer's `interval` says to what).
    interval: Literal[
        "none",
        "auto",
        "1m",
        "5m",
        "15m",
        "30m",
        "1h",
        "3h",
        "12h",
        "1d",
        "7d",
        "30d",
        "90d",
        "365d",
    ] = "auto"
    facets: list[str] = Field(default_factory=list, examples=[["project_id", "level"]])
    filters: dict[str, list[str]] = Field(default_factory=dict)
    size: int = Field(default=50, ge=0, le=500)
    page: int = Field(default=1, ge=1, le=10_000)
    cursor: str | None = None
    sort: Literal["-timestamp", "timestamp"] = "-timestamp"

    model_config = {"populate_by_name": True}

    @field_validator("from_", "to")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """A bound without a zone is UTC, like every time the API stores."""
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value


def error_body(message: str, **extra: Any) -> dict[str, Any]:
    return {"detail": message, **extra}


def invalid(where: str, field: str, message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors (the schema's 422), naming the field."""
    return HTTPException(422, [{"loc": [where, field], "msg": message, "type": "value_error"}])
