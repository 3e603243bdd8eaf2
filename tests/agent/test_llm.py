from __future__ import annotations

import time

import pytest

from agent.errors import LLMError
from agent.llm import LLMClient
from bench.services import free_port
from config.settings import Settings
from tests.agent.llm_server import LLMServer, Reply


def _client(api_base: str, **extra: object) -> LLMClient:
    values: dict[str, object] = {
        "llm_model": "openai/scripted",
        "llm_api_base": api_base,
        "llm_api_key": "sk-test-key",
        "llm_timeout": 2.0,
        "llm_retries": 0,
        **extra,
    }
    return LLMClient(Settings(_env_file=None, **values))  # type: ignore[arg-type]


def test_completion_through_litellm_records_model_tokens_and_prompt(llm: LLMServer) -> None:
    llm.state.script("the answer")
    result = _client(llm.url).complete([{"role": "user", "content": "question?"}])
    assert result.text == "the answer"
    assert result.model == "openai/scripted" and result.tokens == 120 and result.cost == 0.0
    assert llm.state.prompts() == ["question?"]
    assert llm.state.requests[0].get("tools") is None


def test_timeout_is_reported_as_llm_timeout(llm: LLMServer) -> None:
    llm.state.script(Reply("late", delay=5))
    started = time.monotonic()
    with pytest.raises(LLMError, match=r"^LLM timeout: openai/scripted: no answer within 2s"):
        _client(llm.url).complete([{"role": "user", "content": "q"}])
    assert time.monotonic() - started < 4.5


def test_unreachable_server_is_reported_as_unreachable() -> None:
    with pytest.raises(LLMError, match="^LLM unreachable: openai/scripted"):
        _client(f"http://127.0.0.1:{free_port()}/v1").complete([{"role": "user", "content": "q"}])


def test_fallback_model_answers_when_the_first_fails(llm: LLMServer) -> None:
    llm.state.script(Reply("overloaded", status=500), "from the fallback")
    client = _client(llm.url, llm_fallback_models=["openai/backup"])
    result = client.complete([{"role": "user", "content": "q"}])
    assert result.text == "from the fallback" and result.model == "openai/backup"
    assert [r["model"] for r in llm.state.requests] == ["scripted", "backup"]
