"""The model, reached through litellm only: a litellm model string, api_base and key from settings.

litellm is imported on first use (it takes seconds), after telling it to use its bundled price
list instead of downloading one. Every call passes a timeout (litellm's default is 6000 s). The
primary model is tried first, then each fallback model in order, with the same api_base and key.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpx
import openai

from agent.errors import LLMError
from config.settings import Settings

Message = dict[str, str]


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    tokens: int
    cost: float
    duration: float


def _litellm() -> ModuleType:
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


class LLMClient:
    """Chat completions with timeout, retries and fallback models; no tools are ever offered."""

    def __init__(self, settings: Settings) -> None:
        self.models = [settings.llm_model, *settings.llm_fallback_models]
        self.api_base = settings.llm_api_base or None
        self.api_key = settings.llm_api_key or None
        self.timeout = settings.llm_timeout
        self.retries = settings.llm_retries

    def complete(self, messages: list[Message]) -> Completion:
        """The first model's answer that arrives; LLMError saying why none did."""
        litellm = _litellm()
        problems: list[str] = []
        timed_out = True
        started = time.monotonic()
        for model in self.models:
            try:
                response = litellm.completion(
                    model=model,
                    messages=messages,
                    api_base=self.api_base,
                    api_key=self.api_key,
                    timeout=self.timeout,
                    num_retries=self.retries,
                    temperature=0,
                )
            except openai.APITimeoutError:
                problems.append(f"{model}: no answer within {self.timeout:g}s")
                continue
            except (openai.OpenAIError, httpx.HTTPError) as exc:
                timed_out = False
                problems.append(f"{model}: {type(exc).__name__}: {_first_line(exc)}")
                continue
            return _completion(litellm, response, model, time.monotonic() - started)
        kind = "LLM timeout" if timed_out else "LLM unreachable"
        raise LLMError(f"{kind}: " + "; ".join(problems))


def _completion(litellm: ModuleType, response: Any, model: str, duration: float) -> Completion:
    text = response.choices[0].message.content or ""
    usage = getattr(response, "usage", None)
    tokens = int(getattr(usage, "total_tokens", 0) or 0)
    try:
        cost = float(litellm.completion_cost(completion_response=response) or 0.0)
    except Exception:  # unknown models raise (ModelNotMappedError and others): cost unknown
        cost = 0.0
    return Completion(text, model, tokens, cost, duration)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""
