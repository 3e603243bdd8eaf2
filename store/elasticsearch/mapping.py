"""Elasticsearch index layout: names, versioned templates and document <-> model conversion.

Events use ECS names (`@timestamp`, `error.*`, `log.level`, `service.*`) so Kibana reads them.
Log Center's own search matches `tokens.*` companion fields holding store.text.index_text()
token strings, analysed with the built-in `whitespace` analyzer only (never re-analysed), so it
answers as the SQLite store does. The texts themselves are analysed too, with the standard
analyzer (the only one every node has), and both kinds of record carry the other naming as
field aliases: a Kibana user's `error.message:timeout` and `message:timeout` both work.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from store.lucene import FULLTEXT_FIELDS
from store.models import Bug, BugCreate, Event, Project, RepairReport, SavedSearch, SavedSearchIn
from store.text import index_text

#: Bump when a mapping or setting changes; templates with a lower version are replaced at init.
#: 3: projects gain `toolchain`, and `auto_repair` takes three states (see upgrade.py).
#: 4: bug and event texts searchable from Kibana, under ECS and Log Center names alike.
#: 5: projects gain `repo_url_warning`.
#: 6: saved searches get an index.
#: 7: projects gain `public_key`, their Sentry DSN's key (see upgrade.py), and `grouping`.
#: 8: projects gain `language` (alert messages); alert channels, rules and deliveries.
#: 9: projects gain `retention_days` (store.retention).
#: 10: bugs gain `newest_version` and `fixed_version` (release-aware regressions).
#: 11: merged bugs leave aliases (`<prefix>bug-aliases`: merged fingerprint -> target bug).
TEMPLATE_VERSION = 11

#: The template version that last changed the bugs / events layout in a way put_mapping cannot
#: apply to an existing index (a stored-only text made searchable): indices made before it are
#: copied into a new generation (store.elasticsearch.generation).
BUGS_GENERATION = 4
EVENTS_GENERATION = 4

#: Model field -> event document path (ECS where ECS has a name for it).
EVENT_PATHS: dict[str, str] = {
    "timestamp": "@timestamp",
    "error_type": "error.type",
    "message": "error.message",
    "stack_trace": "error.stack_trace",
    "level": "log.level",
    "project_id": "service.name",
    "environment": "service.environment",
    "version": "service.version",
}

#: Fields whose token strings are indexed under `tokens.<field>` for phrase matching.
BUG_TOKEN_FIELDS = ("message", "error_type", "file_path", "stack_trace", "failure_reason")
EVENT_TOKEN_FIELDS = ("message", "error_type", "file_path", "stack_trace")

_KEYWORD = {"type": "keyword", "ignore_above": 4096}  # longer values: kept, not indexed
_LONG = {"type": "long"}
_DATE = {"type": "date_nanos"}
_STORED_TEXT = {"type": "text", "index": False}
#: Text as Kibana users search it. The standard analyzer keeps `views.py` one token and makes
#: each Han character one, as store.text does; no norms, as nothing is ranked by length.
_TEXT = {"type": "text", "norms": False}
_TOKENS = {"type": "text", "analyzer": "whitespace", "norms": False}
_OPAQUE = {"type": "object", "enabled": False}


def _tokens(fields: tuple[str, ...]) -> dict[str, Any]:
    return {"properties": {name: _TOKENS for name in fields}}


def _aliases(paths: dict[str, str]) -> dict[str, Any]:
    """Mapping properties making each name in `paths` (dotted: an object) an alias of its path."""
    out: dict[str, Any] = {}
    for name, path in paths.items():
        head, _, tail = name.partition(".")
        alias = {"type": "alias", "path": path}
        if tail:
            out.setdefault(head, {"properties": {}})["properties"][tail] = alias
        else:
            out[head] = alias
    return out


def default_fields(paths: dict[str, str]) -> list[str]:
    """What a query without a field name searches in Kibana: the fields our bare words search,
    analysed and as tokens (so `ValueError` and `views` both match as they do in Log Center)."""
    return [paths.get(f, f) for f in FULLTEXT_FIELDS] + [f"tokens.{f}" for f in FULLTEXT_FIELDS]


BUG_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {"logcenter_version": TEMPLATE_VERSION},
    "properties": {
        "id": _LONG,
        **{
            k: _KEYWORD
            for k in (
                "fingerprint",
                "project_id",
                "source",
                "environment",
                "level",
                "error_type",
                "file_path",
                "version",
                "commit_hash",
                "status",
                "newest_version",
                "fixed_version",
            )
        },
        "message": _TEXT,
        "failure_reason": _TEXT,
        "stack_trace": _TEXT,
        "line_number": _LONG,
        "context": _OPAQUE,
        "status_history": _OPAQUE,
        **{k: _LONG for k in ("count", "count_base", "regression_count", "revision")},
        # Bumped by every recount of the bug's events (store.elasticsearch.counts); never searched.
        "count_epoch": {"type": "long", "index": False, "doc_values": False},
        **{
            k: _DATE
            for k in ("first_seen", "last_seen", "created_at", "updated_at", "purged_before")
        },
        "tokens": _tokens(BUG_TOKEN_FIELDS),
        # ECS names as Kibana users type them (no @timestamp: a bug has several times).
        **_aliases({ecs: name for name, ecs in EVENT_PATHS.items() if name != "timestamp"}),
    },
}

EVENT_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {"logcenter_version": TEMPLATE_VERSION},
    "properties": {
        "@timestamp": _DATE,
        "event": {"properties": {"id": _KEYWORD}},
        "error": {"properties": {"type": _KEYWORD, "message": _TEXT, "stack_trace": _TEXT}},
        "log": {"properties": {"level": _KEYWORD}},
        "service": {"properties": {"name": _KEYWORD, "environment": _KEYWORD, "version": _KEYWORD}},
        "bug_id": _LONG,
        **{k: _KEYWORD for k in ("fingerprint", "source", "commit_hash", "file_path")},
        "line_number": _LONG,
        "context": _OPAQUE,
        "tokens": _tokens(EVENT_TOKEN_FIELDS),
        # Log Center's names, so one query works in Kibana and in Log Center.
        **_aliases(EVENT_PATHS),
    },
}

PROJECT_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {"logcenter_version": TEMPLATE_VERSION},
    "properties": {
        "id": _LONG,
        **{
            k: _KEYWORD
            for k in (
                "project_id",
                "name",
                "repo_url",
                "local_path",
                "default_branch",
                "ingest_key",
                "public_key",
                "language",
                "grouping",
            )
        },
        "description": _STORED_TEXT,
        "test_command": _STORED_TEXT,
        # null (absent) follows LOGCENTER_AUTO_REPAIR; true or false overrides it.
        "auto_repair": {"type": "boolean"},
        # null (absent) follows LOGCENTER_RETENTION_DAYS.
        "retention_days": {"type": "integer"},
        # What a repair worker last detected; read back whole, never searched.
        "toolchain": _OPAQUE,
        "repo_url_warning": _STORED_TEXT,
        "created_at": _DATE,
        "updated_at": _DATE,
    },
}

REPAIR_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {"logcenter_version": TEMPLATE_VERSION},
    "properties": {
        **{k: _LONG for k in ("id", "bug_id", "round", "tokens")},
        **{k: _KEYWORD for k in ("project_id", "model", "branch", "commit", "phase")},
        **{
            k: _STORED_TEXT
            for k in ("analysis", "diff", "test_command", "test_output", "failure_reason")
        },
        "changed_files": _KEYWORD,
        "passed": {"type": "boolean"},
        "cost": {"type": "double"},
        "duration": {"type": "double"},
        "created_at": _DATE,
    },
}

SEARCH_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {"logcenter_version": TEMPLATE_VERSION},
    "properties": {
        "id": _LONG,
        "name": _KEYWORD,
        "created_at": _DATE,
        "updated_at": _DATE,
        # The search itself: read back whole, never searched.
        "body": _OPAQUE,
    },
}

META_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {"logcenter_version": TEMPLATE_VERSION},
    "properties": {"value": _LONG},
}


#: A merged bug's fingerprint (the document _id) -> the bug it was merged into
#: (store.models.BugAlias).
ALIAS_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {"logcenter_version": TEMPLATE_VERSION},
    "properties": {
        "fingerprint": _KEYWORD,
        "bug_id": _LONG,
        "merged_id": _LONG,
        "merged_at": _DATE,
    },
}


#: Alert channels, rules and deliveries: few documents, read whole by id; only what is sorted or
#: filtered on is indexed, the rest is kept in _source as the model wrote it.
ALERT_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "_meta": {"logcenter_version": TEMPLATE_VERSION},
    "properties": {"id": _LONG, "channel_id": _LONG, "created_at": _DATE},
}


class IndexNames:
    """Every index name under one prefix, so several installs can share a cluster.

    Bugs live in a versioned index (`<prefix>bugs_v4`) read and written through the alias
    `<prefix>bugs`. A day of events is `<prefix>events-<day>`: the index written that day, or,
    once rewritten into a new generation, an alias of `<prefix>events_v<n>-<day>`. Generations
    being written match no read name, so `<prefix>events-*` always holds one per day.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.bugs = f"{prefix}bugs"
        self.bugs_generation = f"{prefix}bugs_v{BUGS_GENERATION}"
        self.projects = f"{prefix}projects"
        self.repairs = f"{prefix}repairs"
        self.searches = f"{prefix}searches"
        self.meta = f"{prefix}meta"
        self.bug_aliases = f"{prefix}bug-aliases"
        self.alert_channels = f"{prefix}alert-channels"
        self.alert_rules = f"{prefix}alert-rules"
        self.alert_deliveries = f"{prefix}alert-deliveries"
        self.events_pattern = f"{prefix}events-*"
        self.events_generations = f"{prefix}events_v*"

    def events_for(self, when: datetime) -> str:
        """The daily events index (or alias) holding occurrences of `when`'s UTC day."""
        return f"{self.prefix}events-{when.astimezone(UTC):%Y.%m.%d}"

    def events_generation(self, day: datetime) -> str:
        """The current generation's index of `day`'s events, where a rewrite puts them."""
        return f"{self.prefix}events_v{EVENTS_GENERATION}-{day.astimezone(UTC):%Y.%m.%d}"

    def day_of(self, index: str) -> datetime | None:
        """The UTC day of a daily events index name, of any generation (None for others)."""
        found = re.fullmatch(rf"{re.escape(self.prefix)}events(?:_v\d+)?-(.+)", index)
        try:
            return datetime.strptime(found[1], "%Y.%m.%d").replace(tzinfo=UTC) if found else None
        except ValueError:
            return None

    def templates(self, shards: int, replicas: int) -> dict[str, dict[str, Any]]:
        """Template name -> body of every index template this store owns."""
        settings = {"number_of_shards": shards, "number_of_replicas": replicas}
        searched = {"index.query.default_field": default_fields({})}
        layout = {
            self.bugs: ([f"{self.bugs}_v*"], BUG_MAPPING, searched),
            self.projects: ([self.projects], PROJECT_MAPPING, {}),
            self.repairs: ([self.repairs], REPAIR_MAPPING, {}),
            self.searches: ([self.searches], SEARCH_MAPPING, {}),
            self.meta: ([self.meta], META_MAPPING, {}),
            self.bug_aliases: ([self.bug_aliases], ALIAS_MAPPING, {}),
            **{name: ([name], ALERT_MAPPING, {}) for name in self.alerts},
            f"{self.prefix}events": (
                [self.events_pattern, self.events_generations],
                EVENT_MAPPING,
                {"index.query.default_field": default_fields(EVENT_PATHS)},
            ),
        }
        return {
            name: {
                "index_patterns": patterns,
                # Above the built-in templates (priority 100..) so ours always apply.
                "priority": 500,
                "version": TEMPLATE_VERSION,
                "template": {"settings": {**settings, **extra}, "mappings": mapping},
                "_meta": {"owner": "logcenter"},
            }
            for name, (patterns, mapping, extra) in layout.items()
        }

    @property
    def fixed(self) -> tuple[str, ...]:
        """The indices created as they are named (bugs have a generation: see `bugs`)."""
        return (
            self.projects,
            self.repairs,
            self.searches,
            self.meta,
            self.bug_aliases,
            *self.alerts,
        )

    @property
    def alerts(self) -> tuple[str, ...]:
        return (self.alert_channels, self.alert_rules, self.alert_deliveries)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _token_fields(values: dict[str, Any], fields: tuple[str, ...]) -> dict[str, str]:
    # Empty token strings are left out so `exists` means "has some text".
    out = {name: index_text(values.get(name)) for name in fields}
    return {name: text for name, text in out.items() if text}


def bug_doc(
    bug: Bug, *, count_base: int, purged_before: datetime | None, count_epoch: int = 0
) -> dict[str, Any]:
    doc = bug.model_dump(mode="json", by_alias=True)
    doc["count_base"] = count_base
    doc["count_epoch"] = count_epoch
    if purged_before is not None:
        doc["purged_before"] = _iso(purged_before)
    doc["tokens"] = _token_fields(doc, BUG_TOKEN_FIELDS)
    return doc


def new_bug(create: BugCreate, now: datetime) -> Bug:
    return Bug(
        **create.model_dump(),
        last_seen=create.first_seen,
        created_at=now,
        updated_at=now,
        revision=1,
    )


def bug_from_doc(source: dict[str, Any]) -> Bug:
    return Bug.model_validate(source)


def event_doc(event: Event) -> dict[str, Any]:
    data = event.model_dump(mode="json")
    doc: dict[str, Any] = {"event": {"id": data.pop("id")}}
    for field, value in data.items():
        if value is None or value == [] or value == {}:
            continue
        path = EVENT_PATHS.get(field, field)
        head, _, tail = path.partition(".")
        if tail:
            doc.setdefault(head, {})[tail] = value
        else:
            doc[head] = value
    doc["tokens"] = _token_fields(event.model_dump(), EVENT_TOKEN_FIELDS)
    return doc


def event_from_doc(source: dict[str, Any]) -> Event:
    data: dict[str, Any] = {"id": source["event"]["id"]}
    for field in Event.model_fields:
        path = EVENT_PATHS.get(field, field)
        head, _, tail = path.partition(".")
        value = source.get(head)
        if tail:
            value = value.get(tail) if isinstance(value, dict) else None
        if value is not None and field != "id":
            data[field] = value
    return Event.model_validate(data)


def project_from_doc(source: dict[str, Any]) -> Project:
    return Project.model_validate(source)


def repair_from_doc(source: dict[str, Any]) -> RepairReport:
    return RepairReport.model_validate(source)


def search_doc(search: SavedSearch) -> dict[str, Any]:
    """A saved search's document: what is sorted on beside the search itself (`body`)."""
    return {
        "id": search.id,
        "name": search.name,
        "created_at": search.created_at.isoformat(),
        "updated_at": search.updated_at.isoformat(),
        "body": search.model_dump(mode="json", include=set(SavedSearchIn.model_fields)),
    }


def search_from_doc(doc: dict[str, Any]) -> SavedSearch:
    return SavedSearch.model_validate(
        {
            **doc["body"],
            "id": doc["id"],
            "created_at": doc["created_at"],
            "updated_at": doc["updated_at"],
        }
    )
