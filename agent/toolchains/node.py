"""JavaScript and TypeScript projects: vitest, jest, mocha or node's own test runner.

The package manager comes from the lockfile (`package-lock.json` -> npm ci, `pnpm-lock.yaml` ->
pnpm, `yarn.lock` -> yarn, none -> npm install), the runner from package.json's dependencies and
`scripts.test`. Dependencies are installed once per committed package.json + lockfile into the
worker's cache, never into the user's checkout, and the worktree sees them through a
`node_modules` symlink: the caller must keep `node_modules` out of commits (it is listed in
`Prepared.ignored_paths`; note that a `node_modules/` ignore rule does not match a symlink).
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.toolchains.base import PrepareContext, Prepared, first_match, mentions, prepend_path
from agent.toolchains.cache import build_once, committed, env_dir, env_key, run_checked
from agent.toolchains.checkout import Checkout, relative_import
from agent.toolchains.errors import PrepareFailed

RUNNERS = ("vitest", "jest", "mocha")
_LOCKS = {"package-lock.json": "npm", "pnpm-lock.yaml": "pnpm", "yarn.lock": "yarn"}
_INSTALL = {
    "npm": ["npm", "ci", "--include=dev", "--no-audit", "--no-fund"],
    "pnpm": ["pnpm", "install", "--frozen-lockfile", "--prod=false"],
    "yarn": ["yarn", "install", "--frozen-lockfile", "--production=false"],
}
_NO_LOCK = ["npm", "install", "--include=dev", "--no-audit", "--no-fund", "--no-package-lock"]
_TEST_FILE = re.compile(r"(?:^|/)[^/]+(\.(?:test|spec)\.[cm]?[jt]sx?)$")
_FAILED = (
    re.compile(r"^\s*(?:FAIL|×|✗)\s+(\S+\.[cm]?[jt]sx?\s+>\s+.+?)(?:\s+\d+m?s)?$", re.MULTILINE),
    re.compile(r"^\s*●\s+(.+?)\s*$", re.MULTILINE),
    re.compile(r"^not ok \d+ - (.+)$", re.MULTILINE),
    re.compile(r"^\s*✖ (.+?)(?: \([\d.]+m?s\))?$", re.MULTILINE),
    re.compile(r"^\s+1\) (.+)$", re.MULTILINE),
    re.compile(r"^\s*FAIL\s+(\S+)", re.MULTILINE),
)


@dataclass
class NodeProject:
    worktree: Path
    checkout: Checkout = field(repr=False)
    name: str = "node-test"
    language: str = "javascript"
    manager: str = "npm"
    esm: bool = False
    test_command: str | None = None
    #: The `.bin` folder of the installed dependencies; set by `prepare`.
    bin_dir: Path | None = None

    def required_tools(self) -> list[str]:
        return ["node", self.manager]

    def prepare(self, ctx: PrepareContext) -> Prepared:
        lock = next((n for n, m in _LOCKS.items() if m == self.manager), "")
        names = ["package.json", lock, ".npmrc", ".yarnrc", "pnpm-workspace.yaml"]
        files = committed(self.worktree, ctx.commit, [n for n in names if n])
        if "package.json" not in files:
            raise PrepareFailed(f"package.json is not committed at {ctx.commit[:12]}")
        env = self._install_env(ctx)
        code, version = ctx.run(["node", "--version"], self.worktree, env, 60)
        key = env_key(files, "node", self.manager, version.strip() if code == 0 else "")
        final = env_dir(ctx, key)
        built = build_once(final, lambda temp: self._install(ctx, temp, files, lock, env))
        modules = final / "node_modules"
        _link(self.worktree / "node_modules", modules)
        self.bin_dir = modules / ".bin"
        values = {"PATH": prepend_path(ctx.env, self.bin_dir), "NODE_PATH": str(modules)}
        values["npm_config_cache"] = env["npm_config_cache"]
        return Prepared(
            values, root=final, read_only=(final,), ignored_paths=("node_modules",), built=built
        )

    def _install_env(self, ctx: PrepareContext) -> dict[str, str]:
        env = {k: v for k, v in ctx.env.items() if k != "NODE_ENV"}
        env.setdefault("npm_config_cache", str(ctx.cache_dir.resolve() / "npm"))
        env.update(npm_config_update_notifier="false", npm_config_fund="false", CI="true")
        return env

    def _install(
        self,
        ctx: PrepareContext,
        temp: Path,
        files: dict[str, bytes],
        lock: str,
        env: dict[str, str],
    ) -> None:
        for name, content in files.items():
            if name == "package.json":
                content = _without_scripts(content)
            (temp / name).write_bytes(content)
        argv = _INSTALL[self.manager] if lock in files else _NO_LOCK
        run_checked(ctx, argv, temp, env, f"installing the project's {self.manager} dependencies")

    def _bin(self, tool: str) -> str:
        return shlex.quote(str(self.bin_dir / tool)) if self.bin_dir else tool

    def suite_command(self) -> str:
        if self.test_command:
            return self.test_command
        return {
            "vitest": f"{self._bin('vitest')} run",
            "jest": f"{self._bin('jest')} --ci",
            "mocha": self._bin("mocha"),
        }.get(self.name, "node --test")

    def test_file_command(self, path: str) -> str:
        quoted = shlex.quote(path)
        return {
            "vitest": f"{self._bin('vitest')} run {quoted}",
            "jest": f"{self._bin('jest')} --ci --runTestsByPath {quoted}",
            "mocha": f"{self._bin('mocha')} {quoted}",
        }.get(self.name, f"node --test {quoted}")

    def test_path(self, bug_id: int, source_file: str | None) -> str:
        tests = [f for f in self.checkout.files if _TEST_FILE.search(f)]
        name = f"logcenter-bug-{bug_id}{self._suffix(tests, source_file)}"
        return posixpath.join(self._folder(tests, source_file), name)

    def _suffix(self, tests: list[str], source_file: str | None) -> str:
        """The project's most common test suffix (`.test.ts`, `.spec.js`...), else one that
        fits the source file."""
        suffixes = Counter(m.group(1) for f in tests if (m := _TEST_FILE.search(f)))
        ext = posixpath.splitext(source_file or "")[1]
        if ext in (".tsx", ".jsx") and f".test{ext}" in suffixes:
            return f".test{ext}"
        if suffixes:
            return suffixes.most_common(1)[0][0]
        if ext in (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts"):
            return f".test{ext}"
        return ".test.ts" if self.language == "typescript" else ".test.js"

    def _folder(self, tests: list[str], source_file: str | None) -> str:
        """Next to the source when tests sit next to their code; else the tests' own folder."""
        tops = Counter(t.split("/", 1)[0] for t in tests if "/" in t)
        dedicated = [t for t in ("test", "tests", "__tests__") if tops[t] * 2 > len(tests)]
        if dedicated:
            return dedicated[0]
        if source_file and not source_file.startswith(("node_modules/", "../")):
            folder = posixpath.dirname(source_file)
            if any("/__tests__/" in f"/{t}" for t in tests):
                folder = posixpath.join(folder, "__tests__")
            return folder
        if tests:
            return Counter(posixpath.dirname(t) for t in tests).most_common(1)[0][0]
        if self.name in ("mocha", "node-test"):
            return "test"
        return "src" if any(f.startswith("src/") for f in self.checkout.files) else ""

    def conventions(self, bug_id: int, source_file: str | None) -> str:
        path = self.test_path(bug_id, source_file)
        framework = {
            "vitest": "vitest: import { describe, it, expect } from 'vitest'",
            "jest": "jest: describe, it and expect are globals",
            "mocha": "mocha: describe and it are globals; assert with node:assert",
            "node-test": "node's runner: import { test } from 'node:test' and node:assert/strict",
        }[self.name]
        style = "ES module imports" if self.esm or self.language == "typescript" else "require()"
        target = ""
        if source_file:
            spec = relative_import(path, source_file)
            if self.language == "typescript" or not self.esm:
                spec = re.sub(r"\.[cm]?[jt]sx?$", "", spec)
            target = f" Import the code under test by its relative path, here '{spec}'."
        return (
            f"The tests run with {framework}. Write the test as {path} ({self.language}, "
            f"{style}).{target} Call the failing code directly so the reported error is thrown "
            "and fails the test."
        )

    def reproduces(self, output: str, error_type: str) -> bool:
        return mentions(output, error_type)

    def failing_test(self, output: str) -> str | None:
        return first_match(_FAILED, output)


def _without_scripts(content: bytes) -> bytes:
    """package.json without its scripts: the project's own install hooks need its source."""
    try:
        data: dict[str, Any] = json.loads(content)
    except ValueError:
        return content
    data.pop("scripts", None)
    return json.dumps(data, indent=2).encode()


def _link(link: Path, target: Path) -> None:
    """Make `link` a symlink to `target`, unless a real folder is there (then it is left)."""
    if link.is_symlink():
        if Path(os.readlink(link)) == target:
            return
        link.unlink()
    elif link.exists():
        return
    link.symlink_to(target, target_is_directory=True)


def detect(checkout: Checkout, local_path: Path | None = None) -> NodeProject | None:
    """The runner of a project with a package.json at the top, or None."""
    if not checkout.has("package.json"):
        return None
    try:
        data = json.loads(checkout.read("package.json") or "{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    deps = {**data.get("dependencies", {}), **data.get("devDependencies", {})}
    script = str(data.get("scripts", {}).get("test", ""))
    runner = next((r for r in RUNNERS if r in deps or re.search(rf"\b{r}\b", script)), "node-test")
    manager = next((m for n, m in _LOCKS.items() if checkout.has(n)), "npm")
    typescript = (
        "typescript" in deps
        or checkout.has("tsconfig.json")
        or any(
            f.endswith((".ts", ".tsx", ".mts", ".cts")) and not f.endswith(".d.ts")
            for f in checkout.files
        )
    )
    return NodeProject(
        checkout.root,
        checkout,
        name=runner,
        language="typescript" if typescript else "javascript",
        manager=manager,
        esm=data.get("type") == "module",
    )
