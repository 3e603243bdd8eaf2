"""The message a repair worker pool publishes about itself: its heartbeat.

Each pool writes one to Redis every few seconds (`agent.worker`), with a lifetime of a few
periods, so a pool that stops is forgotten on its own. The API and the indexer read them
(`agent.queue.worker_capabilities`) to decide whether a repair can run without anyone clicking,
and the API shows them in `GET /api/v1/repairs/status`. The shape lives here, below all three,
so the writer, the readers and the API's answer share one definition.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from store.timestamp import Timestamp

# No class docstrings below: a docstring would become the schema's description in the OpenAPI.


class LLMCapability(BaseModel):
    #: A model is named and the worker holds what reaching it needs (a key or an api_base).
    ok: bool
    model: str = ""
    #: Why not, for a person: which setting is missing.
    problem: str | None = None


class SandboxCapability(BaseModel):
    ok: bool
    #: How tests are confined: "subprocess", "bubblewrap", ...
    kind: str = ""
    description: str | None = None

    model_config = {"extra": "allow"}


class WorkerCapability(BaseModel):
    #: The pool's name, unique per process (`repair-<host>-<pid>`).
    worker: str
    host: str
    version: str
    #: RQ worker processes of the pool alive when it published this.
    workers: int = Field(ge=0)
    llm: LLMCapability
    sandbox: SandboxCapability
    #: The toolchains' executables found on the pool's PATH (python3, node, go, flutter, ...).
    tools: list[str] = Field(default_factory=list)
    at: Timestamp

    @property
    def can_repair(self) -> bool:
        """It runs workers that hold an LLM and a working sandbox."""
        return self.workers > 0 and self.llm.ok and self.sandbox.ok
