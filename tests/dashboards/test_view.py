"""A Discover view as the URL, a saved search and an export link hold it: pills and their query,
auto-refresh, shares of top values."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from dashboards import logic, view

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def params(search: str) -> dict[str, list[str]]:
    return parse_qs(search.lstrip("?"))


def test_pills_round_trip_through_the_url_with_their_flags() -> None:
    state = view.state(
        params("?q=boom&filter=level:ERROR&filter=-project_id:a:b&filter=!-source:js&refresh=10s")
    )
    assert state["pills"] == [
        view.pill("level", "ERROR"),
        view.pill("project_id", "a:b", negated=True),
        view.pill("source", "js", negated=True, disabled=True),
    ]
    assert state["refresh"] == "10s"
    assert view.state(params(view.search(state, None))) == state


def test_unknown_fields_and_refresh_choices_are_dropped() -> None:
    state = view.state(params("?filter=context.user:7&filter=nocolon&refresh=5s"))
    assert state["pills"] == [] and state["refresh"] == "off"
    assert view.search(state, None) == ""


def test_pills_add_to_the_query_and_disabled_ones_do_not() -> None:
    state = {
        "q": "a OR b",
        "pills": [
            view.pill("level", "ERROR"),
            view.pill("project_id", 'x"y', negated=True),
            view.pill("source", "js", disabled=True),
        ],
    }
    assert view.query(state) == '(a OR b) AND level:"ERROR" AND NOT project_id:"x\\"y"'
    assert view.query({"pills": [view.pill("level", "ERROR", negated=True)]}) == (
        'NOT level:"ERROR"'
    )
    assert view.applied(state)["q"] == view.query(state)


def test_pill_buttons_toggle_and_remove_and_a_value_is_added_once() -> None:
    pills = view.add_pill([], "level", "ERROR")
    pills = view.add_pill(pills, "level", "WARNING")
    assert view.add_pill(pills, "level", "ERROR") == pills
    negated = view.act_on_pill(pills, 0, "negate")
    assert negated[0]["negated"] and not pills[0]["negated"]
    assert view.add_pill(negated, "level", "ERROR")[0]["negated"] is False  # applied again
    off = view.act_on_pill(negated, 0, "disable")
    assert off[0]["disabled"] and view.act_on_pill(off, 0, "disable")[0]["disabled"] is False
    assert view.act_on_pill(off, 0, "remove") == [view.pill("level", "WARNING")]
    assert view.act_on_pill(off, 7, "remove") == off


def test_share_of_hits_is_exact_and_never_a_misleading_zero() -> None:
    assert view.share(42, 1000) == {"count": "42", "total": "1,000", "pct": "4.2%"}
    assert view.share(1, 5000)["pct"] == "<0.1%"
    assert view.share(0, 0)["pct"] == "0.0%"


def test_a_saved_search_opens_the_view_it_kept() -> None:
    state = {
        "q": "boom",
        "quick": "custom",
        "from": "2026-11-29T00:00:00Z",
        "to": "2026-11-30T00:00:00Z",
        "pills": [view.pill("level", "ERROR", negated=True)],
        "refresh": "off",
    }
    body = view.saved_body(" mine ", state, ["message", "context.user_id"])
    assert body["name"] == "mine" and body["range"] == ""
    assert (body["start"], body["end"]) == (state["from"], state["to"])
    url = params(view.saved_search({**body, "start": "2026-11-29T00:00:00.000000Z"}))
    assert view.state(url) == state
    assert url["columns"] == ["message,context.user_id"]
    relative = view.saved_body("r", {"q": "", "quick": "7d"}, None)
    assert relative["range"] == "7d" and "start" not in relative
    assert params(view.saved_search(relative)) == {"range": ["7d"]}


def test_export_links_carry_the_search_and_fix_a_relative_window_when_followed() -> None:
    state = {"q": "boom", "quick": "7d", "pills": [view.pill("level", "ERROR")]}
    link = urlsplit(view.export_href(state, "csv"))
    assert link.path == "/download/events.csv"
    args = {k: v[0] for k, v in params(link.query).items()}
    assert args == {"q": 'boom AND level:"ERROR"', "range": "7d"}
    window = view.export_window(args, NOW)
    assert window == {"from": "2026-11-23T12:00:00Z", "to": "2026-11-30T12:00:00Z"}
    fixed = {"quick": "custom", "from": "2026-11-01T00:00:00Z", "to": None}
    assert params(urlsplit(view.export_href(fixed, "ndjson")).query) == {
        "from": ["2026-11-01T00:00:00Z"]
    }
    bugs = view.bugs_export_href(logic.BugFilters(q="x", filters={"status": ("NEW",)}), "csv")
    assert bugs.startswith("/download/bugs.csv?") and "page=" not in bugs
    assert params(urlsplit(bugs).query)["status"] == ["NEW"]
