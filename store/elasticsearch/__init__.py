"""The scale-out backend: daily event indices and one bugs index on an Elasticsearch cluster."""

from store.elasticsearch.store import ElasticsearchStore

__all__ = ["ElasticsearchStore"]
