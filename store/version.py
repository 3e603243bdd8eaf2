"""Release order: whether an occurrence's version is older than the one its bug was fixed in.

A version is read as SemVer 2.0.0 and as PEP 440, each where it parses. Two versions compare by
SemVer when both parse as SemVer, else by PEP 440 when both parse as PEP 440; otherwise they do
not compare at all (and an occurrence then reopens its bug as it always did). A Sentry-style
release `package@version` compares by its version.

Each reading is turned into a sort key: a plain ASCII string whose byte order is the version
order, so the Redis gate (ingest/gate.lua) compares keys without knowing any version scheme,
and Python compares the same keys the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from packaging.version import InvalidVersion, Version

_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
    r"(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
_PRE_LETTERS = {"a": "0", "b": "1", "rc": "2"}
#: Ends a text part of a key: below every character a version's text may hold.
_END_TEXT = "!"


class _TooLong(ValueError):
    """A number of more than 99 digits: no key (the version compares with nothing)."""


@dataclass(frozen=True, slots=True)
class VersionKeys:
    """A version's sort keys; None where it does not parse that way."""

    semver: str | None = None
    pep440: str | None = None


def _number(n: int) -> str:
    """`n` as a key part: its digit count (two digits), then its digits."""
    digits = str(n)
    if len(digits) > 99:
        raise _TooLong(digits)
    return f"{len(digits):02d}{digits}"


def _text(text: str) -> str:
    return text + _END_TEXT


def semver_key(version: str) -> str | None:
    """The SemVer 2.0.0 precedence of `version` as a key (build metadata plays no part)."""
    found = _SEMVER.fullmatch(version)
    if found is None:
        return None
    major, minor, patch, pre = found.groups()
    key = "".join(_number(int(n)) for n in (major, minor, patch))
    if pre is None:
        return key + "9"  # a release sorts after all of its pre-releases
    # Numeric identifiers sort below alphanumeric ones; more identifiers sort after fewer.
    parts = ("1" + _number(int(p)) if p.isdigit() else "2" + _text(p) for p in pre.split("."))
    return key + "1" + "".join(parts) + "0"


def pep440_key(version: str) -> str | None:
    """The PEP 440 order of `version` as a key (as packaging.version orders it)."""
    try:
        v = Version(version)
    except InvalidVersion:
        return None
    release = list(v.release)
    while len(release) > 1 and release[-1] == 0:
        release.pop()  # 1.2 == 1.2.0
    key = [_number(v.epoch), *("1" + _number(n) for n in release), "0"]
    if v.pre is not None:
        key.append("1" + _PRE_LETTERS[v.pre[0]] + _number(v.pre[1]))
    else:  # a dev release of a final sorts before its pre-releases; a final after them
        key.append("0" if v.post is None and v.dev is not None else "2")
    key.append("0" if v.post is None else "1" + _number(v.post))
    key.append("1" if v.dev is None else "0" + _number(v.dev))
    if v.local is None:
        key.append("0")
    else:  # text parts sort below numbers, and more parts after fewer
        parts = re.split(r"[._-]", v.local)
        key += ["1", *("2" + _number(int(p)) if p.isdigit() else "1" + _text(p) for p in parts)]
        key.append("0")
    return "".join(key)


@lru_cache(maxsize=4096)
def version_keys(version: str | None) -> VersionKeys:
    """Both sort keys of a version (cached: a project reports few distinct versions)."""
    if not version:
        return VersionKeys()
    text = version.strip().rpartition("@")[2]
    try:
        return VersionKeys(semver_key(text), pep440_key(text))
    except _TooLong:
        return VersionKeys()


def is_older(version: str | None, than: str | None) -> bool:
    """`version` is a release before `than` (False when the two do not compare)."""
    a, b = version_keys(version), version_keys(than)
    if a.semver and b.semver:
        return a.semver < b.semver
    if a.pep440 and b.pep440:
        return a.pep440 < b.pep440
    return False


def newest(current: str | None, seen: str | None) -> str | None:
    """A bug's newest version once `seen` is seen after `current`: the later release where the
    two compare; otherwise a version that parses wins over one that does not, and between two
    that both parse (or both do not) the one seen last wins."""
    if seen is None or current is None:
        return current if seen is None else seen
    a, b = version_keys(current), version_keys(seen)
    if (a.semver and b.semver) or (a.pep440 and b.pep440):
        return seen if is_older(current, seen) else current
    if _parses(a) != _parses(b):
        return current if _parses(a) else seen
    return seen


def _parses(keys: VersionKeys) -> bool:
    return keys.semver is not None or keys.pep440 is not None
