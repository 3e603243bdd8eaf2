from __future__ import annotations

import time
from pathlib import Path

from agent.sandbox import Redactor, clean_env, run_command, secret_values
from config.settings import Settings


def test_clean_env_strips_our_secrets() -> None:
    base = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "LOGCENTER_ADMIN_TOKEN": "admin-token-1",
        "LOGCENTER_API_URL": "http://x",
        "OPENAI_API_KEY": "sk-1",
        "ANTHROPIC_API_KEY": "sk-2",
        "GITHUB_TOKEN": "gh",
        "REDIS_URL": "redis://x",
        "DB_PASSWORD": "pw",
        "RQ_JOB_ID": "repair-1",
        "INNOCENT_LOOKING": "contains sk-live-abcdef inside",
    }
    env = clean_env(["sk-live-abcdef"], base)
    assert set(env) == {"PATH", "HOME", "LANG", "PYTHONDONTWRITEBYTECODE", "NO_COLOR"}
    assert env["PATH"] == "/usr/bin"  # not the worker's interpreter first: the project decides


def test_redactor_hides_secrets_and_url_credentials() -> None:
    settings = Settings(
        llm_api_key="sk-live-abcdef",
        admin_token="tok-123456",
        redis_url="redis://:pw@10.0.0.1:6379/0",
        _env_file=None,
    )  # type: ignore[call-arg]
    redact = Redactor(secret_values(settings))
    text = "key sk-live-abcdef, token tok-123456, git https://bob:pat@git.example.com/r.git"
    out = redact(text)
    assert "sk-live-abcdef" not in out and "tok-123456" not in out and "pat@" not in out
    assert "https://git.example.com/r.git" in out


def test_run_command_reports_output_and_exit_code(tmp_path: Path) -> None:
    result = run_command("echo hello; exit 3", tmp_path, 10, {"PATH": "/usr/bin:/bin"})
    assert result.exit_code == 3 and not result.passed and not result.timed_out
    assert result.output == "hello\n"


def test_runners_are_asked_for_plain_output_and_colours_are_removed(tmp_path: Path) -> None:
    env = clean_env([], {"PATH": "/usr/bin:/bin", "CI": "true", "FORCE_COLOR": "1"})
    assert env["NO_COLOR"] == "1" and "FORCE_COLOR" not in env
    coloured = r"printf '\033[31m\033[1mTypeError\033[22m: boom\033[39m\n\033]8;;x\007link\n'"
    result = run_command(coloured, tmp_path, 10, env)
    assert result.output == "TypeError: boom\nlink\n"


def test_run_command_kills_the_whole_tree_on_timeout(tmp_path: Path) -> None:
    marker = tmp_path / "still-running"
    started = time.monotonic()
    result = run_command(
        f"(sleep 4; touch {marker}) & sleep 30", tmp_path, 1, {"PATH": "/usr/bin:/bin"}
    )
    assert result.timed_out and not result.passed
    assert time.monotonic() - started < 10
    time.sleep(4.5)
    assert not marker.exists()  # the background grandchild died with the group
