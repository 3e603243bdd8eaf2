"""The settings repair jobs and their RQ callbacks read in a worker process.

RQ calls the job (`agent.repair.repair_bug`) and its failure callback
(`agent.failure.on_job_failure`) with the job's arguments only, so both take the settings from
here: those the worker process was started with (`configure`, called by `agent.worker`), else
the environment's. A module of its own, so the worker and the job modules it runs need not import
each other.
"""

from __future__ import annotations

from config.settings import Settings, get_settings

_settings: Settings | None = None


def configure(settings: Settings) -> None:
    """Settings for jobs and callbacks run by this process (default: from the environment)."""
    global _settings
    _settings = settings


def current_settings() -> Settings:
    """The settings `configure` was given in this process, else the environment's."""
    return _settings if _settings is not None else get_settings()
