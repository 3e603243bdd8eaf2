"""Real services on free ports: a redis-server and an Elasticsearch node (the Maven Central test
distribution), each in a directory of its own.

The benchmarks start them, so they live with the shipped benchmarks rather than in tests/; the
test suite starts them too, once per session (tests/conftest.py), unless `LOGCENTER_TEST_ES_URL`
/ `LOGCENTER_TEST_REDIS_URL` point it at running services.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import httpx

ES_USER = "logcenter-es"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    """Poll `check` until it is true; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # the service may not accept connections yet
            pass
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


class RedisServer:
    """A redis-server process on a free port with its own directory."""

    def __init__(self, workdir: Path, *, appendonly: bool = True) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError(
                "redis-server not found: run `make test-deps` (apt-get install redis-server)"
            )
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.appendonly = appendonly
        self.exe = exe
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [
            self.exe,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.workdir),
            "--save",
            "",
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
        ]
        if self.appendonly:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url)
        wait_for(lambda: bool(client.ping()), 10, f"redis-server on port {self.port}")
        client.close()
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()


def _es_zip(version: str) -> Path:
    zip_path = (
        Path.home()
        / ".m2/repository/org/elasticsearch/distribution/integ-test-zip"
        / f"elasticsearch/{version}/elasticsearch-{version}.zip"
    )
    if not zip_path.exists():
        subprocess.run(
            [
                "mvn",
                "-q",
                "dependency:get",
                f"-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip",
            ],
            check=True,
        )
    return zip_path


def _java_home() -> str:
    if os.environ.get("ES_JAVA_HOME"):
        return os.environ["ES_JAVA_HOME"]
    for candidate in sorted(Path("/usr/lib/jvm").glob("*"), reverse=True):
        java = candidate / "bin/java"
        if not java.exists():
            continue
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True).stderr
        major = out.split('"')[1].split(".")[0] if '"' in out else "0"
        if major.isdigit() and int(major) >= 21:
            return str(candidate)
    raise RuntimeError("Elasticsearch 9 needs Java 21+; none found under /usr/lib/jvm")


def _es_user() -> tuple[int, int] | None:
    """Elasticsearch refuses to run as root: run it as a dedicated system user."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(ES_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ES_USER],
            check=True,
        )
        entry = pwd.getpwnam(ES_USER)
    return entry.pw_uid, entry.pw_gid


class ElasticsearchNode:
    """A single Elasticsearch node from the Maven Central test distribution."""

    def __init__(self, workdir: Path, version: str) -> None:
        self.workdir = workdir
        self.version = version
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        #: Where snapshot repositories may live (the node's `path.repo`).
        self.snapshot_dir = workdir / "snapshots"

    def start(self, timeout: float = 180) -> ElasticsearchNode:
        home = self.workdir / f"elasticsearch-{self.version}"
        if not home.exists():
            with zipfile.ZipFile(_es_zip(self.version)) as zf:
                zf.extractall(self.workdir)
            for script in (home / "bin").iterdir():
                script.chmod(0o755)
            (home / "jdk").mkdir(exist_ok=True)
        owner = _es_user()
        for sub in ("data", "logs", "snapshots"):
            (self.workdir / sub).mkdir(exist_ok=True)
        if owner:
            subprocess.run(["chown", "-R", f"{owner[0]}:{owner[1]}", str(self.workdir)], check=True)
        env = {**os.environ, "ES_JAVA_HOME": _java_home(), "ES_JAVA_OPTS": "-Xms512m -Xmx512m"}
        env.pop("JAVA_HOME", None)
        args = [
            str(home / "bin/elasticsearch"),
            "-E",
            "discovery.type=single-node",
            "-E",
            "xpack.security.enabled=false",
            "-E",
            f"http.port={self.port}",
            "-E",
            "http.host=127.0.0.1",
            "-E",
            "transport.port=0",
            "-E",
            "cluster.routing.allocation.disk.threshold_enabled=false",
            "-E",
            f"path.data={self.workdir / 'data'}",
            "-E",
            f"path.logs={self.workdir / 'logs'}",
            "-E",
            f"path.repo={self.snapshot_dir}",
        ]
        self.log = open(self.workdir / "stdout.log", "wb")  # noqa: SIM115 - lives as long as the node
        self.proc = subprocess.Popen(
            args,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            user=owner[0] if owner else None,
            group=owner[1] if owner else None,
            start_new_session=True,
        )

        def healthy() -> bool:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"Elasticsearch exited: see {self.workdir / 'stdout.log'}")
            r = httpx.get(f"{self.url}/_cluster/health", timeout=2)
            return r.status_code == 200 and r.json()["status"] in ("green", "yellow")

        try:
            wait_for(healthy, timeout, f"Elasticsearch {self.version} on port {self.port}", 0.5)
        except RuntimeError:
            raise
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
