"""Worker pools tell Redis what they can do (a heartbeat), and Redis forgets a pool that stops.

The heartbeat test runs `python -m agent` as a real process with its real RQ workers."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from agent.capability import llm_capability, provider_of, tools_on_path
from agent.queue import RepairOff, repair_off_reason, worker_capabilities
from bench.services import wait_for
from config.settings import Settings
from tests.stack import ROOT

PERIOD = 1.0  # heartbeat seconds: a stopped pool is forgotten after three


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "env", "ok"),
    [
        ({"llm_model": "openai/gpt-4o-mini"}, {}, False),
        ({"llm_model": "openai/gpt-4o-mini"}, {"OPENAI_API_KEY": "sk-1"}, True),
        ({"llm_model": "openai/gpt-4o-mini"}, {"ANTHROPIC_API_KEY": "sk-1"}, False),
        ({"llm_model": "anthropic/claude-3-5-haiku"}, {"ANTHROPIC_API_KEY": "sk-1"}, True),
        ({"llm_model": "claude-3-5-haiku"}, {"ANTHROPIC_API_KEY": "sk-1"}, True),
        ({"llm_model": "deepseek/deepseek-chat"}, {"DEEPSEEK_API_KEY": "sk-1"}, True),
        ({"llm_model": "gemini/gemini-2.0-flash"}, {"GEMINI_API_KEY": "k"}, True),
        ({"llm_model": "openai/gpt-4o-mini", "llm_api_key": "sk-1"}, {}, True),
        ({"llm_model": "openai/local", "llm_api_base": "http://127.0.0.1:9/v1"}, {}, True),
        ({"llm_model": "ollama_chat/qwen2.5-coder"}, {}, True),
        ({"llm_model": "ollama/llama3"}, {}, True),
        ({"llm_model": "somecloud/model"}, {}, False),
        ({"llm_model": ""}, {"OPENAI_API_KEY": "sk-1"}, False),
    ],
)
def test_an_llm_is_configured_with_a_key_an_api_base_or_a_local_provider(
    values: dict[str, str], env: dict[str, str], ok: bool
) -> None:
    found = llm_capability(settings(**values), env)
    assert found.ok is ok
    assert (found.problem is None) is ok


def test_a_missing_key_is_named_for_its_provider() -> None:
    problem = llm_capability(settings(llm_model="anthropic/claude-3-5-haiku"), {}).problem or ""
    assert "ANTHROPIC_API_KEY" in problem and "LOGCENTER_LLM_API_KEY" in problem
    assert provider_of("ollama_chat/qwen2.5-coder") == "ollama_chat"
    assert provider_of("gpt-4o") == "openai"


def test_tools_are_the_toolchains_executables_on_path(tmp_path: Path) -> None:
    for name in ("go", "flutter", "not-a-tool"):
        tool = tmp_path / name
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
    assert tools_on_path({"PATH": str(tmp_path)}) == ["go", "flutter"]
    assert tools_on_path({"PATH": ""}) == []


def _pool(redis_url: str, prefix: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGCENTER_")}
    env.update(
        LOGCENTER_REDIS_URL=redis_url,
        LOGCENTER_REDIS_PREFIX=prefix,
        LOGCENTER_LLM_MODEL="openai/scripted",
        LOGCENTER_LLM_API_KEY="sk-capability-test",
        LOGCENTER_WORKER_HEARTBEAT_SECONDS=str(PERIOD),
        LOGCENTER_DATA_DIR=str(log.parent),
    )
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "agent", "--workers", "1", "--grace", "2"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    client.close()


def test_a_pool_publishes_what_it_can_do_until_it_dies(
    redis_url: str, redis: Redis, redis_prefix: str, tmp_path: Path
) -> None:
    config = settings(redis_url=redis_url, redis_prefix=redis_prefix)
    assert repair_off_reason(redis, config) == RepairOff.NO_WORKER
    pool = _pool(redis_url, redis_prefix, tmp_path / "pool.log")
    try:
        wait_for(lambda: worker_capabilities(redis, redis_prefix), 30, "the pool's heartbeat")
        (beat,) = worker_capabilities(redis, redis_prefix)
        assert beat.worker == f"repair-{socket.gethostname()}-{pool.pid}"
        assert (beat.host, beat.workers, beat.version) == (socket.gethostname(), 1, "0.1.0")
        assert (beat.llm.ok, beat.llm.model) == (True, "openai/scripted")
        assert (beat.sandbox.ok, beat.sandbox.kind) == (True, "bubblewrap")  # CI installs it
        assert ("python3" in beat.tools) is bool(shutil.which("python3"))
        assert repair_off_reason(redis, config) is None
        assert (
            "sk-capability-test"
            not in (redis.get(f"{redis_prefix}repair-worker:{beat.worker}") or b"").decode()
        )
        # It keeps beating: a later heartbeat outlives the first one's lifetime.
        first = beat.at
        wait_for(lambda: worker_capabilities(redis, redis_prefix)[0].at > first, 10, "a new beat")
    finally:
        os.killpg(pool.pid, signal.SIGKILL)  # no clean stop: nothing withdraws the heartbeat
        pool.wait(10)
    assert worker_capabilities(redis, redis_prefix)  # still there, until it lapses
    wait_for(lambda: not worker_capabilities(redis, redis_prefix), 3 * PERIOD + 5, "it lapses")
    assert repair_off_reason(redis, config) == RepairOff.NO_WORKER
    assert not redis.keys(f"{redis_prefix}repair-worker*")


def test_a_pool_that_stops_cleanly_withdraws_at_once(
    redis_url: str, redis: Redis, redis_prefix: str, tmp_path: Path
) -> None:
    pool = _pool(redis_url, redis_prefix, tmp_path / "pool.log")
    try:
        wait_for(lambda: worker_capabilities(redis, redis_prefix), 30, "the pool's heartbeat")
    finally:
        pool.send_signal(signal.SIGTERM)
        assert pool.wait(30) == 0
    assert worker_capabilities(redis, redis_prefix) == []
