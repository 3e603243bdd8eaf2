"""Dart and Flutter packages: `dart test` or `flutter test`, with PUB_CACHE in the worker's cache.

A `pubspec.yaml` at the top makes a Dart package, a Flutter one when it depends on the `flutter`
SDK. Pub keeps resolved packages in PUB_CACHE but writes `.dart_tool/` (and `pubspec.lock` when
none is committed) into the package, so `pub get` runs in the worktree: online once per committed
pubspec, offline afterwards; those paths are listed in `Prepared.ignored_paths`. Dart prints
several errors by their message rather than their type (`StateError` is `Bad state: ...`), so
those types are matched by that text.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from agent.toolchains.base import PrepareContext, Prepared, first_match, mentions
from agent.toolchains.cache import build_once, committed, env_dir, env_key, locked, run_checked
from agent.toolchains.checkout import Checkout

_TYPE_MISMATCH = ("is not a subtype of type", "Null check operator used on a null value")
#: How Dart prints errors whose text does not start with their type.
DART_ERRORS: dict[str, tuple[str, ...]] = {
    "StateError": ("Bad state:",),
    "ArgumentError": ("Invalid argument",),
    "UnsupportedError": ("Unsupported operation:",),
    "ConcurrentModificationError": ("Concurrent modification during iteration",),
    "TypeError": _TYPE_MISMATCH,
    "_TypeError": _TYPE_MISMATCH,
    "_Exception": ("Exception:",),
    "IntegerDivisionByZeroException": ("IntegerDivisionByZeroException", "Division by zero"),
}
_FLUTTER_SDK = re.compile(r"^\s+sdk:\s*flutter\s*$", re.MULTILINE)
_NAME = re.compile(r"^name:\s*['\"]?([\w]+)", re.MULTILINE)
_FAILED = (
    re.compile(r"^\d+:\d+ \+\d+(?: ~\d+)? -\d+: (.+?) \[E\]\s*$", re.MULTILINE),
    re.compile(r"^(Some tests failed)\.", re.MULTILINE),
)
_GENERATED = (".dart_tool", ".flutter-plugins", ".flutter-plugins-dependencies")


@dataclass
class DartPackage:
    worktree: Path
    checkout: Checkout = field(repr=False)
    name: str = "dart"
    language: str = "dart"
    test_command: str | None = None

    def required_tools(self) -> list[str]:
        return [self.name]

    def prepare(self, ctx: PrepareContext) -> Prepared:
        files = committed(self.worktree, ctx.commit, ["pubspec.yaml", "pubspec.lock"])
        cache = ctx.env.get("PUB_CACHE") or str(ctx.cache_dir.resolve() / "pub")
        env = {**ctx.env, "PUB_CACHE": cache, "FLUTTER_SUPPRESS_ANALYTICS": "true"}
        argv = [self.name, "pub", "get"]
        if "pubspec.lock" in files:
            argv.append("--enforce-lockfile")
        final = env_dir(ctx, env_key(files, self.name))
        what = f"{self.name} pub get"
        with locked(Path(cache).with_name(Path(cache).name + ".lock")):

            def fetch(_: Path) -> None:
                run_checked(ctx, argv, self.worktree, env, what)

            built = build_once(final, fetch)
            if not built:
                run_checked(ctx, [*argv, "--offline"], self.worktree, env, what)
        ignored = _GENERATED + (() if "pubspec.lock" in files else ("pubspec.lock",))
        values = {"PUB_CACHE": cache, "FLUTTER_SUPPRESS_ANALYTICS": "true"}
        return Prepared(
            values, root=final, read_only=(Path(cache),), ignored_paths=ignored, built=built
        )

    def suite_command(self) -> str:
        return self.test_command or f"{self.name} test -r expanded"

    def test_file_command(self, path: str) -> str:
        return f"{self.name} test -r expanded {shlex.quote(path)}"

    def test_path(self, bug_id: int, source_file: str | None) -> str:
        return f"test/logcenter_bug_{bug_id}_test.dart"

    def conventions(self, bug_id: int, source_file: str | None) -> str:
        match = _NAME.search(self.checkout.read("pubspec.yaml"))
        package = match.group(1) if match else "<package name>"
        target = f"package:{package}/<path under lib/>"
        if source_file and source_file.startswith("lib/"):
            target = f"package:{package}/{posixpath.relpath(source_file, 'lib')}"
        framework = (
            "flutter test: import 'package:flutter_test/flutter_test.dart' and use test() or "
            "testWidgets()"
            if self.name == "flutter"
            else "dart test: import 'package:test/test.dart' and use test()"
        )
        return (
            f"The tests run with {framework}. Write {self.test_path(bug_id, source_file)} (test "
            f"files end in _test.dart) and import the code under test as '{target}'. Call the "
            "failing code directly so the reported error is thrown and fails the test."
        )

    def reproduces(self, output: str, error_type: str) -> bool:
        return mentions(output, error_type, DART_ERRORS)

    def failing_test(self, output: str) -> str | None:
        return first_match(_FAILED, output)


def detect(checkout: Checkout, local_path: Path | None = None) -> DartPackage | None:
    """A Dart package when pubspec.yaml is at the top; Flutter when it uses the flutter SDK."""
    if not checkout.has("pubspec.yaml"):
        return None
    flutter = bool(_FLUTTER_SDK.search(checkout.read("pubspec.yaml")))
    return DartPackage(checkout.root, checkout, name="flutter" if flutter else "dart")
