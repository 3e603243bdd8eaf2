"""What this machine's repair workers can do, as their pool publishes it in its heartbeat.

Three things decide whether a repair can run here without a person watching: an LLM the
workers can reach (a model, and the key or api_base it needs), a sandbox that confines the
project's tests, and the toolchains' executables on PATH. Only the sandbox is tried out, with a
trivial command once per process; the other checks read settings and the environment, so a
heartbeat costs nothing (litellm is never loaded for it).
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

from agent.confinement import sandbox_status
from client.workers import LLMCapability, SandboxCapability, WorkerCapability
from config.settings import Settings

#: The executables the toolchains run (agent/toolchains): reported when found on PATH.
TOOLS = ("python3", "node", "npm", "pnpm", "yarn", "go", "dart", "flutter")

#: litellm provider (the part of the model string before "/") -> the variables its key may be
#: in. A light table of the common ones; LOGCENTER_LLM_API_KEY serves any provider.
PROVIDER_KEYS: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "mistral": ("MISTRAL_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "together_ai": ("TOGETHERAI_API_KEY", "TOGETHER_API_KEY"),
    "xai": ("XAI_API_KEY",),
    "cohere": ("COHERE_API_KEY",),
    "azure": ("AZURE_API_KEY",),
    "fireworks_ai": ("FIREWORKS_AI_API_KEY", "FIREWORKS_API_KEY"),
    "perplexity": ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY"),
    "bedrock": ("AWS_ACCESS_KEY_ID", "AWS_PROFILE"),
}
#: Model names litellm knows without a provider prefix, by how they start.
_BARE_MODELS = (
    ("gpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"),
    ("claude", "anthropic"), ("gemini", "gemini"), ("deepseek", "deepseek"),
)  # fmt: skip
#: Providers that run next to the worker and need no key (Ollama, `ollama/` or `ollama_chat/`).
_KEYLESS = ("ollama",)


def provider_of(model: str) -> str:
    """The litellm provider of a model string (`anthropic/claude-...` -> `anthropic`)."""
    head, slash, _ = model.partition("/")
    if slash:
        return head.lower()
    bare = model.lower()
    return next((provider for start, provider in _BARE_MODELS if bare.startswith(start)), "")


def llm_capability(settings: Settings, env: Mapping[str, str] | None = None) -> LLMCapability:
    """Whether the configured model can be reached: a key (ours or the provider's own
    variable in `env`), an api_base, or a provider that needs none."""
    env = os.environ if env is None else env
    model = settings.llm_model.strip()
    if not model:
        return LLMCapability(ok=False, problem="LOGCENTER_LLM_MODEL is empty")
    provider = provider_of(model)
    keys = PROVIDER_KEYS.get(provider, ())
    if (
        settings.llm_api_key
        or settings.llm_api_base
        or provider.startswith(_KEYLESS)
        or any(env.get(name) for name in keys)
    ):
        return LLMCapability(ok=True, model=model)
    where = " or ".join(("LOGCENTER_LLM_API_KEY", *keys))
    problem = f"no key for {model}: set {where} (or LOGCENTER_LLM_API_BASE)"
    return LLMCapability(ok=False, model=model, problem=problem)


def sandbox_capability(settings: Settings) -> SandboxCapability:
    """How this worker confines a repair's commands (LOGCENTER_REPAIR_SANDBOX), probed once per
    process: not ok when no sandbox works here, and then the description says why."""
    status = sandbox_status(settings)
    return SandboxCapability(ok=status.ok, kind=status.kind, description=status.line)


def tools_on_path(env: Mapping[str, str] | None = None) -> list[str]:
    """The toolchains' executables (TOOLS) found on `env`'s PATH (default: ours)."""
    path = (os.environ if env is None else env).get("PATH", os.defpath)
    return [tool for tool in TOOLS if shutil.which(tool, path=path)]


def worker_capability(worker: str, settings: Settings, workers: int) -> WorkerCapability:
    """The heartbeat of pool `worker`, running `workers` RQ worker processes now."""
    return WorkerCapability(
        worker=worker,
        host=socket.gethostname(),
        version=_version(),
        workers=workers,
        llm=llm_capability(settings),
        sandbox=sandbox_capability(settings),
        tools=tools_on_path(),
        at=datetime.now(UTC),
    )


def _version() -> str:
    try:
        return version("logcenter")
    except PackageNotFoundError:
        return "unknown"
