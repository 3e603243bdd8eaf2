"""The report a client sends (the integration guide's payload) and its normalized form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from ingest.validation import check_repo_url

Source = Literal["runtime", "cicd", "deployment"]
#: Where a CI/CD run (`job_name`, `step_name`) or a deployment (`namespace`, `deployment_name`)
#: failed. Clients send them in `context` or at the top level of the report; either way they are
#: kept in `context`, which is where fingerprints and the stored bug read them.
PLACE_NAMES = ("job_name", "step_name", "namespace", "deployment_name")
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class ErrorIn(BaseModel):
    type: str = Field(min_length=1, max_length=512, examples=["ValueError"])
    message: str = Field(examples=["invalid literal for int() with base 10: 'abc'"])
    file_path: str | None = Field(default=None, max_length=4096, examples=["apps/users/views.py"])
    line_number: int | None = Field(default=None, ge=0, le=2**31 - 1, examples=[42])
    stack_trace: list[str] | str = Field(
        examples=[["Traceback (most recent call last):", "ValueError: invalid literal"]]
    )

    @field_validator("stack_trace")
    @classmethod
    def _split_lines(cls, value: list[str] | str) -> list[str]:
        """Clients send a string, a list of lines, or (Python's format_exception) a list of
        multi-line chunks; store one line per element."""
        chunks = [value] if isinstance(value, str) else value
        lines: list[str] = []
        for chunk in chunks:
            lines.extend(chunk.rstrip("\n").split("\n") if "\n" in chunk else (chunk,))
        return lines


class ReportIn(BaseModel):
    """`POST /api/v1/logs/report` body, as the integration guide defines it.

    `error.file_path` and `error.line_number` are required for runtime reports only; use
    `validate_report` to validate with that rule. The place names `job_name`, `step_name`,
    `namespace` and `deployment_name` may be sent at the top level or in `context` (the top
    level wins); they are stored in `context`.
    """

    project_id: str = Field(min_length=1, max_length=200, examples=["rtc_backend"])
    environment: str = Field(min_length=1, max_length=200, examples=["production"])
    level: str = Field(min_length=1, max_length=32, examples=["ERROR"])
    source: Source = "runtime"
    timestamp: datetime | None = Field(default=None, examples=["2026-01-30T10:30:00Z"])
    version: str | None = Field(default=None, max_length=200, examples=["1.2.3"])
    commit_hash: str | None = Field(default=None, max_length=200, examples=["abc1234"])
    repo_url: str | None = Field(default=None, max_length=2048)
    #: Why `repo_url` was dropped (set by validation, never by the client).
    repo_url_rejected: SkipJsonSchema[str | None] = None
    error: ErrorIn
    context: dict[str, Any] | None = Field(
        default=None,
        description="Any JSON object. CI/CD reports name the failing job_name and step_name, "
        "deployment reports the namespace and deployment_name, here or at the top level.",
        examples=[{"url": "/api/users/123"}, {"job_name": "build", "step_name": "pytest"}],
    )
    fingerprint: list[Annotated[str, Field(max_length=500)]] | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        exclude=True,
        description="Groups this report with every other report of the project that sends the "
        "same list, instead of the default formula; the element `{{ default }}` stands for the "
        'default fingerprint (`["{{ default }}", "tenant-a"]` splits a bug by tenant).',
        examples=[["checkout-timeout"], ["{{ default }}", "tenant-a"]],
    )
    job_name: str | None = Field(
        default=None,
        max_length=1000,
        exclude=True,
        description="CI/CD job that failed (part of the cicd fingerprint); the same as "
        "context.job_name, and kept there. Wins over context.job_name when both are given.",
        examples=["build"],
    )
    step_name: str | None = Field(
        default=None,
        max_length=1000,
        exclude=True,
        description="CI/CD step that failed (part of the cicd fingerprint); kept as "
        "context.step_name, over a value given there.",
        examples=["pytest"],
    )
    namespace: str | None = Field(
        default=None,
        max_length=1000,
        exclude=True,
        description="Namespace of the failed deployment (part of the deployment fingerprint); "
        "kept as context.namespace, over a value given there.",
        examples=["production"],
    )
    deployment_name: str | None = Field(
        default=None,
        max_length=1000,
        exclude=True,
        description="Name of the failed deployment (part of the deployment fingerprint); kept "
        "as context.deployment_name, over a value given there.",
        examples=["rtc-api"],
    )

    #: The application's frames as (file, function) when the client marked which frames are its
    #: own (a Sentry event's `in_app`): grouping `stack` reads these rather than the text.
    _app_frames: list[tuple[str, str]] | None = PrivateAttr(default=None)

    @field_validator("level")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:
            value = datetime.min.replace(tzinfo=UTC)
        if not EARLIEST <= value < LATEST:
            raise ValueError(
                f"timestamp must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"
            )
        return value

    @model_validator(mode="after")
    def _places_in_context(self) -> ReportIn:
        """Top-level place names join `context` (over its own): one place to read them."""
        given = {name: value for name in PLACE_NAMES if (value := getattr(self, name)) is not None}
        if given:
            self.context = {**(self.context or {}), **given}
        return self

    @model_validator(mode="before")
    @classmethod
    def _nothing_rejected_yet(cls, data: Any) -> Any:
        """`repo_url_rejected` is ours to set (below), never the client's."""
        if isinstance(data, dict) and "repo_url_rejected" in data:
            data = {k: v for k, v in data.items() if k != "repo_url_rejected"}
        return data

    @model_validator(mode="after")
    def _safe_repo_url(self) -> ReportIn:
        """A report never carries a repository address git should not be given: an unsafe or
        malformed one is dropped, and why travels with the report to its project (the report
        itself still lands; the projects page shows the warning)."""
        if not self.repo_url:
            self.repo_url = None
            return self
        try:
            self.repo_url = check_repo_url(self.repo_url)
        except ValueError as exc:
            self.repo_url, self.repo_url_rejected = None, f"a report's repo_url was ignored ({exc})"
        return self


def validate_report(body: bytes | str) -> ReportIn:
    """Validate a report body (JSON) as a ReportIn; runtime reports must name the failing file
    and line. Every problem, unparsable JSON included, is a ValidationError."""
    report = ReportIn.model_validate_json(body)
    if report.source == "runtime":
        missing = [
            {"type": "missing", "loc": ("error", name), "input": None}
            for name in ("file_path", "line_number")
            if getattr(report.error, name) is None
        ]
        if missing:
            raise ValidationError.from_exception_data("ReportIn", missing)  # type: ignore[arg-type]
    return report
