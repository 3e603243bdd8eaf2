"""A project's repository settings as the worker sees them: the API first, the worker's own
settings as the per-project fallback.

The fallback is read from the worker's environment (or `.env`), one variable per field:

    LOGCENTER_PROJECTS__<project_id>__LOCAL_PATH=/srv/checkouts/rtc_backend
    LOGCENTER_PROJECTS__<project_id>__REPO_URL=https://git.example.com/team/rtc_backend.git
    LOGCENTER_PROJECTS__<project_id>__TEST_COMMAND=python -m pytest -q
    LOGCENTER_PROJECTS__<project_id>__DEFAULT_BRANCH=main

or as JSON in one variable: `LOGCENTER_PROJECTS='{"rtc_backend": {"local_path": "..."}}'`.
Project ids are matched without regard to case (environment names are case-insensitive).
A field the API leaves empty is taken from the fallback. `local_path` is the first of the two
that exists on this machine, since the API's path may name a directory on another machine.
`test_command` has no default: without one the project's detected toolchain runs its suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings

from agent.workspace import RepoSource
from client.shapes import ProjectOut
from config.settings import Settings


class ProjectOverride(BaseModel):
    repo_url: str | None = None
    local_path: str | None = None
    test_command: str | None = None
    default_branch: str | None = None


class WorkerProjects(BaseSettings):
    model_config = Settings.model_config

    projects: dict[str, ProjectOverride] = Field(default_factory=dict)

    def for_project(self, project_id: str) -> ProjectOverride:
        for key, override in self.projects.items():
            if key.lower() == project_id.lower():
                return override
        return ProjectOverride()


@dataclass(frozen=True)
class ProjectConfig:
    project_id: str
    repo_url: str | None
    local_path: str | None
    test_command: str | None
    default_branch: str | None

    @property
    def has_repository(self) -> bool:
        return bool(self.repo_url or self.local_path)

    def source(self) -> RepoSource:
        return RepoSource(self.project_id, self.local_path, self.repo_url, self.default_branch)


def project_config(
    project_id: str, api: ProjectOut | None, fallback: ProjectOverride
) -> ProjectConfig:
    """Merge the API's project (may be None) with the worker's fallback for it."""
    paths = [p for p in (api.local_path if api else None, fallback.local_path) if p]
    local = next((p for p in paths if Path(p).is_dir()), paths[0] if paths else None)
    return ProjectConfig(
        project_id=project_id,
        repo_url=(api.repo_url if api else None) or fallback.repo_url,
        local_path=local,
        test_command=((api.test_command if api else None) or fallback.test_command or "").strip()
        or None,
        default_branch=(api.default_branch if api else None) or fallback.default_branch,
    )
