"""docs/clients/typescript: type-checked against axios's own types, then run under node 20
against a running Log Center through each way it sends (fetch, sendBeacon, a refused beacon)
and through the Axios interceptor."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.services import free_port
from bench.stack import RunningStack
from tests.clients.conftest import CLIENTS, bugs_of, indexed, source_line, the_bug
from tests.clients.npm import npm_tools

HERE = Path(__file__).parent
PROJECT = "ts_clients"
KEY = "ts-clients-ingest-key"
REPO = "https://git.example.com/team/ts_clients.git"
TSCONFIG = {
    "compilerOptions": {
        "target": "ES2022",
        "module": "ESNext",
        "moduleResolution": "bundler",
        "lib": ["ES2022", "DOM"],
        "types": [],
        "strict": True,
        "isolatedModules": True,
        "noEmit": True,
    },
    "files": ["src/reportError.ts", "src/axios.ts", "src/env.d.ts"],
}


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """A project tree beside the installed tools: the shipped client as src/, plus the
    harness and Vite's env types."""
    tools = npm_tools()
    (tools / "work").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(dir=tools / "work"))
    src = root / "src"
    src.mkdir()
    for path in [*(CLIENTS / "typescript").glob("*.ts"), HERE / "ts" / "harness.ts"]:
        shutil.copy(path, src / path.name)
    shutil.copy(HERE / "ts" / "env.d.ts", src / "env.d.ts")
    (root / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def tool(workdir: Path, name: str) -> str:
    return str(workdir.parent.parent / "node_modules" / ".bin" / name)


def test_the_client_and_the_interceptor_type_check(workdir: Path) -> None:
    done = subprocess.run(
        [tool(workdir, "tsc"), "-p", "tsconfig.json"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_reports_from_node_reach_log_center(stack: RunningStack, workdir: Path) -> None:
    put = stack.client.put(f"/api/v1/projects/{PROJECT}", json={"ingest_key": KEY})
    assert put.status_code == 200, put.text
    env = {
        "VITE_LOG_CENTER_URL": stack.api_url,
        "VITE_LOG_CENTER_PROJECT_ID": PROJECT,
        "VITE_REPO_URL": REPO,
        "VITE_LOG_CENTER_KEY": KEY,
        "MODE": "production",
    }
    subprocess.run(
        [tool(workdir, "esbuild"), "src/harness.ts", "--bundle", "--platform=node"]
        + ["--format=esm", "--packages=external", "--sourcemap", "--outfile=harness.mjs"]
        + [f"--define:import.meta.env={json.dumps(env)}"],
        cwd=workdir,
        check=True,
        capture_output=True,
        timeout=60,
    )
    closed = f"http://127.0.0.1:{free_port()}/api/orders"
    done = subprocess.run(
        ["node", "--enable-source-maps", "harness.mjs", stack.api_url, closed],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    failing, sent = (json.loads(line) for line in done.stdout.splitlines()[-2:])
    assert sent == {"statuses": [200] * 5}
    indexed(stack)

    harness = workdir / "src" / "harness.ts"
    for error_type, message in (
        ("TypeError", "fetch path"),
        ("RangeError", "beacon path"),
        ("SyntaxError", "beacon refused"),
    ):
        bug = the_bug(stack, PROJECT, error_type)
        assert bug["message"] == message
        assert bug["file_path"] == str(harness)
        assert bug["line_number"] == source_line(harness, f"new {error_type}('{message}')")
        assert bug["environment"] == "production"
        assert bug["context"]["url"] == "http://localhost:5173/orders/7"
        assert bug["context"]["userAgent"] == "Mozilla/5.0 (harness)"
        assert bug["stack_trace"][0] == f"{error_type}: {message}"
    assert the_bug(stack, PROJECT, "TypeError")["context"]["orderId"] == 7

    answered = the_bug(stack, PROJECT, "AxiosError")
    assert answered["context"] == {
        "url": f"http://127.0.0.1:{failing['failingPort']}/api/orders",
        "method": "get",
        "status": 502,
        "userAgent": "Mozilla/5.0 (harness)",
    }
    unanswered = the_bug(stack, PROJECT, "Error")  # axios keeps the socket error's name
    assert unanswered["message"].startswith("connect ECONNREFUSED")
    assert len(bugs_of(stack, PROJECT)) == 5  # the 200 and the 404 were not reported
    project = stack.client.get(f"/api/v1/projects/{PROJECT}").json()
    assert project["repo_url"] == REPO
