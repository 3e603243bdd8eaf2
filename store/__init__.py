"""Storage behind one interface; `open_store(url)` picks the backend from the URL."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from store.errors import Conflict, NotFound, QueryError, StoreError, Unavailable

if TYPE_CHECKING:
    from store.base import Store

__all__ = ["Conflict", "NotFound", "QueryError", "StoreError", "Unavailable", "open_store"]

#: URL scheme -> (module, class, pip extra to install when the import fails).
_BACKENDS = {
    "sqlite": ("store.sqlite", "SQLiteStore", None),
    "http": ("store.elasticsearch", "ElasticsearchStore", "elasticsearch"),
    "https": ("store.elasticsearch", "ElasticsearchStore", "elasticsearch"),
    "elasticsearch": ("store.elasticsearch", "ElasticsearchStore", "elasticsearch"),
}


def open_store(url: str, **options: object) -> Store:
    """Open the store named by `url` (`sqlite:///path/to.db` or `http://host:9200`).

    Options are passed to the backend (e.g. `index_prefix` for Elasticsearch).
    """
    scheme = urlsplit(url).scheme
    if scheme not in _BACKENDS:
        known = ", ".join(sorted(_BACKENDS))
        raise ValueError(f"store URL {url!r}: unknown scheme {scheme!r} (use one of: {known})")
    module_name, class_name, extra = _BACKENDS[scheme]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f" (pip install {extra})" if extra else ""
        raise RuntimeError(f"store backend for {scheme!r} is not available: {exc}{hint}") from exc
    backend: Store = getattr(module, class_name)(url, **options)
    return backend
