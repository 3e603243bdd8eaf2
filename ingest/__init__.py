"""The HTTP API (report ingestion, projects, bugs) and the indexer that feeds the store."""
