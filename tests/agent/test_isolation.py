"""The repair sandbox against what a prompt-injected repair would try, with real bubblewrap.

Each attack runs for real, as root (how CI runs) and as an ordinary user (how the Docker image
runs, uid 10001): a small driver plays the worker in a fresh process, started through `runuser`
for the user, so that the worker itself is unprivileged and its memory can be measured. A secret
canary sits in the fake HOME, in a hidden data directory and in another project's cache; it must
never show in any output.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import json
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.isolation import (
    Limits,
    NoSandbox,
    RunResult,
    RunSpec,
    SandboxFailed,
    SandboxUnavailable,
    choose,
    probe,
)
from agent.isolation.bubblewrap import FIRST_UID, UID_SPAN, Bubblewrap
from agent.isolation.output import BoundedOutput
from agent.isolation.unconfined import Unconfined

ROOT = Path(__file__).resolve().parents[2]
USER = "logcenter-sandbox"
USER_UID = 10001  # the Docker image's worker uid, when free here
CANARY = f"canary-{uuid.uuid4().hex}"
IS_ROOT = os.geteuid() == 0
MB = 1024 * 1024
#: Runs a RunSpec as root or as the user; the driver reads it as JSON and prints the result.
DRIVER = """
import dataclasses, json, shutil, sys
from pathlib import Path
from agent.isolation import Limits, RunSpec, SandboxFailed
from agent.isolation.bubblewrap import Bubblewrap
raw = json.load(sys.stdin)
paths = {k: tuple(Path(p) for p in raw[k]) for k in ("read_only", "writable", "hidden")}
spec = RunSpec(raw["command"], Path(raw["worktree"]), raw["env"], None, **paths,
               network=raw["network"], limits=Limits(**raw["limits"]))
try:
    out = {"result": dataclasses.asdict(Bubblewrap().run(spec))}
except SandboxFailed as exc:
    out = {"failed": str(exc)}
for path in raw["remove"]:
    shutil.rmtree(path)
# VmHWM, not ru_maxrss: the latter keeps the peak of the process that forked us
peak = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
out["peak_rss_kb"] = int(peak.split()[1])
print(json.dumps(out))
"""


@dataclass
class Site:
    """A worker's world in miniature: HOME with keys, a data dir holding the worktree, caches."""

    base: Path
    owner: str
    #: The worker's interpreter (one the owner can run), which also made the project's venv.
    python: str

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def worktree(self) -> Path:
        return self.data / "worktrees" / "calc"

    @property
    def venv(self) -> Path:
        return self.base / "cache" / "envs" / "calc"

    @property
    def other_cache(self) -> Path:
        return self.base / "cache" / "envs" / "other"

    def interpreter_prefix(self) -> Path:
        """Where the venv's base interpreter lives: a toolchain the sandbox must read."""
        for line in (self.venv / "pyvenv.cfg").read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home":
                return Path(value.strip()).parent
        raise AssertionError("pyvenv.cfg names no home")

    def spec(self, command: str, **options: Any) -> RunSpec:
        options.setdefault("limits", Limits(wall_time=20))
        return RunSpec(
            command,
            self.worktree,
            env={"PATH": f"{self.venv}/bin:/usr/bin:/bin", "HOME": str(self.home), "LANG": "C"},
            read_only=(self.venv, self.interpreter_prefix()),
            hidden=(
                self.home / ".ssh",
                self.home / ".git-credentials",
                self.data,
                self.other_cache,
            ),
            **options,
        )


@dataclass
class Runner:
    """Runs a spec as `who` ("root" or "user"); `remove` paths are deleted afterwards by the
    worker, as the worker's user."""

    who: str
    site: Site

    def __call__(self, spec: RunSpec, remove: tuple[Path, ...] = ()) -> RunResult:
        return self.measured(spec, remove)[0]

    def measured(self, spec: RunSpec, remove: tuple[Path, ...] = ()) -> tuple[RunResult, int]:
        """The result and the worker's peak RSS in KB (a fresh worker process)."""
        argv = [self.site.python, "-c", DRIVER]
        if self.who == "user" and IS_ROOT:
            argv = ["runuser", "-u", USER, "--", *argv]
        raw = {
            "command": spec.command,
            "worktree": str(spec.worktree),
            "env": dict(spec.env),
            "network": spec.network,
            "limits": dataclasses.asdict(spec.limits),
            "read_only": [str(p) for p in spec.read_only],
            "writable": [str(p) for p in spec.writable],
            "hidden": [str(p) for p in spec.hidden],
            "remove": [str(p) for p in remove],
        }
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(readable_code()), "LANG": "C.UTF-8"}
        proc = subprocess.run(
            argv, input=json.dumps(raw), capture_output=True, text=True, env=env, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        if "failed" in out:
            raise SandboxFailed(out["failed"])
        return RunResult(**out["result"]), out["peak_rss_kb"]


@functools.cache
def readable_code() -> Path:
    """The sandbox package where the ordinary user can import it: the checkout may sit in a
    private directory (a CI clone in `mktemp -d` is 0700)."""
    base = Path(tempfile.mkdtemp(prefix="lc-isolation-code-", dir="/var/tmp"))
    base.chmod(0o755)
    atexit.register(shutil.rmtree, base, True)
    (base / "agent").mkdir()
    shutil.copy(ROOT / "agent" / "__init__.py", base / "agent" / "__init__.py")
    shutil.copytree(ROOT / "agent" / "isolation", base / "agent" / "isolation")
    for path in [base, *base.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return base


@pytest.fixture(scope="module")
def bwrap() -> Bubblewrap:
    if shutil.which("bwrap") is None:
        if os.environ.get("CI"):
            pytest.fail("bubblewrap is missing in CI: scripts/test-deps.sh installs it")
        pytest.skip(
            "SKIPPED: bubblewrap is not installed (apt-get install bubblewrap): the repair "
            "sandbox was NOT tested on this machine"
        )
    sandbox = Bubblewrap()
    assert sandbox.available() is None, sandbox.available()
    return sandbox


@pytest.fixture(scope="module")
def user() -> str:
    """An ordinary user to run the worker as (created when running as root)."""
    if not IS_ROOT:
        return pwd.getpwuid(os.getuid()).pw_name
    try:
        pwd.getpwnam(USER)
    except KeyError:
        taken = USER_UID in {entry.pw_uid for entry in pwd.getpwall()}
        uid = [] if taken else ["--uid", str(USER_UID)]
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", *uid, USER], check=True
        )
    return USER


def user_python(user: str) -> str:
    """An interpreter `user` can run (ours may live under root's private HOME, as pyenv's)."""
    if not IS_ROOT:
        return sys.executable
    for python in (sys.executable, "/usr/local/bin/python3", "/usr/bin/python3"):
        check = ["runuser", "-u", user, "--", python, "-c", "import sys"]
        if Path(python).exists() and subprocess.run(check, capture_output=True).returncode == 0:
            return python
    pytest.fail(f"no Python interpreter that {user} may run: the user half cannot be tested")


def make_site(owner: str, python: str) -> Site:
    base = Path(tempfile.mkdtemp(prefix="lc-isolation-", dir="/var/tmp"))
    base.chmod(0o755)
    site = Site(base, owner, python)
    (site.home / ".ssh").mkdir(parents=True)
    for secret in (site.home / ".ssh" / "id_rsa", site.home / ".git-credentials"):
        secret.write_text(f"{CANARY}\n")
        secret.chmod(0o600)
    site.worktree.mkdir(parents=True)
    (site.data / "secret.txt").write_text(f"{CANARY}\n")  # world-readable: only hiding helps
    (site.worktree / ".git").mkdir()
    (site.worktree / ".git" / "config").write_text("[core]\n")
    (site.worktree / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    site.other_cache.mkdir(parents=True)
    (site.other_cache / "token").write_text(f"{CANARY}\n")
    subprocess.run([python, "-m", "venv", "--without-pip", site.venv], check=True)
    if owner != "root":
        shutil.chown(base, owner, owner)
        subprocess.run(["chown", "-R", f"{owner}:", str(base)], check=True)
    return site


@pytest.fixture(scope="module")
def sites(bwrap: Bubblewrap, user: str) -> Iterator[dict[str, Site]]:
    made = {"user": make_site(user, user_python(user))}
    if IS_ROOT:
        made["root"] = make_site("root", sys.executable)
    yield made
    for site in made.values():
        shutil.rmtree(site.base)


@pytest.fixture(params=["root", "user"])
def run(request: pytest.FixtureRequest, sites: dict[str, Site]) -> Runner:
    """The sandbox run as root (in this process) or as an ordinary user (through runuser)."""
    who = request.param
    if who == "root" and not IS_ROOT:
        pytest.skip("the root half needs root; CI runs as root")
    return Runner(who, sites[who])


def leftovers(marker: str) -> list[int]:
    """Pids of processes whose command line holds `marker`, or whose uid is a sandbox uid."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cmdline = Path(entry.path, "cmdline").read_bytes()
            uid = entry.stat().st_uid
        except OSError:
            continue
        if marker.encode() in cmdline or FIRST_UID <= uid < FIRST_UID + UID_SPAN:
            found.append(int(entry.name))
    return found


def assert_clean(result: RunResult) -> None:
    assert CANARY not in json.dumps(dataclasses.asdict(result))


# -- attacks -----------------------------------------------------------------------------------


def test_secrets_in_home_data_dir_and_other_caches_stay_hidden(run: Runner) -> None:
    site = run.site
    result = run(
        site.spec(
            f"cat ~/.ssh/id_rsa ~/.git-credentials {site.data}/secret.txt "
            f"{site.other_cache}/token; ls -A ~/.ssh {site.data} {site.other_cache}; "
            f"cat /proc/1/environ; grep -rs canary- ~ {site.data} {site.other_cache}; true"
        )
    )
    assert_clean(result)
    assert result.output.count("No such file or directory") >= 3
    listed = set(result.output.splitlines())  # `ls -A` shows no hidden file's name
    assert not listed & {"id_rsa", "secret.txt", "token"} and f"{site.data}:" in listed


def test_hidden_paths_cannot_be_unmounted(run: Runner) -> None:
    site = run.site
    result = run(
        site.spec(
            f"umount ~/.ssh; umount -l {site.data}; grep CapEff /proc/self/status; "
            f"unshare -Urm sh -c 'umount {site.home}/.ssh; cat {site.home}/.ssh/id_rsa'; "
            f"cat ~/.ssh/id_rsa; true"
        )
    )
    assert_clean(result)
    assert "CapEff:\t0000000000000000" in result.output
    assert "umount" in result.output  # each attempt said why it failed


def test_network_is_off_loopback_and_host_address_included(run: Runner) -> None:
    addresses = ["127.0.0.1", *host_addresses()]
    with listening(addresses) as accepted:
        probe_cmd = connect_command(accepted.ports)
        result = run(run.site.spec(probe_cmd))
        time.sleep(0.2)
        assert accepted.count == 0
    assert result.output.count("refused-or-unreachable") == len(addresses), result.output
    with listening(["127.0.0.1"]) as accepted:  # the same probe reaches it when allowed to
        run(run.site.spec(connect_command(accepted.ports), network=True))
        deadline = time.monotonic() + 5
        while accepted.count == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert accepted.count == 1


def test_writes_outside_the_worktree_change_nothing(run: Runner) -> None:
    site = run.site
    mark = f"written-{uuid.uuid4().hex[:8]}"
    targets = [
        Path("/var/tmp") / mark,
        Path("/tmp") / mark,
        site.home / mark,
        site.home / ".ssh" / "authorized_keys",
        site.worktree.parent / mark,
        site.base / mark,
        site.venv / mark,
        ROOT / mark,
    ]
    writes = "; ".join(f"echo x > {target}" for target in targets)
    result = run(site.spec(f"{writes}; echo '[core] fsmonitor = evil' >> .git/config; true"))
    assert_clean(result)
    assert [t for t in targets if t.exists()] == []
    assert (site.worktree / ".git" / "config").read_text() == "[core]\n"


def test_fork_bomb_is_contained(run: Runner) -> None:
    marker = f"bomb-{uuid.uuid4().hex[:8]}"  # $0 of every forked shell: findable in /proc
    spec = run.site.spec(
        f"sh -c 'bomb() {{ bomb | bomb & }}; bomb; sleep 2; echo survived' {marker}",
        limits=Limits(wall_time=8, processes=64),
    )
    started = time.monotonic()
    result = run(spec)
    # Promptly, with room for a loaded machine (the run's own wall time is 8 s).
    assert time.monotonic() - started < 30
    said = result.output.lower()
    assert "cannot fork" in said or "temporarily unavailable" in said, said[-2000:]
    # The kernel reaps a killed pid namespace of hundreds of forks slowly on a loaded machine.
    assert wait_until(lambda: not leftovers(marker), seconds=30), leftovers(marker)
    assert subprocess.run(["true"]).returncode == 0  # and this machine still forks


def test_a_gigabyte_of_output_is_cut_and_the_worker_stays_small(run: Runner) -> None:
    spec = run.site.spec(
        "echo START; yes 0123456789abcdef | head -c 1073741824; echo; echo END",
        limits=Limits(wall_time=60, output_bytes=4 * MB),
    )
    result, peak_rss_kb = run.measured(spec)
    assert result.passed and result.output_truncated
    assert result.output.startswith("START\n") and result.output.endswith("END\n")
    assert result.dropped_bytes > 1024 * MB - 5 * MB
    assert "bytes dropped" in result.output and len(result.output) < 5 * MB
    assert peak_rss_kb < 100 * 1024, f"worker peak RSS {peak_rss_kb} KB"


def test_a_run_past_its_time_is_killed_promptly(run: Runner) -> None:
    started = time.monotonic()
    result = run(run.site.spec("sleep 30", limits=Limits(wall_time=1)))
    assert result.timed_out and not result.passed
    assert time.monotonic() - started < 6 and result.duration < 3


def test_no_process_outlives_the_run(run: Runner) -> None:
    marker = f"1000.{uuid.uuid4().int % 10**9}"
    background = (
        f"setsid nohup sleep {marker} >/dev/null 2>&1 & nohup sleep {marker} >/dev/null 2>&1 & "
        f"(setsid sleep {marker} &)"
    )
    result = run(run.site.spec(f"{background}; echo spawned"))
    assert result.passed and "spawned" in result.output
    timed_out = run(run.site.spec(f"{background}; sleep 30", limits=Limits(wall_time=1)))
    assert timed_out.timed_out
    assert wait_until(lambda: not leftovers(marker)), leftovers(marker)


def test_memory_is_limited(run: Runner) -> None:
    spec = run.site.spec(
        "python -c 'bytearray(1 << 30)'", limits=Limits(wall_time=20, memory_bytes=256 * MB)
    )
    result = run(spec)
    assert not result.passed and "MemoryError" in result.output


# -- ordinary work -----------------------------------------------------------------------------


def test_tests_run_in_the_worktree_with_a_read_only_venv(run: Runner) -> None:
    site = run.site
    build = site.worktree / f"build-{uuid.uuid4().hex[:6]}"
    command = (
        "python -c 'import sys, calc; print(sys.prefix, calc.add(2, 3))' > out.txt && "
        f"mkdir -p {build}/deep && echo data > {build}/deep/file && cat out.txt && "
        f"! touch {site.venv}/x 2>/dev/null"
    )
    result = run(site.spec(command), remove=(build,))
    assert result.passed, result.output
    assert f"{site.venv} 5" in result.output
    assert not build.exists()  # the worker removed what the run made
    out = site.worktree / "out.txt"
    assert out.stat().st_uid == pwd.getpwnam(site.owner).pw_uid
    assert result.isolation.startswith("bubblewrap: no network, host read-only, uid ")
    assert "limits 20 s / 2 GB / 256 procs / 10 MB" in result.isolation
    assert result.sandbox == "bubblewrap"


@pytest.mark.skipif(not IS_ROOT, reason="a root worker's data directory under /root")
def test_a_worktree_below_a_private_root_directory_is_reachable(bwrap: Bubblewrap) -> None:
    private = Path(tempfile.mkdtemp(prefix="lc-private-", dir="/var/tmp"))  # 0700, root
    try:
        worktree = private / "data" / "wt"
        worktree.mkdir(parents=True)
        (private / "secret").write_text(CANARY)
        spec = RunSpec(f"echo ok > made; cat {private}/secret; ls {private}", worktree)
        result = bwrap.run(spec)
        assert (worktree / "made").read_text() == "ok\n" and CANARY not in result.output
        assert (worktree / "made").stat().st_uid == 0 and worktree.stat().st_uid == 0
    finally:
        shutil.rmtree(private)


@pytest.mark.skipif(not IS_ROOT, reason="only a root worker lends the worktree to another uid")
def test_what_the_run_made_belongs_to_the_worker_again(sites: dict[str, Site]) -> None:
    site, other = sites["root"], sites["user"].worktree / "calc.py"  # owned by the test user
    made = site.worktree / f"made-{uuid.uuid4().hex[:6]}"
    command = (
        f"mkdir {made} && echo x > {made}/tool && chmod 4755 {made}/tool && "
        f"ln -s {other} {made}/link && ls -ln {made}"
    )
    result = Runner("root", site)(site.spec(command))
    assert result.passed, result.output
    assert "rwsr" in result.output  # the set-uid bit was set inside
    owners = {(p.name, p.lstat().st_uid) for p in [made, *made.iterdir()]}
    assert owners == {(made.name, 0), ("tool", 0), ("link", 0)}
    assert (made / "tool").stat().st_mode & 0o7777 == 0o755
    assert other.stat().st_uid == pwd.getpwnam(USER).pw_uid  # the link was not followed
    shutil.rmtree(made)


def test_a_mount_that_cannot_be_made_raises(bwrap: Bubblewrap, tmp_path: Path) -> None:
    spec = RunSpec("true", tmp_path, read_only=(tmp_path / "missing" / "venv",))
    with pytest.raises(SandboxFailed, match="missing"):
        bwrap.run(spec)


# -- choosing and probing ----------------------------------------------------------------------


def test_choose_and_probe_name_the_working_sandbox(bwrap: Bubblewrap) -> None:
    assert isinstance(choose(), Bubblewrap) and isinstance(choose("bubblewrap"), Bubblewrap)
    report = probe()
    assert report["ok"] is True and report["kind"] == "bubblewrap"
    assert str(report["detail"]).startswith("bubblewrap: no network")
    assert probe() is report  # once per process
    with pytest.raises(ValueError, match="auto, bubblewrap, none"):
        choose("docker-maybe")


def test_without_bubblewrap_auto_refuses_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    sandbox = choose()
    assert isinstance(sandbox, NoSandbox)
    reason = sandbox.available() or ""
    assert "bubblewrap is not installed" in reason and "LOGCENTER_REPAIR_SANDBOX=none" in reason
    with pytest.raises(SandboxUnavailable, match="not installed"):
        sandbox.run(RunSpec("true", tmp_path))


def test_unconfined_is_named_honestly_and_still_bounded(tmp_path: Path) -> None:
    sandbox = choose("none")
    assert isinstance(sandbox, Unconfined) and sandbox.available() is None
    spec = RunSpec(
        "echo START; head -c 3000000 /dev/zero; echo; echo END; pwd",
        tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        limits=Limits(wall_time=10, output_bytes=MB),
    )
    result = sandbox.run(spec)
    assert result.passed and result.output_truncated and result.sandbox == "none"
    assert result.output.startswith("START") and result.output.endswith(f"END\n{tmp_path}\n")
    assert result.isolation.startswith("none: no isolation")
    late = sandbox.run(RunSpec("sleep 30", tmp_path, limits=Limits(wall_time=1)))
    assert late.timed_out and late.duration < 3


def test_bounded_output_keeps_head_and_tail_and_counts_the_rest() -> None:
    output = BoundedOutput(100)
    for index in range(1000):
        output.feed(f"{index:04d}\n".encode())
    text = output.text()
    assert text.startswith("0000\n0001\n") and text.endswith("0998\n0999\n")
    assert output.kept == 100 and output.dropped == 5000 - 100
    assert "… 4900 bytes dropped …" in text
    small = BoundedOutput(100)
    small.feed(b"short")
    assert small.text() == "short" and small.dropped == 0


# -- helpers -----------------------------------------------------------------------------------


@dataclass
class Accepted:
    ports: dict[str, int]
    count: int = 0


@contextmanager
def listening(addresses: list[str]) -> Iterator[Accepted]:
    """TCP listeners on `addresses` that count every connection they accept."""
    servers = [socket.create_server((address, 0)) for address in addresses]
    accepted = Accepted({a: s.getsockname()[1] for a, s in zip(addresses, servers, strict=True)})
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            for server in servers:
                server.settimeout(0.05)
                try:
                    conn, _ = server.accept()
                except TimeoutError:
                    continue
                accepted.count += 1
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield accepted
    finally:
        stop.set()
        thread.join()
        for server in servers:
            server.close()


def connect_command(ports: dict[str, int]) -> str:
    targets = repr(sorted(ports.items()))
    script = (
        "import socket\n"
        f"for host, port in {targets}:\n"
        "    try:\n"
        "        socket.create_connection((host, port), timeout=2).close(); print('connected')\n"
        "    except OSError as exc:\n"
        "        print('refused-or-unreachable', host, exc)\n"
    )
    return f"python -c {shlex.quote(script)}"


def host_addresses() -> list[str]:
    """This machine's own non-loopback IPv4 address, when it has one."""
    probe_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe_socket.connect(("192.0.2.123", 9))  # no packet is sent: this picks a route
        address = probe_socket.getsockname()[0]
    except OSError:
        return []
    finally:
        probe_socket.close()
    return [] if address.startswith("127.") else [address]


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
