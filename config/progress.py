"""How `logcenter migrate` shows its progress per kind: records copied of the total, the rate
and the time left.

On a terminal, a tqdm bar that redraws in place; elsewhere (a log, a pipe, CI) a plain line at
most every `every` seconds and one when the kind is done, since a redrawn bar would fill a log
with carriage returns.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Protocol, TextIO

#: Seconds between two plain lines of the same kind.
LINE_SECONDS = 10.0


class KindProgress(Protocol):
    """The progress of one kind being copied."""

    def update(self, copied: int) -> None:
        """`copied` records of the kind are copied now (in all, this run and earlier ones)."""

    def close(self) -> None:
        """The kind is done, or the run stops."""


#: (kind, total or None when unknown, records copied before this run) -> its progress.
Meter = Callable[[str, int | None, int], KindProgress]


def duration(seconds: float) -> str:
    """`1:02:03`, `2:03`: how tqdm writes a time, so both outputs read alike."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Lines:
    """Plain progress lines through `say`."""

    def __init__(
        self,
        kind: str,
        total: int | None,
        copied: int,
        say: Callable[[str], None],
        every: float = LINE_SECONDS,
    ) -> None:
        self.kind, self.total, self.say, self.every = kind, total, say, every
        self.first, self.copied = copied, copied
        self.started = self.shown = time.monotonic()

    def update(self, copied: int) -> None:
        self.copied = copied
        if time.monotonic() - self.shown >= self.every:
            self._line()

    def close(self) -> None:
        self._line()

    def _line(self) -> None:
        self.shown = time.monotonic()
        rate = (self.copied - self.first) / max(self.shown - self.started, 1e-6)
        if self.total is None:
            self.say(f"{self.kind}: {self.copied:,} copied ({rate:,.0f}/s)")
            return
        left = max(self.total - self.copied, 0)
        eta = duration(left / rate) if rate > 0 else "?"
        self.say(
            f"{self.kind}: {self.copied:,} copied of {self.total:,} ({rate:,.0f}/s, ETA {eta})"
        )


class Bar:
    """A tqdm bar on the terminal (records copied / total, rate, ETA)."""

    def __init__(self, kind: str, total: int | None, copied: int, stream: TextIO) -> None:
        from tqdm import tqdm  # only a terminal run needs it

        # tqdm hides a bar on a terminal that reports no size (some ptys): take 80 x 24.
        size = os.get_terminal_size(stream.fileno())
        sized = size.columns > 0 and size.lines > 0
        self.bar = tqdm(
            total=total, initial=copied, desc=kind, unit=" records", file=stream,
            dynamic_ncols=sized, ncols=None if sized else 80, nrows=None if sized else 24,
            mininterval=0.5,
        )  # fmt: skip

    def update(self, copied: int) -> None:
        self.bar.update(copied - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def plain(say: Callable[[str], None] = print) -> Meter:
    """Plain lines through `say`."""
    return lambda kind, total, copied: Lines(kind, total, copied, say)


def meter_for(stream: TextIO | None = None, say: Callable[[str], None] = print) -> Meter:
    """Bars when `stream` (stderr by default) is a terminal, plain lines through `say` else."""
    out = sys.stderr if stream is None else stream
    if out.isatty():
        return lambda kind, total, copied: Bar(kind, total, copied, out)
    return plain(say)
