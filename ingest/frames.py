"""Frames read back from a report's stack lines, for grouping by stack.

Reports carry their stack as text, in the form of the language that raised it: Python
tracebacks, V8 and Firefox/Safari JavaScript, Dart and Java/Kotlin traces (a Sentry event's
frames are rendered as Python-style lines by ingest.sentry.event, so they read back here too).
A frame is kept as its normalised file and its function: no line numbers, no absolute prefix,
no content hash in a bundle's name, so the same code keeps the same frames across builds,
machines and edits above it. Library and runtime frames are not the application's.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Frame(NamedTuple):
    file: str
    function: str


_FORMS = (
    re.compile(r'^\s*File "(?P<file>[^"]+)", line \S+, in (?P<function>.+)$'),  # Python
    re.compile(r"^\s*at (?:async )?(?P<function>\S+) \((?P<file>.+?)(?::\d+){1,2}\)$"),  # V8
    re.compile(r"^\s*at (?:async )?(?P<file>\S+?)(?::\d+){1,2}$"),  # V8, anonymous
    re.compile(r"^\s*(?P<function>[^@\s]*)@(?P<file>\S+?)(?::\d+){1,2}$"),  # Firefox, Safari
    re.compile(r"^#\d+\s+(?P<function>.+?) \((?P<file>.+?)(?::\d+){0,2}\)$"),  # Dart
    re.compile(r"^\s*at (?P<function>[\w$.<>/]+)\((?P<file>[^:()]+)(?::\d+)?\)$"),  # Java
)
#: Where library and runtime code lives: frames from there are not the application's.
_NOT_APP = re.compile(
    r"(site-packages|dist-packages|/lib/python\d|<frozen |node_modules|^node:|^internal/"
    r"|^dart:|^package:flutter/|^java\.|^javax\.|^kotlin\.|^sun\.|^jdk\.)"
)
_URL_PREFIX = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]*")
_HASH = re.compile(r"[.-][0-9a-f]{6,}(?=\.)|\?.*$", re.IGNORECASE)


def app_frames(stack: list[str]) -> list[Frame]:
    """The application's frames of `stack`, normalised; every frame when none is the
    application's (a crash inside a library still groups by where it happened)."""
    frames = [frame for line in stack if (frame := _frame(line)) is not None]
    mine = [f for f in frames if not (_NOT_APP.search(f.file) or _NOT_APP.search(f.function))]
    return [Frame(normalised(frame.file), frame.function) for frame in mine or frames]


def _frame(line: str) -> Frame | None:
    for form in _FORMS:
        found = form.match(line)
        if found:
            return Frame(found["file"], (found.groupdict().get("function") or "").strip())
    return None


def normalised(file: str) -> str:
    """The file's name and its folder's, without a content hash: `/srv/app/shop/views.py`
    and `C:\\build\\shop\\views.py` -> `shop/views.py`,
    `https://cdn.example.com/static/js/main.3f2a1c.js?v=2` -> `js/main.js`."""
    path = _URL_PREFIX.sub("", file).replace("\\", "/")
    return _HASH.sub("", "/".join(path.split("/")[-2:]))
