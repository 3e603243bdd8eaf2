"""Go modules: `go test`, with the module and build caches in the worker's cache.

A `go.mod` at the top makes a Go project. Preparing downloads the modules of the committed
go.mod/go.sum once (`go mod download`) into a shared GOMODCACHE; GOCACHE is shared too and is
written by every run. GOTOOLCHAIN=local keeps go from fetching another toolchain, and
GOFLAGS=-mod=mod lets a test that needs a module go.sum lacks still build. A reported panic is
recognised by the text Go prints after `panic:`; runtime error types map to that text.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from agent.toolchains.base import PrepareContext, Prepared, first_match, mentions
from agent.toolchains.cache import build_once, committed, env_dir, env_key, run_checked
from agent.toolchains.checkout import Checkout

#: What Go prints after `panic:` for the runtime's error types.
RUNTIME_PANICS: dict[str, tuple[str, ...]] = {
    "runtime.boundsError": ("index out of range", "slice bounds out of range"),
    "runtime.TypeAssertionError": ("interface conversion:",),
    "runtime.Error": ("runtime error:",),
    "runtime.errorString": ("runtime error:",),
    "runtime.plainError": ("assignment to entry in nil map", "close of closed channel"),
}
_PANIC = re.compile(r"^\s*panic: (.+)$", re.MULTILINE)
_TEST_FUNC = re.compile(r"^func (Test\w*)\(\s*\w+\s+\*testing\.T\s*\)", re.MULTILINE)
_PACKAGE = re.compile(r"^package (\w+)", re.MULTILINE)
_MODULE = re.compile(r"^module\s+(\S+)", re.MULTILINE)
_FAILED = (
    re.compile(r"^\s*--- FAIL: (\S+)", re.MULTILINE),
    re.compile(r"^FAIL\s+(\S+)\s", re.MULTILINE),
)


@dataclass
class GoModule:
    worktree: Path
    checkout: Checkout = field(repr=False)
    name: str = "go"
    language: str = "go"
    test_command: str | None = None

    def required_tools(self) -> list[str]:
        return ["go"]

    def prepare(self, ctx: PrepareContext) -> Prepared:
        files = committed(self.worktree, ctx.commit, ["go.mod", "go.sum"])
        env = go_env(ctx)
        code, version = ctx.run(["go", "env", "GOVERSION"], self.worktree, env, 60)
        final = env_dir(ctx, env_key(files, "go", version.strip() if code == 0 else ""))

        def download(temp: Path) -> None:
            for name, content in files.items():
                (temp / name).write_bytes(content)
            if re.search(rb"^\s*require\b", files.get("go.mod", b""), re.MULTILINE):
                run_checked(ctx, ["go", "mod", "download"], temp, env, "downloading Go modules")

        built = build_once(final, download)
        values = {k: env[k] for k in ("GOMODCACHE", "GOCACHE", "GOPATH", "GOFLAGS", "GOTOOLCHAIN")}
        values["PATH"] = env["PATH"]
        read_only = (Path(env["GOMODCACHE"]), final)
        return Prepared(
            values, root=final, read_only=read_only, writable=(Path(env["GOCACHE"]),), built=built
        )

    def suite_command(self) -> str:
        return self.test_command or "go test ./..."

    def test_file_command(self, path: str) -> str:
        folder = posixpath.dirname(path)
        names = _TEST_FUNC.findall(self.checkout.read(path))
        pattern = f"^({'|'.join(names)})$" if names else "."
        package = f"./{folder}" if folder else "."
        return f"go test -count=1 -run {shlex.quote(pattern)} {shlex.quote(package)}"

    def test_path(self, bug_id: int, source_file: str | None) -> str:
        folder = (
            posixpath.dirname(source_file) if source_file and source_file.endswith(".go") else ""
        )
        return posixpath.join(folder, f"logcenter_bug_{bug_id}_test.go")

    def conventions(self, bug_id: int, source_file: str | None) -> str:
        path = self.test_path(bug_id, source_file)
        package = _PACKAGE.search(self.checkout.read(source_file or ""))
        module = _MODULE.search(self.checkout.read("go.mod"))
        clause = f"package {package.group(1)}" if package else "the package of that folder"
        where = f" (module {module.group(1)})" if module else ""
        return (
            f"The tests run with `go test`{where}. Write {path} in {clause}, an internal test "
            "that can call unexported names, using the standard testing package: "
            f"func TestLogcenterBug{bug_id}(t *testing.T). Call the failing code directly and do "
            "not recover: a panic must surface as it did in production."
        )

    def reproduces(self, output: str, error_type: str) -> bool:
        if mentions(output, error_type):
            return True
        wanted = error_type.strip().lstrip("*")
        texts = RUNTIME_PANICS.get(wanted, ()) + ((wanted,) if wanted else ())
        return any(t in panic for panic in _PANIC.findall(output) for t in texts)

    def failing_test(self, output: str) -> str | None:
        return first_match(_FAILED, output)


def go_env(ctx: PrepareContext) -> dict[str, str]:
    """`ctx.env` with Go's caches under the cache dir (unless set there) and no toolchain fetch."""
    env = dict(ctx.env)
    root = ctx.cache_dir.resolve() / "go"
    env.setdefault("GOMODCACHE", str(root / "mod"))
    env.setdefault("GOCACHE", str(root / "build"))
    env.setdefault("GOPATH", str(root / "path"))
    flags = env.get("GOFLAGS", "").split()
    env["GOFLAGS"] = " ".join([*(f for f in flags if not f.startswith("-mod=")), "-mod=mod"])
    env["GOTOOLCHAIN"] = "local"
    env.setdefault("PATH", os.defpath)
    return env


def detect(checkout: Checkout, local_path: Path | None = None) -> GoModule | None:
    """A Go module when go.mod is at the top of the checkout."""
    return GoModule(checkout.root, checkout) if checkout.has("go.mod") else None
