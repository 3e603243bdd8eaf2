"""SEARCH/REPLACE edit blocks: parse them from a model reply and apply them to a repository.

A block is a line naming the file, then::

    <<<<<<< SEARCH
    exact old lines
    =======
    new lines
    >>>>>>> REPLACE

An empty SEARCH creates a file. Matching is exact first, then tolerant of trailing whitespace and
of indentation drift (the replacement is re-indented by the same amount). Paths that resolve
outside the repository, or into `.git`, are refused. All blocks are checked before any file is
written, so a reply applies completely or not at all.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from agent.errors import EditError, EditOutsideRepo
from agent.paths import inside

_SEARCH = re.compile(r"^\s*<{5,9} ?SEARCH\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9} ?REPLACE\s*$")
_WORD = re.compile(r"\w+")
_FENCE = re.compile(r"^\s*(```|~~~)")
_PATH_DECOR = re.compile(r"^(?:#+\s*)?(?:file(?:name)?\s*:\s*)?", re.IGNORECASE)


@dataclass(frozen=True)
class EditBlock:
    path: str
    search: str
    replace: str


@dataclass(frozen=True)
class AppliedEdit:
    path: str
    created: bool


def parse_blocks(reply: str) -> list[EditBlock]:
    """All SEARCH/REPLACE blocks of `reply`; text around them is ignored.

    Raises EditError for a reply without blocks or with a block that is cut short.
    """
    lines = reply.splitlines()
    blocks: list[EditBlock] = []
    i = 0
    while i < len(lines):
        if not _SEARCH.match(lines[i]):
            i += 1
            continue
        path = _path_before(lines, i)
        search, i = _collect(lines, i + 1, _DIVIDER, path, "=======")
        replace, i = _collect(lines, i + 1, _REPLACE, path, ">>>>>>> REPLACE")
        blocks.append(EditBlock(path, search, replace))
        i += 1
    if not blocks:
        raise EditError("edit not applicable: the reply contains no SEARCH/REPLACE block")
    return blocks


def _path_before(lines: list[str], index: int) -> str:
    for j in range(index - 1, -1, -1):
        text = lines[j].strip()
        if not text or _FENCE.match(text):
            continue
        if _REPLACE.match(text) or _DIVIDER.match(text):
            break
        path = _PATH_DECOR.sub("", text).strip().strip("`*'\"").rstrip(":").strip()
        if path:
            return path
        break
    raise EditError(f"edit not applicable: SEARCH block at line {index + 1} has no file path line")


def _collect(
    lines: list[str], start: int, end: re.Pattern[str], path: str, marker: str
) -> tuple[str, int]:
    body: list[str] = []
    for j in range(start, len(lines)):
        if end.match(lines[j]):
            return "".join(line + "\n" for line in body), j
        if _SEARCH.match(lines[j]) or (end is _REPLACE and _DIVIDER.match(lines[j])):
            break
        body.append(lines[j])
    raise EditError(f"edit not applicable: malformed block for {path}: missing `{marker}`")


def safe_path(root: Path, relative: str) -> Path:
    """`relative` inside `root` (symlinks resolved), or EditOutsideRepo."""
    target = inside(root, relative)
    if target is None or target == root.resolve():
        raise EditOutsideRepo(f"edit outside the repository refused: {relative}")
    if ".git" in target.relative_to(root.resolve()).parts:
        raise EditOutsideRepo(f"edit inside .git refused: {relative}")
    return target


def apply_blocks(
    root: Path, blocks: Iterable[EditBlock], protected: Collection[str] = ()
) -> list[AppliedEdit]:
    """Apply every block or none; return the files changed, as repository paths."""
    pending: dict[Path, str] = {}
    created: set[Path] = set()
    for block in blocks:
        target = safe_path(root, block.path)
        rel = target.relative_to(root.resolve()).as_posix()
        if rel in protected:
            raise EditError(
                f"edit not applicable: {rel} is the reproduction test and may not change"
            )
        if target in pending:
            current: str | None = pending[target]
        else:
            current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current is None or (not block.search.strip() and not current.strip()):
            if block.search.strip():
                raise EditError(f"edit not applicable: {rel} does not exist")
            created.add(target)
            pending[target] = block.replace
            continue
        if not block.search.strip():
            raise EditError(
                f"edit not applicable: {rel} already exists; quote the lines to change in SEARCH"
            )
        pending[target] = replace_once(current, block.search, block.replace, rel)
    for target, text in pending.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    base = root.resolve()
    return [AppliedEdit(t.relative_to(base).as_posix(), t in created) for t in pending]


def replace_once(content: str, search: str, replace: str, path: str = "") -> str:
    """Replace the first match of `search` in `content`: exact, then whitespace-tolerant."""
    at = _aligned_find(content, search)
    if at is not None:
        return content[:at] + replace + content[at + len(search) :]
    lines = content.splitlines(keepends=True)
    want = search.splitlines()
    while want and not want[0].strip():
        want.pop(0)
    while want and not want[-1].strip():
        want.pop()
    start = _tolerant_find(lines, want)
    if start is None:
        raise EditError(_no_match_message(lines, want, path))
    shift = _indent_shift(want, lines[start : start + len(want)])
    new = [_reindent(line, shift) for line in replace.splitlines(keepends=True)]
    return "".join(lines[:start] + new + lines[start + len(want) :])


def _aligned_find(content: str, search: str) -> int | None:
    """Index of the first exact match of `search` that starts at the beginning of a line."""
    at = content.find(search)
    while at != -1:
        if at == 0 or content[at - 1] == "\n":
            return at
        at = content.find(search, at + 1)
    return None


def _tolerant_find(lines: list[str], want: list[str]) -> int | None:
    if not want:
        return None
    for normal in (str.rstrip, str.strip, _squash):
        target = [normal(w) for w in want]
        for i in range(len(lines) - len(want) + 1):
            if [normal(x) for x in lines[i : i + len(want)]] == target:
                return i
    return None


def _squash(line: str) -> str:
    return " ".join(line.split())


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _indent_shift(want: list[str], found: list[str]) -> tuple[str, str]:
    """(indent to remove, indent to add) turning the SEARCH indentation into the file's."""
    for w, f in zip(want, found, strict=True):
        if w.strip():
            wi, fi = _indent(w), _indent(f.rstrip("\n"))
            if fi.endswith(wi):
                return "", fi[: len(fi) - len(wi)]
            if wi.endswith(fi):
                return wi[: len(wi) - len(fi)], ""
            return wi, fi
    return "", ""


def _reindent(line: str, shift: tuple[str, str]) -> str:
    remove, add = shift
    if not line.strip():
        return line
    if remove and line.startswith(remove):
        line = line[len(remove) :]
    return add + line


def _no_match_message(lines: list[str], want: list[str], path: str) -> str:
    head = f"edit not applicable: SEARCH block did not match {path}"
    if not want or not lines:
        return head
    size = len(want)
    target = "\n".join(w.strip() for w in want)
    words = set(_WORD.findall(target))
    best, best_at = -1.0, 0
    for i in range(max(1, len(lines) - size + 1)):
        window = "\n".join(x.strip() for x in lines[i : i + size])
        # Shared identifiers first (robust to renames nearby), then character similarity.
        found = set(_WORD.findall(window))
        shared = len(words & found) / max(1, len(words | found))
        score = shared + 0.5 * difflib.SequenceMatcher(None, target, window).ratio()
        if score > best:
            best, best_at = score, i
    closest = "".join(lines[best_at : best_at + size]).rstrip("\n")
    return f"{head}; closest lines {best_at + 1}-{best_at + size}:\n{closest}"
