"""Errors raised by every store backend."""

from __future__ import annotations


class StoreError(Exception):
    """Base class for store failures callers may handle."""


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    """An optimistic-concurrency check failed: the record changed since it was read."""


class QueryError(StoreError, ValueError):
    """A search query is malformed or names an unknown field. The message names the problem."""


class Unavailable(StoreError):
    """The backend cannot be reached right now; the operation may be retried."""
