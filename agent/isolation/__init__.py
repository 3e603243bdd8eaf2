"""Isolation for the code a repair runs: LLM-written tests and fixes, and the project's own tests.

`choose(kind)` returns the `Sandbox` to run them in: "auto" is bubblewrap when it works here and
otherwise a `NoSandbox` that says why and refuses to run; "none" (LOGCENTER_REPAIR_SANDBOX=none)
runs unconfined, for operators who accept the risk. `probe()` is what a worker publishes in its
capability heartbeat. See `base.RunSpec` for what a run may touch.
"""

from __future__ import annotations

import functools
import importlib
import tempfile
from pathlib import Path

from agent.isolation.base import (
    HOME_SECRETS,
    Limits,
    RunResult,
    RunSpec,
    Sandbox,
    secret_paths,
)
from agent.isolation.errors import SandboxFailed, SandboxUnavailable
from agent.isolation.unavailable import NoSandbox

#: Sandbox kinds by name, imported when chosen.
KINDS = {
    "bubblewrap": "agent.isolation.bubblewrap:Bubblewrap",
    "none": "agent.isolation.unconfined:Unconfined",
}
#: Tried in order by "auto"; "none" is never chosen for the operator.
AUTO = ("bubblewrap",)

__all__ = [
    "HOME_SECRETS",
    "KINDS",
    "Limits",
    "NoSandbox",
    "RunResult",
    "RunSpec",
    "Sandbox",
    "SandboxFailed",
    "SandboxUnavailable",
    "choose",
    "probe",
    "secret_paths",
]


def choose(kind: str = "auto") -> Sandbox:
    """The sandbox named `kind` ("auto", "bubblewrap" or "none"); a `NoSandbox` when the one
    asked for (or, for "auto", every candidate) does not work on this machine."""
    if kind != "auto" and kind not in KINDS:
        known = ", ".join(["auto", *KINDS])
        raise ValueError(f"unknown sandbox {kind!r}: expected one of {known}")
    reasons = []
    for name in AUTO if kind == "auto" else (kind,):
        sandbox = _load(name)
        reason = sandbox.available()
        if reason is None:
            return sandbox
        reasons.append(reason)
    hint = "; or set LOGCENTER_REPAIR_SANDBOX=none to run repairs without isolation"
    return NoSandbox("; ".join(reasons) + hint)


@functools.cache
def probe(kind: str = "auto") -> dict[str, object]:
    """{"ok", "kind", "detail"} for a worker's heartbeat: runs a trivial command in the sandbox
    `choose(kind)` returns (once per process) and describes it, or says why none works."""
    sandbox = choose(kind)
    reason = sandbox.available()
    if reason is not None:
        return {"ok": False, "kind": sandbox.name, "detail": reason}
    with tempfile.TemporaryDirectory(prefix="logcenter-probe-") as temp:
        spec = RunSpec("true", Path(temp), env={"PATH": "/usr/bin:/bin"}, limits=Limits(30))
        result = sandbox.run(spec)
    return {"ok": result.passed, "kind": sandbox.name, "detail": result.isolation}


def _load(name: str) -> Sandbox:
    module, _, attribute = KINDS[name].partition(":")
    factory = getattr(importlib.import_module(module), attribute)
    sandbox: Sandbox = factory()
    return sandbox
