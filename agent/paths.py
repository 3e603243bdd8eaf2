"""Resolve reported file paths and stack frames to files of the repository.

Reported paths are rarely repository paths: Python clients send absolute paths from the machine
that failed (`/home/dev/projects/rtc_backend/apps/users/views.py`), browsers send URLs
(`http://host:5173/src/api/request.ts?t=17`), Flutter sends package URIs
(`package:airhub_app/main.dart`, which lives at `lib/main.dart`). We normalize each to a relative
path and pick the repository file sharing the longest path suffix with it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_DRIVE = re.compile(r"^[a-zA-Z]:/")
#: Directories of installed third-party code: frames there are never the project's own files.
_VENDORED = frozenset({"site-packages", "dist-packages", "node_modules", ".pub-cache"})
_PYTHON_FRAME = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)')
# V8 `at fn (url:12:5)`, `at url:12:5`; Firefox `fn@url:12:5`; Dart `#0 fn (package:a/b.dart:12:5)`.
_COLON_FRAME = re.compile(
    r"(?:\(|\bat\s+|@|^\s*)(?P<path>[^\s()@]+?):(?P<line>\d+)(?::\d+)?\)?\s*$"
)


@dataclass(frozen=True)
class Frame:
    """One stack frame as reported: a path as the client saw it and a line number."""

    path: str
    line: int


def normalize(reported: str) -> str:
    """Turn a reported path, URL or package URI into a relative slash path (may be empty)."""
    text = reported.strip().replace("\\", "/")
    if text.startswith("package:"):
        # `package:<name>/<rest>` is `lib/<rest>` inside package <name>.
        rest = text[len("package:") :].split("/", 1)
        text = "lib/" + rest[1] if len(rest) == 2 else ""
    elif text.startswith(("dart:", "node:", "<", "[")):
        return ""  # SDK/runtime internals (`dart:core`, `node:internal`, `<anonymous>`)
    elif _SCHEME.match(text):
        url = urlsplit(text)
        text = url.path if url.netloc or url.scheme == "file" else text.split("://", 1)[1]
    text = unquote(text.split("?", 1)[0].split("#", 1)[0])
    text = _DRIVE.sub("", text)
    for marker in ("/@fs/", "/webpack:/"):
        text = text.split(marker, 1)[-1]
    parts = [p for p in text.split("/") if p not in ("", ".")]
    return "/".join(parts)


class RepoFiles:
    """The files of one repository, indexed by base name for suffix matching."""

    def __init__(self, files: Iterable[str]) -> None:
        self._by_name: dict[str, list[str]] = defaultdict(list)
        for name in files:
            self._by_name[name.rsplit("/", 1)[-1]].append(name)

    def resolve(self, reported: str) -> str | None:
        """The repository file with the longest path suffix in common with `reported`, or None.

        Ties go to the shortest candidate path, then alphabetical order, so the answer is stable.
        """
        parts = normalize(reported).split("/")
        if not parts[-1] or _VENDORED.intersection(parts):
            return None
        best: tuple[int, int, str] | None = None
        for candidate in self._by_name.get(parts[-1], ()):
            cparts = candidate.split("/")
            depth = _common_suffix(parts, cparts)
            key = (-depth, len(cparts), candidate)
            if best is None or key < best:
                best = key
        return best[2] if best else None

    def resolve_frames(self, frames: Iterable[Frame]) -> list[Frame]:
        """Frames whose path resolves, rewritten to repository paths, in order, without repeats."""
        seen: set[Frame] = set()
        resolved: list[Frame] = []
        for frame in frames:
            path = self.resolve(frame.path)
            if path is None:
                continue
            local = Frame(path, frame.line)
            if local not in seen:
                seen.add(local)
                resolved.append(local)
        return resolved


def _common_suffix(a: list[str], b: list[str]) -> int:
    n = 0
    while n < len(a) and n < len(b) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def parse_frames(stack_trace: Iterable[str]) -> list[Frame]:
    """Frames named in a Python, JavaScript (V8/Firefox) or Dart stack trace, in the given order."""
    frames: list[Frame] = []
    for raw in stack_trace:
        for line in raw.splitlines() or [raw]:
            match = _PYTHON_FRAME.search(line) or _COLON_FRAME.search(line)
            if match:
                frames.append(Frame(match["path"], int(match["line"])))
    return frames


def inside(root: Path, relative: str) -> Path | None:
    """`relative` under `root` with symlinks resolved, or None when it leads out of `root` (an
    absolute path, `..`, or a link, committed or planted, to the worker's own files)."""
    base = root.resolve()
    target = (base / relative).resolve()
    if Path(relative).is_absolute() or not target.is_relative_to(base):
        return None
    return target


def read_inside(root: Path, relative: str) -> str | None:
    """The text of the file `relative` under `root`; None when it is missing or lies outside."""
    target = inside(root, relative)
    try:
        return target.read_text(encoding="utf-8", errors="replace") if target else None
    except OSError:
        return None
