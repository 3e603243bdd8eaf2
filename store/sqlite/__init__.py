"""The embedded backend: one SQLite file (WAL, FTS5), no server to run."""

from store.sqlite.store import SQLiteStore, path_from_url

__all__ = ["SQLiteStore", "path_from_url"]
