"""The files of a worktree as the detectors see them: what git tracks or would track.

Detection and test naming look at the file list many times (manifests, test folders, apps), so
it is read once per `detect()` call; ignored folders such as `node_modules` never show up.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.paths import read_inside

_SKIP_DIRS = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", ".dart_tool"})


@dataclass(frozen=True)
class Checkout:
    root: Path
    files: tuple[str, ...]
    names: frozenset[str]

    @classmethod
    def scan(cls, root: Path) -> Checkout:
        """The tracked and untracked-but-not-ignored files of `root` (a walk if not a repo)."""
        proc = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-co", "--exclude-standard", "-z"],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode == 0:
            files = sorted({f for f in proc.stdout.split("\0") if f})
        else:
            files = _walk(root)
        return cls(root, tuple(files), frozenset(files))

    def has(self, path: str) -> bool:
        return path in self.names

    def read(self, path: str) -> str:
        """The text of `path` in the worktree, or "" when it does not exist."""
        return read_inside(self.root, path) or ""

    def top(self, predicate: Callable[[str], bool]) -> list[str]:
        """Files at the top level whose name satisfies `predicate`."""
        return [f for f in self.files if "/" not in f and predicate(f)]

    def folders_of(self, predicate: Callable[[str], bool]) -> Counter[str]:
        """How many files satisfying `predicate` each folder holds ("" is the top level)."""
        return Counter(posixpath.dirname(f) for f in self.files if predicate(f))


def _walk(root: Path) -> list[str]:
    found: list[str] = []
    for here, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
        rel = os.path.relpath(here, root)
        found.extend(f if rel == "." else f"{rel}/{f}".replace(os.sep, "/") for f in files)
    return sorted(found)


def nearest_folder(folders: Counter[str], source_file: str | None) -> str | None:
    """Of `folders`, the one sharing the most leading parts with the source file's folder; ties
    go to the folder holding the most files, then the shortest path. None if there are none."""
    if not folders:
        return None
    source_parts = posixpath.dirname(source_file or "").split("/")

    def rank(folder: str) -> tuple[int, int, int]:
        parts = folder.split("/") if folder else []
        shared = 0
        while shared < len(parts) and shared < len(source_parts):
            if parts[shared] != source_parts[shared]:
                break
            shared += 1
        return (shared, folders[folder], -len(folder))

    return max(sorted(folders), key=rank)


def relative_import(from_file: str, to_file: str) -> str:
    """The relative path from the folder of `from_file` to `to_file`, starting with ./ or ../."""
    rel = posixpath.relpath(to_file, posixpath.dirname(from_file) or ".")
    return rel if rel.startswith("../") else f"./{rel}"
