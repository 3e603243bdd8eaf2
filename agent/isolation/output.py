"""A bounded output buffer: a command printing a gigabyte costs the worker a few megabytes.

The head and the tail are what a reader of test output needs (collection errors come first, the
summary last), so those are kept and the middle is counted and dropped. Memory stays within the
limit plus one read chunk whatever the command prints.
"""

from __future__ import annotations

import re
from collections import deque

#: Terminal control sequences (colours, cursor moves): test runners colour their output when they
#: think a terminal or a CI service is watching, and a colour code glued to `TypeError` hides the
#: word from the agent's error matching and from the LLM.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def plain_text(data: bytes) -> str:
    """`data` decoded (bad bytes replaced) without terminal control sequences."""
    return _ESCAPES.sub("", data.decode("utf-8", errors="replace"))


#: Share of the limit kept from the start; the rest is kept from the end.
HEAD_SHARE = 0.25


class BoundedOutput:
    """Collects bytes, keeping the first `head` and the last `tail` of at most `limit` in all."""

    def __init__(self, limit: int) -> None:
        self.head_limit = int(limit * HEAD_SHARE)
        self.tail_limit = max(0, limit - self.head_limit)
        self.head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data or self.tail_limit == 0:
            return
        self._tail.append(data)
        self._tail_size += len(data)
        # Whole chunks leave the front while the rest still fills the tail; `text()` trims the
        # first remaining chunk, so no chunk is ever copied to drop a few bytes.
        while self._tail_size - len(self._tail[0]) >= self.tail_limit:
            self._tail_size -= len(self._tail.popleft())

    def tail(self) -> bytes:
        data = b"".join(self._tail)
        return data[len(data) - self.tail_limit :] if len(data) > self.tail_limit else data

    @property
    def kept(self) -> int:
        return len(self.head) + min(self._tail_size, self.tail_limit)

    @property
    def dropped(self) -> int:
        return self.total - self.kept

    def text(self) -> str:
        """Head and tail decoded, with a marker where the middle was dropped."""
        head = plain_text(bytes(self.head))
        tail = plain_text(self.tail())
        if not self.dropped:
            return head + tail
        return f"{head}\n… {self.dropped} bytes dropped …\n{tail}"
