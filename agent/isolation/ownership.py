"""Lending a worktree to the sandbox's uid for one run, and taking it back afterwards.

A root worker runs sandboxed code as a fresh unprivileged uid, which must write the worktree and
the writable caches. Chowning them to that uid for the run (and everything, including what the run
created, back to the worker after) keeps the grant exact: no group or ACL outlives the run,
and the worker owns every file again when it commits. Symlinks are never followed; set-id bits
are cleared on the way back. The sandbox is dead by then, so nothing changes under the walk.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def lent(roots: Sequence[Path], uid: int, gid: int, keep: Sequence[Path] = ()) -> Iterator[None]:
    """Own `roots` (recursively, except the paths in `keep`) as `uid:gid` inside the block,
    and as the worker after it. The worker, not the previous owner: a worker that died during a
    run left its tree to a uid that no longer means anything."""
    kept = {str(path) for path in keep}
    try:
        for root in roots:
            chown_tree(root, uid, gid, kept)
        yield
    finally:
        for root in roots:
            chown_tree(root, os.getuid(), os.getgid(), kept, clear_setid=True)


def chown_tree(root: Path, uid: int, gid: int, keep: set[str], clear_setid: bool = False) -> None:
    """`lchown` every entry under `root` (and `root`), skipping `keep` and what lies below."""
    pending = [str(root)]
    os.chown(root, uid, gid, follow_symlinks=False)
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.path in keep:
                    continue
                os.chown(entry.path, uid, gid, follow_symlinks=False)
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif clear_setid and entry.is_file(follow_symlinks=False):
                    _clear_setid(entry.path)


def _clear_setid(path: str) -> None:
    mode = os.lstat(path).st_mode
    if mode & (stat.S_ISUID | stat.S_ISGID):
        os.chmod(path, stat.S_IMODE(mode) & ~(stat.S_ISUID | stat.S_ISGID))
