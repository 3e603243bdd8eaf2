"""Lucene strings -> the backend-neutral tree (the part both stores share)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from store.errors import QueryError
from store.lucene import (
    BUG_FIELDS,
    EVENT_FIELDS,
    And,
    Exists,
    MatchAll,
    Not,
    Or,
    Prefix,
    Range,
    Term,
    Text,
    parse,
)


def day(d: int, month: int = 3) -> datetime:
    return datetime(2026, month, d, tzinfo=UTC)


@pytest.mark.parametrize(
    ("q", "tree"),
    [
        ("", MatchAll()),
        ("*", MatchAll()),
        ("timeout", Text(None, ("timeout",))),
        ("time*", Text(None, ("time",), prefix=True)),
        ('message:"Connection Timed out"', Text("message", ("connection", "timed", "out"))),
        ("连接", Text(None, ("连", "接"))),
        ("error_type:ValueError", Term("error_type", "ValueError")),
        ("level:error", Term("level", "ERROR")),
        ("project_id:rtc_*", Prefix("project_id", "rtc_")),
        ("file_path:*", Exists("file_path")),
        ("line_number:[10 TO 20}", Range("line_number", 10, 20, True, False)),
        ("count:[5 TO *]", Range("count", 5, None, True, True)),
        ("first_seen:[2026-03-02 TO 2026-03-04]", Range("first_seen", day(2), day(5), True, False)),
        ("first_seen:{2026-03-02 TO 2026-03-04}", Range("first_seen", day(3), day(4), True, False)),
        ("last_seen:2026-03-02", Range("last_seen", day(2), day(3), True, False)),
        ("a b", And((Text(None, ("a",)), Text(None, ("b",))))),
        ("a OR -b", Or((Text(None, ("a",)), Not(Text(None, ("b",)))))),
        ("NOT status:FIXED", Not(Term("status", "FIXED"))),
        ("error.type:KeyError", Term("error_type", "KeyError")),
        ("service.name:web", Term("project_id", "web")),
    ],
)
def test_translation(q: str, tree: object) -> None:
    assert parse(q, BUG_FIELDS) == tree


def test_event_fields_and_ecs_timestamp() -> None:
    tree = parse("@timestamp:[2026-03-02 TO *] AND bug_id:7", EVENT_FIELDS)
    assert tree == And((Range("timestamp", day(2), None, True, True), Term("bug_id", 7)))
    with pytest.raises(QueryError, match="unknown field 'status'"):
        parse("status:NEW", EVENT_FIELDS)


@pytest.mark.parametrize(
    ("q", "problem"),
    [
        ('message:"unclosed', "syntax error"),
        ("nosuchfield:x", "unknown field 'nosuchfield'"),
        ("line_number:[a TO", "syntax error"),
        ("line_number:[a TO b]", "whole numbers"),
        ("count:many", "whole numbers"),
        ("first_seen:[yesterday TO *]", "ISO 8601"),
        ("project_id:a*b", "trailing '*'"),
        ("message:[a TO b]", "text field"),
        ("timeout~2", "fuzzy"),
        ("/regex/", "regular expressions"),
        ("x AND", "syntax error"),
    ],
)
def test_bad_queries_name_the_problem(q: str, problem: str) -> None:
    with pytest.raises(QueryError, match=problem) as info:
        parse(q, BUG_FIELDS)
    assert str(info.value).startswith("q:")
