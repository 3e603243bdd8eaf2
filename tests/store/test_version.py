"""Release order (store/version.py): sort keys whose byte order is SemVer's or PEP 440's order."""

from __future__ import annotations

import random

import pytest
from packaging.version import Version

from store.version import is_older, newest, pep440_key, semver_key, version_keys

#: semver.org's own example of precedence, lowest first.
SEMVER_ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.10.0",
    "2.0.0",
]


def test_semver_precedence() -> None:
    for lower, higher in zip(SEMVER_ORDER, SEMVER_ORDER[1:], strict=False):
        assert is_older(lower, higher), (lower, higher)
        assert not is_older(higher, lower), (lower, higher)
    assert semver_key("1.0.0+build.1") == semver_key("1.0.0+other") == semver_key("1.0.0")
    assert semver_key("1.0") is None and semver_key("01.0.0") is None


def _random_pep440(rnd: random.Random) -> str:
    text = ".".join(str(rnd.choice([0, 1, 2, 10, 11])) for _ in range(rnd.randint(1, 4)))
    if rnd.random() < 0.1:
        text = f"{rnd.randint(0, 2)}!{text}"
    if rnd.random() < 0.3:
        text += rnd.choice(["a", "b", "rc"]) + str(rnd.randint(0, 12))
    if rnd.random() < 0.3:
        text += f".post{rnd.randint(0, 12)}"
    if rnd.random() < 0.3:
        text += f".dev{rnd.randint(0, 12)}"
    if rnd.random() < 0.2:
        text += "+" + rnd.choice(["a", "b1", "1", "2.x", "abc.3", "ubuntu-1"])
    return text


def test_pep440_keys_order_as_packaging_does() -> None:
    rnd = random.Random(440)
    for _ in range(3000):
        a, b = _random_pep440(rnd), _random_pep440(rnd)
        key_a, key_b = pep440_key(a), pep440_key(b)
        assert key_a is not None and key_b is not None
        assert (key_a < key_b, key_a == key_b) == (
            Version(a) < Version(b),
            Version(a) == Version(b),
        )


@pytest.mark.parametrize(
    ("version", "than", "older"),
    [
        ("1.2", "1.3.0", True),  # PEP 440 where one of them is not SemVer
        ("1.3", "1.3.0", False),  # equal releases
        ("1.0.0-1", "1.0.0", True),  # both SemVer: a pre-release (PEP 440 would say post)
        ("v1.2.0", "1.3.0", True),
        ("shop@1.2.0", "1.3.0", True),  # a Sentry release compares by its version
        ("nightly", "1.3.0", False),  # does not compare: never older
        ("1.2.0", "nightly", False),
        (None, "1.3.0", False),
        ("1.2.0", None, False),
        ("1.0.0-alpha.beta", "1.0", False),  # SemVer only against PEP 440 only
        ("1." + "9" * 120 + ".0", "2.0.0", False),  # numbers too long for a key
    ],
)
def test_versions_compare_where_both_parse(
    version: str | None, than: str | None, older: bool
) -> None:
    assert is_older(version, than) is older


def test_keys_are_plain_ascii() -> None:
    keys = version_keys("1!2.0rc1.post3.dev4+local.7")
    assert keys.semver is None and keys.pep440 is not None and keys.pep440.isascii()
    assert version_keys("") == version_keys(None) == version_keys("not a version")


@pytest.mark.parametrize(
    ("current", "seen", "expected"),
    [
        (None, "1.0.0", "1.0.0"),
        ("1.0.0", None, "1.0.0"),
        ("1.10.0", "1.9.0", "1.10.0"),
        ("1.9.0", "1.10.0", "1.10.0"),
        ("1.0.0", "nightly", "1.0.0"),  # a version that compares wins over one that does not
        ("nightly", "1.0.0", "1.0.0"),
        ("nightly", "abc123", "abc123"),  # neither compares: the last seen
    ],
)
def test_newest(current: str | None, seen: str | None, expected: str | None) -> None:
    assert newest(current, seen) == expected
