"""Keeping the worker's secrets out of what a repair runs and of what the agent writes.

Project commands get an environment stripped of the worker's secrets (`clean_env`): LLM keys,
the admin token, the Redis URL and every `LOGCENTER_*` variable. Everything the agent writes to
reports or logs goes through `Redactor`. A repair runs its commands in the sandbox
(`agent.confinement`); `run_command` is the plain subprocess for everything else: a session of
its own, under a timeout that also holds if the worker dies (coreutils `timeout` kills the whole
process group).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from agent.isolation.output import plain_text
from config.settings import Settings

_DROP_PREFIXES = (
    "LOGCENTER_",
    "RQ_",
    "LITELLM_",
    "OPENAI",
    "ANTHROPIC",
    "AZURE_",
    "AWS_",
    "GEMINI",
    "GOOGLE_",
    "VERTEX",
    "COHERE",
    "MISTRAL",
    "GROQ",
    "HF_",
    "HUGGINGFACE",
    "OLLAMA",
    "DEEPSEEK",
    "OPENROUTER",
    "TOGETHER",
    "REPLICATE",
    "XAI_",
    "FIREWORKS",
    "PERPLEXITY",
)
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|REDIS", re.IGNORECASE)
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
TAIL_CHARS = 4000
REDACTED = "[redacted]"


def secret_values(settings: Settings) -> list[str]:
    """The values that must never leave the worker: keys, tokens, the Redis URL."""
    values = [settings.llm_api_key, settings.admin_token, settings.redis_url]
    return [v for v in values if v and len(v) >= 4]


class Redactor:
    """Replaces secret values and URL credentials in text the agent writes out."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return redact_url(text)


def redact_url(text: str) -> str:
    """`text` with credentials removed from URLs (`https://user:token@host` -> `https://host`)."""
    return _USERINFO.sub("", text)


def clean_env(secrets: Iterable[str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: our environment) minus anything that names or holds a secret.

    PATH is left as it is: the project's prepared toolchain decides what `python`, `node` or `go`
    mean, never the interpreter the worker runs on.
    """
    values = [s for s in secrets if s]
    env: dict[str, str] = {}
    for name, value in (os.environ if base is None else base).items():
        upper = name.upper()
        if upper.startswith(_DROP_PREFIXES) or _SECRET_NAME.search(name):
            continue
        if any(secret in value for secret in values):
            continue
        env[name] = value
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Plain output: runners colour it under a CI service or a forced colour setting otherwise.
    env.pop("FORCE_COLOR", None)
    env["NO_COLOR"] = "1"
    return env


@dataclass(frozen=True)
class RunResult:
    command: str
    exit_code: int
    output: str
    timed_out: bool
    duration: float

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def tail(self, chars: int = TAIL_CHARS) -> str:
        return self.output[-chars:]


def run_command(command: str, cwd: Path, timeout: float, env: Mapping[str, str]) -> RunResult:
    """Run a shell command in `cwd` for at most `timeout` seconds, then kill its whole tree."""
    argv = ["/bin/sh", "-c", command]
    limit = max(1, int(timeout))
    limiter = shutil.which("timeout")
    if limiter:
        argv = [limiter, "-k", "5", str(limit), *argv]
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        raw, _ = proc.communicate(timeout=limit + 10)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        raw, _ = proc.communicate()
    duration = time.monotonic() - started
    exit_code = proc.returncode
    timed_out = duration >= limit - 0.5 and exit_code in (124, 137, -signal.SIGKILL)
    output = plain_text(raw)
    return RunResult(command, exit_code, output, timed_out, duration)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
