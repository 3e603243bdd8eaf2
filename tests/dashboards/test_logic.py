"""The dashboard's decisions, tested as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from dashboards import logic
from dashboards.i18n import _EN, _ZH, lang_of, t
from dashboards.logic import BugFilters
from store import vocabulary

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


# --- URL <-> filters -----------------------------------------------------------------------


def test_default_filters_make_an_empty_query_string() -> None:
    assert logic.filters_to_search(BugFilters()) == ""
    assert logic.filters_from_params({}) == BugFilters()


def test_filters_round_trip_through_the_url() -> None:
    f = BugFilters(
        q='message:"timed out" AND level:ERROR',
        filters={"status": ("NEW", "FIX_FAILED"), "project_id": ("rtc_backend",)},
        sort="-count",
        page=3,
    )
    search = logic.filters_to_search(f)
    assert search.startswith("?")
    # Dash pages hands a layout one str per single parameter and a list per repeated one.
    params = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(search[1:]).items()}
    assert params["status"] == ["NEW", "FIX_FAILED"]
    assert logic.filters_from_params(params) == f


def test_bad_url_values_fall_back_to_defaults() -> None:
    f = logic.filters_from_params({"sort": "password", "page": "-4", "bogus": "x", "status": ""})
    assert f == BugFilters()
    assert logic.filters_from_params({"page": "two"}).page == 1


def test_store_round_trip() -> None:
    f = BugFilters(q="x", filters={"level": ("ERROR",)}, sort="id", page=2)
    assert BugFilters.from_store(f.to_store()) == f
    assert BugFilters.from_store(None) == BugFilters()


def test_api_params_repeat_each_selected_value() -> None:
    f = BugFilters(q="boom", filters={"status": ("NEW", "FIXED")}, page=2)
    params = logic.bug_api_params(f, size=25)
    assert ("status", "NEW") in params and ("status", "FIXED") in params
    assert ("q", "boom") in params and ("page", 2) in params and ("size", 25) in params
    assert ("sort", "-last_seen") in params


# --- facets and paging ---------------------------------------------------------------------


def test_toggle_value_adds_then_removes() -> None:
    assert logic.toggle_value((), "NEW") == ("NEW",)
    assert logic.toggle_value(("NEW",), "FIXED") == ("NEW", "FIXED")
    assert logic.toggle_value(("NEW", "FIXED"), "NEW") == ("FIXED",)


def test_toggle_filter_resets_the_page_and_drops_empty_fields() -> None:
    f = BugFilters(filters={"status": ("NEW",)}, page=4)
    on = logic.toggle_filter(f, "level", "ERROR")
    assert on.filters == {"status": ("NEW",), "level": ("ERROR",)} and on.page == 1
    off = logic.toggle_filter(on, "status", "NEW")
    assert off.filters == {"level": ("ERROR",)}


def test_facet_entries_keep_selected_values_without_counts() -> None:
    counts = [{"value": "NEW", "count": 3}, {"value": "FIXED", "count": 1}]
    assert logic.facet_entries(counts, ["FIXED", "DEPLOYED"]) == [
        ("NEW", 3, False),
        ("FIXED", 1, True),
        ("DEPLOYED", 0, True),
    ]


def test_paging_stays_in_range() -> None:
    assert logic.page_count(0) == 1
    assert logic.page_count(101, 50) == 3
    f = BugFilters(page=1)
    assert logic.turn_page(f, -1).page == 1
    assert logic.turn_page(f, 1, pages=3).page == 2
    assert logic.turn_page(BugFilters(page=3), 1, pages=3).page == 3


# --- statuses and moves ---------------------------------------------------------------------


@pytest.mark.parametrize("status", vocabulary.STATUSES)
def test_every_status_has_its_own_class(status: str) -> None:
    assert logic.status_class(status) == f"status status-{status.lower().replace('_', '-')}"


def test_status_colours_are_all_defined_in_the_stylesheet() -> None:
    from dashboards.app import HERE

    css = (HERE / "assets" / "style.css").read_text()
    for status in vocabulary.STATUSES:
        assert "." + logic.status_class(status).split()[-1] + " {" in css


def test_allowed_moves_mark_fix_failed_as_needing_a_reason() -> None:
    moves = logic.allowed_moves({"status": "FIXING", "allowed": ["FIXED", "FIX_FAILED"]})
    assert moves == [("FIXED", False), ("FIX_FAILED", True)]
    assert logic.allowed_moves({"status": "DEPLOYED", "allowed": []}) == []


def test_fix_failed_needs_a_reason() -> None:
    assert logic.validate_move("FIX_FAILED", "  ") == "reason_required"
    assert logic.validate_move("FIX_FAILED", None) == "reason_required"
    assert logic.validate_move("FIX_FAILED", "tests fail") is None
    assert logic.validate_move("FIXED", None) is None


def test_a_typed_fixed_version_goes_with_fixing_moves_only() -> None:
    assert logic.fixed_version_of("FIXED", " 2.0.0 ") == "2.0.0"
    assert logic.fixed_version_of("DEPLOYED", "2.0.0") == "2.0.0"
    assert logic.fixed_version_of("FIXED", "  ") is None
    assert logic.fixed_version_of("FIXING", "2.0.0") is None


def test_regression_marks() -> None:
    reopened = {
        "from": "FIXED",
        "to": "NEW",
        "by": "ingest",
        "reason": "regression: new occurrence after FIXED",
    }
    assert logic.is_regression(reopened)
    assert logic.is_regression({"from": "DEPLOYED", "to": "NEW", "by": "ingest"})
    assert not logic.is_regression({"from": "FIXED", "to": "NEW", "reason": "reopen", "by": "api"})
    assert not logic.is_regression({"from": "FIX_FAILED", "to": "NEW", "by": "ingest"})
    assert not logic.is_regression({"from": "NEW", "to": "VERIFYING", "by": None})


# --- detail rendering helpers ---------------------------------------------------------------


def test_context_rows_flatten_nested_objects() -> None:
    rows = logic.context_rows({"url": "/x", "user": {"id": 7, "roles": ["a", "b"]}, "n": None})
    assert rows == [("url", "/x"), ("user.id", "7"), ("user.roles", "a, b"), ("n", "")]
    assert logic.context_rows(None) == []


def test_diff_lines_classify_every_line() -> None:
    diff = "--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n-old\n+new\n same\ndiff --git a/y b/y"
    assert [kind for kind, _ in logic.diff_lines(diff)] == [
        "diff-file",
        "diff-file",
        "diff-hunk",
        "diff-del",
        "diff-add",
        "diff-ctx",
        "diff-file",
    ]
    assert logic.diff_lines(None) == []


def test_timeline_is_oldest_first() -> None:
    reports = [
        {"id": 2, "round": 2, "created_at": "2026-11-28T10:05:00Z"},
        {"id": 1, "round": 1, "created_at": "2026-11-28T10:00:00Z"},
    ]
    assert [r["id"] for r in logic.timeline(reports)] == [1, 2]


def test_repair_polling() -> None:
    pending = {"at": logic.iso(NOW - timedelta(minutes=1)), "reports": 2}
    assert logic.repair_in_progress("FIXING", None, 0, NOW)
    assert not logic.repair_in_progress("NEW", None, 0, NOW)
    assert logic.repair_in_progress("PENDING_FIX", pending, 2, NOW)
    assert not logic.repair_in_progress("FIXED", pending, 3, NOW)  # a new round ended it
    assert not logic.repair_in_progress("CANNOT_REPRODUCE", pending, 3, NOW)
    stale = {"at": logic.iso(NOW - timedelta(hours=1)), "reports": 2}
    assert not logic.repair_in_progress("PENDING_FIX", stale, 2, NOW)


def test_repair_polling_follows_the_job_to_its_end() -> None:
    """Every (status, reports) a repair job shows after a click keeps the page polling until
    it ends, including its verification report seen before the move to FIXING."""
    pending = {"at": logic.iso(NOW - timedelta(seconds=5)), "reports": 1}
    steps = [("FIXED", 1), ("NEW", 1), ("VERIFYING", 1), ("VERIFYING", 2), ("PENDING_FIX", 2)]
    steps += [("FIXING", 2), ("FIXING", 3)]
    for status, reports in steps:
        assert logic.repair_in_progress(status, pending, reports, NOW), (status, reports)
    assert not logic.repair_in_progress("FIXED", pending, 3, NOW)


# --- time ranges and Discover ---------------------------------------------------------------


def test_parse_time_accepts_iso_and_plotly_forms() -> None:
    assert logic.parse_time("2026-11-28T10:00:00Z") == datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert logic.parse_time("2026-11-28 10:00:00.123456789") == datetime(
        2026, 11, 28, 10, 0, 0, 123456, tzinfo=UTC
    )
    assert logic.parse_time("2026-11-28T12:00:00+02:00") == datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert logic.parse_time("yesterday") is None and logic.parse_time(None) is None


def test_quick_and_absolute_ranges() -> None:
    assert logic.time_range({"quick": "1h"}, NOW) == (NOW - timedelta(hours=1), NOW)
    start, end = logic.time_range(
        {"quick": "custom", "from": "2026-11-27T00:00:00Z", "to": "2026-11-27T06:00:00Z"}, NOW
    )
    assert (start.hour, end.hour, end.day) == (0, 6, 27)
    # An inverted or missing start falls back to the default width before the end.
    start, end = logic.time_range({"quick": "custom", "from": "2026-11-29T00:00:00Z"}, NOW)
    assert end == NOW and start == NOW - timedelta(hours=24)


def test_histogram_zoom_narrows_the_range() -> None:
    relayout = {"xaxis.range[0]": "2026-11-28 10:15:00.5", "xaxis.range[1]": "2026-11-28 11:00"}
    assert logic.zoom_range(relayout) == ("2026-11-28T10:15:00.500000Z", "2026-11-28T11:00:00Z")
    assert logic.zoom_range({"xaxis.range": ["2026-11-28 10:00", "2026-11-28 10:30"]}) == (
        "2026-11-28T10:00:00Z",
        "2026-11-28T10:30:00Z",
    )
    assert logic.zoom_range({"xaxis.autorange": True}) is None
    assert logic.zoom_range({"autosize": True}) is None
    assert logic.zoom_range(None) is None


def test_histogram_points_are_naive_utc_for_plotly() -> None:
    xs, ys = logic.histogram_points(
        [
            {"key": "2026-11-28T10:00:00Z", "count": 3},
            {"key": "2026-11-28T11:00:00+00:00", "count": 0},
        ]
    )
    assert xs == ["2026-11-28 10:00:00", "2026-11-28 11:00:00"] and ys == [3, 0]


def test_zooming_into_plotted_points_gives_back_their_utc_times() -> None:
    xs, _ = logic.histogram_points(
        [{"key": "2026-11-28T10:00:00Z", "count": 1}, {"key": "2026-11-28T11:00:00Z", "count": 1}]
    )
    assert logic.zoom_range({"xaxis.range[0]": xs[0], "xaxis.range[1]": xs[1]}) == (
        "2026-11-28T10:00:00Z",
        "2026-11-28T11:00:00Z",
    )


def test_add_query_filter() -> None:
    assert logic.add_query_filter("", "level", "ERROR") == 'level:"ERROR"'
    assert logic.add_query_filter("boom", "level", "ERROR") == 'boom AND level:"ERROR"'
    assert logic.add_query_filter("a OR b", "level", "ERROR") == '(a OR b) AND level:"ERROR"'
    assert logic.add_query_filter('level:"ERROR"', "level", "ERROR") == 'level:"ERROR"'
    assert logic.add_query_filter("", "file_path", 'say "hi"') == r'file_path:"say \"hi\""'


def test_discover_body() -> None:
    body = logic.discover_body({"q": "level:ERROR", "quick": "15m"}, NOW)
    assert body["q"] == "level:ERROR" and body["interval"] == "auto"
    assert body["from"] == "2026-11-28T11:45:00Z" and body["to"] == "2026-11-28T12:00:00Z"
    assert set(body["facets"]) == set(logic.DISCOVER_FIELDS)


@pytest.mark.parametrize(
    "state",
    [
        {"q": "", "quick": logic.DEFAULT_QUICK},
        {"q": 'level:ERROR AND project_id:"a b&c"', "quick": "7d"},
        {
            "q": "连接",
            "quick": "custom",
            "from": "2026-11-27T00:00:00Z",
            "to": "2026-11-28T06:30:00Z",
        },
    ],
)
def test_discover_state_round_trips_through_the_url(state: dict[str, object]) -> None:
    search = logic.discover_search(state)
    assert logic.discover_state(parse_qs(search.lstrip("?"))) == state
    if state["quick"] == logic.DEFAULT_QUICK and not state["q"]:
        assert search == ""


def test_discover_url_params_are_checked() -> None:
    # An unknown range falls back to the default; absolute times are normalised to UTC.
    assert logic.discover_state({"range": "1y"})["quick"] == logic.DEFAULT_QUICK
    state = logic.discover_state({"from": "2026-11-27T08:00:00+08:00", "to": "garbage"})
    assert state == {"q": "", "quick": "custom", "from": "2026-11-27T00:00:00Z", "to": None}
    assert logic.discover_body(state, NOW)["from"] == "2026-11-27T00:00:00Z"


def test_bug_searches_cover_the_bugs_life_whatever_the_time_now() -> None:
    bug = {"id": 7, "first_seen": "2024-11-20T00:00:00Z", "last_seen": "2026-11-21T00:00:00Z"}
    window = logic.bug_window(bug, NOW)
    assert (window["from"], window["to"]) == ("2024-11-19T23:59:00Z", "2026-11-21T00:01:00Z")
    chart = logic.bug_chart_body(window)
    assert chart["q"] == "bug_id:7" and chart["interval"] == "auto"
    assert (chart["size"], chart["facets"]) == (0, [])
    seen = logic.bug_seen_body(window)
    assert seen["interval"] == "none" and seen["facets"] == ["environment", "version"]
    state = logic.bug_docs_state(window)
    assert logic.time_range(state, NOW) == (
        datetime(2024, 11, 19, 23, 59, tzinfo=UTC),
        datetime(2026, 11, 21, 0, 1, tzinfo=UTC),
    )


def test_filled_points_put_back_the_empty_buckets_between_the_first_and_the_last() -> None:
    histogram = [
        {"key": "2026-11-20T00:00:00Z", "count": 4},
        {"key": "2026-11-20T09:00:00Z", "count": 1},
    ]
    xs, ys = logic.filled_points(histogram, "3h")
    assert xs == [f"2026-11-20 0{h}:00:00" for h in (0, 3, 6, 9)] and ys == [4, 0, 0, 1]
    assert logic.filled_points(histogram, "what")[1] == [4, 1]  # an unknown width: as given
    assert [logic.interval_seconds(x) for x in ("15m", "30d", "8700s", "3x", "")] == [
        900,
        2_592_000,
        8700,
        None,
        None,
    ]


# --- projects -------------------------------------------------------------------------------


def test_project_change_reads_dash_ag_grid_events() -> None:
    event = {
        "rowIndex": 0,
        "rowId": "rtc_web",
        "colId": "repo_url",
        "oldValue": None,
        "value": "https://git.example.com/web.git",
        "data": {"project_id": "rtc_web", "repo_url": "https://git.example.com/web.git"},
    }
    assert logic.project_change(event) == (
        "rtc_web",
        {"repo_url": "https://git.example.com/web.git"},
    )
    cleared = {**event, "value": None, "data": {"project_id": "rtc_web"}}
    assert logic.project_change(cleared) == ("rtc_web", {"repo_url": ""})
    for choice, sent in (("on", True), ("off", False), ("default", None), (True, True)):
        toggled = {**event, "colId": "auto_repair", "value": choice}
        assert logic.project_change(toggled) == ("rtc_web", {"auto_repair": sent})
    # Retention: a number goes as a number, an emptied cell resets it (null), the rest as typed.
    for typed, sent in ((14, 14), ("30", 30), (7.0, 7), (None, None), (" ", None), ("2.5", "2.5")):
        kept = {**event, "colId": "retention_days", "value": typed}
        assert logic.project_change(kept) == ("rtc_web", {"retention_days": sent})
    assert logic.project_change({**event, "colId": "project_id"}) is None
    assert logic.project_change({**event, "colId": "toolchain_missing"}) is None


def test_project_rows_show_auto_repair_choices_and_the_last_toolchain() -> None:
    project = {"project_id": "app", "auto_repair": None, "toolchain": None}
    row = logic.project_row(project)
    assert (row["auto_repair"], row["toolchain"], row["toolchain_state"]) == ("default", "", "")
    assert [logic.project_row({**project, "auto_repair": v})["auto_repair"] for v in (1, 0)] == [
        "on",
        "off",
    ]
    found = {"name": "flutter", "language": "dart", "test_command": "flutter test",
             "missing": ["flutter", "dart"], "problem": "flutter is not installed"}  # fmt: skip
    row = logic.project_row({**project, "toolchain": found})
    assert row["toolchain"] == "dart · flutter" and row["toolchain_state"] == "ok"
    assert (row["toolchain_test_command"], row["toolchain_missing"]) == (
        "flutter test",
        "flutter, dart",
    )
    nothing = logic.project_row({**project, "toolchain": {"name": None, "missing": []}})
    assert (nothing["toolchain"], nothing["toolchain_state"]) == ("", "none")


def test_ready_workers_count_the_pools_that_can_repair() -> None:
    able = {"workers": 2, "llm": {"ok": True}, "sandbox": {"ok": True}}
    status = {"workers": [able, {**able, "llm": {"ok": False}}, {**able, "workers": 1}]}
    assert logic.ready_workers(status) == 3
    assert logic.ready_workers({"workers": []}) == 0


def test_missing_config() -> None:
    assert logic.missing_config({"repo_url": "x", "local_path": " "}) == ["local_path"]
    assert logic.missing_config({"repo_url": None}) == ["repo_url", "local_path"]


def test_truncate() -> None:
    assert logic.truncate("a\nb", 10) == "a b"
    assert logic.truncate("x" * 20, 10) == "x" * 9 + "…"


# --- i18n -----------------------------------------------------------------------------------


def test_both_languages_have_the_same_keys() -> None:
    assert set(_EN) == set(_ZH)


def test_t_formats_and_falls_back() -> None:
    assert t("zh", "total_bugs", total=3) == "共 3 个缺陷"
    assert t("fr", "nav_bugs") == "Bugs"
    assert t("en", "no-such-key") == "no-such-key"
    assert lang_of(None) == "en" and lang_of("zh") == "zh"


def test_a_merge_needs_two_ticked_bugs_and_a_target_among_them() -> None:
    picked = logic.picked_bugs([[3], [], None, [1], [3]])
    assert picked == [1, 3]
    assert logic.merge_choice(picked, 3) == (3, [1])
    assert logic.merge_choice(picked, 7) == (None, [])
    assert logic.merge_choice([1], 1) == (None, [])
