"""Checks on values that reach git or the file system (repository addresses, paths)."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:[\w./~-]+$")
_URL = re.compile(r"^(https?|ssh|git|file)://[^\s]+$")


def _host(url: str) -> str:
    """The host part of a URL or of `user@host:path` ("" for a local path)."""
    if "://" in url:
        netloc = url.split("://", 1)[1].split("/", 1)[0]
        return netloc.rsplit("@", 1)[-1]
    if _SCP_LIKE.match(url):
        return url.split("@", 1)[1].split(":", 1)[0]
    return ""


def no_option(value: str, name: str) -> None:
    if value.startswith("-"):
        raise ValueError(f"{name} must not start with '-'")
    if any(ch in value for ch in "\x00\n\r"):
        raise ValueError(f"{name} must not contain control characters")


def check_repo_url(value: str) -> str:
    """A repository address git may be given safely; ValueError naming the problem otherwise."""
    no_option(value, "repo_url")
    if "::" in value:
        raise ValueError("repo_url: git transport syntax '<transport>::' is not allowed")
    if not (_URL.match(value) or _SCP_LIKE.match(value) or value.startswith("/")):
        raise ValueError(
            "repo_url must be an http(s)://, ssh://, git:// or file:// URL, "
            "user@host:path, or an absolute path"
        )
    if value.startswith("/") and ".." in PurePosixPath(value).parts:
        raise ValueError("repo_url must not contain '..'")
    if _host(value).startswith("-"):
        # ssh would read `ssh://-oProxyCommand=...` as an option and run the command.
        raise ValueError("repo_url: the host must not start with '-'")
    return value
