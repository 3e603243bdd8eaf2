"""Discover's document table decisions: columns and their URL form, rows, block requests and
the cursors between blocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboards import documents

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
STATE = {"q": "level:ERROR", "quick": "24h"}


def test_columns_keep_known_fields_and_context_keys_once_in_order() -> None:
    chosen = documents.columns("message,context.user_id,nope,message, level,context.")
    assert chosen == ["message", "context.user_id", "level"]
    assert documents.columns("") == list(documents.DEFAULT_COLUMNS)
    assert documents.columns(["bogus"]) == list(documents.DEFAULT_COLUMNS)


def test_columns_param_leaves_the_defaults_out_of_the_url() -> None:
    assert documents.columns_param(documents.DEFAULT_COLUMNS) is None
    assert documents.columns_param(["level", "context.url"]) == "level,context.url"


def test_only_time_is_sortable_and_sorted_newest_first() -> None:
    defs = {d["field"]: d for d in documents.column_defs(["timestamp", "level", "context.k"])}
    assert [f for f, d in defs.items() if d["sortable"]] == ["timestamp"]
    assert defs["timestamp"]["initialSort"] == "desc"
    assert documents.sort_of([{"colId": "timestamp", "sort": "asc"}]) == "timestamp"
    assert documents.sort_of([]) == "-timestamp"


def test_column_options_add_context_keys_seen_and_the_chosen_ones() -> None:
    items = [{"context": {"user": {"id": 7}, "url": "/x"}}, {"context": None}]
    values = [
        o["value"]
        for o in documents.column_options(["context.gone"], documents.context_keys(items))
    ]
    assert values[: len(documents.FIELDS)] == list(documents.FIELDS)
    assert values[len(documents.FIELDS) :] == ["context.url", "context.user.id", "context.gone"]


def test_a_row_holds_cells_not_the_stack_trace() -> None:
    event = {
        "id": "e1",
        "timestamp": "2026-11-30T10:15:03.123Z",
        "message": "x" * 1000,
        "stack_trace": ["Traceback", "boom"],
        "context": {"user": {"id": 7}},
    }
    row = documents.row(event)
    assert row["id"] == "e1" and row["timestamp"] == "2026-11-30 10:15:03"
    assert len(row["message"]) <= documents.CELL_LIMIT + 1
    assert row["context.user.id"] == "7"
    assert "stack_trace" not in row and "Traceback" not in str(row)


def test_blocks_follow_the_cursor_and_window_of_the_first_block() -> None:
    first = {"startRow": 0, "endRow": 100, "sortModel": []}
    body = documents.rows_body(STATE, NOW, first, {})
    assert (body["size"], body["interval"], body["facets"]) == (100, "none", [])
    assert "cursor" not in body and "page" not in body
    paging = documents.next_paging({}, STATE, body, first, 100, "c100")
    second = {"startRow": 100, "endRow": 200, "sortModel": []}
    later = documents.rows_body(STATE, NOW + timedelta(minutes=5), second, paging)
    assert later["cursor"] == "c100"
    assert (later["from"], later["to"]) == (body["from"], body["to"])  # "last 24 h" as it was
    paging = documents.next_paging(paging, STATE, later, second, 100, "c200")
    assert paging["cursors"] == {"100": "c100", "200": "c200"}
    # Another query or sort has no cursor of its own yet: the block is asked for by page.
    resorted = {**second, "sortModel": [{"colId": "timestamp", "sort": "asc"}]}
    by_page = documents.rows_body(STATE, NOW, resorted, paging)
    assert "cursor" not in by_page and by_page["page"] == 2 and by_page["sort"] == "timestamp"
    other = documents.rows_body({**STATE, "q": "level:INFO"}, NOW, second, paging)
    assert "cursor" not in other and other["page"] == 2
    # A new first block starts the cursors afresh.
    assert documents.next_paging(paging, STATE, body, first, 100, None)["cursors"] == {}


def test_row_count_is_known_at_the_last_block_only() -> None:
    assert documents.row_count({"startRow": 200}, 37, None) == 237
    assert documents.row_count({"startRow": 200}, 100, "next") == -1


def test_hits_and_histogram_do_not_wait_for_the_field_values() -> None:
    summary = documents.summary_body(STATE, NOW)
    assert (summary["size"], summary["facets"], summary["interval"]) == (0, [], "auto")
    side = documents.fields_body(STATE, NOW)
    assert side["size"] == 0 and side["interval"] == "none" and "project_id" in side["facets"]
    assert (side["q"], side["from"], side["to"]) == (summary["q"], summary["from"], summary["to"])
