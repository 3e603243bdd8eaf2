"""Small render helpers shared by the pages (badges, key/value tables, errors, charts)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from dash import ctx, dcc, html

from client.http import ApiError
from dashboards import logic
from dashboards.i18n import t

T = TypeVar("T")

DIALOG_OPEN = "dialog open"


def acted() -> bool:
    """Whether a callback runs because of a user action, not because its input (re)appeared.

    Dash also calls click callbacks when a page's components are first rendered (n_clicks None),
    even with prevent_initial_call when an output lies outside the new page; guard with this.
    """
    return bool(ctx.triggered and ctx.triggered[0]["value"])


def status_badge(status: str | None) -> html.Span:
    return html.Span(status or "?", className=logic.status_class(status))


def kv_table(rows: Iterable[tuple[str, Any]], class_name: str = "kv") -> html.Table:
    return html.Table(
        html.Tbody([html.Tr([html.Th(key), html.Td(value)]) for key, value in rows]),
        className=class_name,
    )


def table(
    headers: Sequence[str], rows: Sequence[Any], class_name: str = "grid", **kwargs: Any
) -> html.Table:
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in headers])), html.Tbody(list(rows))],
        className=class_name,
        **kwargs,
    )


def error_box(lang: str, error: ApiError) -> html.Div:
    text = t(lang, "token_needed") if error.needs_token else f"{t(lang, 'api_error')}: {error}"
    return html.Div(text, className="alert error")


def attempt(call: Callable[[], T]) -> tuple[T | None, ApiError | None]:
    """Run one API call; return (result, None) or (None, the ApiError)."""
    try:
        return call(), None
    except ApiError as exc:
        return None, exc


def facet_button(
    component_id: dict[str, str],
    value: str,
    count: int,
    *,
    selected: bool = False,
    title: str | None = None,
) -> html.Li:
    """One clickable facet value with its count (bugs facets, Discover fields)."""
    return html.Li(
        html.Button(
            [
                html.Span(value or "—", className="facet-value"),
                html.Span(str(count), className="facet-count"),
            ],
            id=component_id,
            className="facet-item selected" if selected else "facet-item",
            title=title or value,
        )
    )


def downloads(kind: str, hrefs: dict[str, str], lang: str) -> list[html.A]:
    """A download link per export format (`hrefs`: format -> the dashboard's /download URL);
    each has the id `{"type": kind, "format": fmt}`."""
    return [
        html.A(
            t(lang, f"download_{fmt}"),
            id={"type": kind, "format": fmt},
            href=href,
            download="",
            className="btn download",
        )
        for fmt, href in hrefs.items()
    ]


def chips(values: Iterable[Any], class_name: str = "chip") -> list[html.Span]:
    return [html.Span(str(v), className=class_name) for v in values]


def bar_figure(histogram: Iterable[dict[str, Any]], height: int = 220) -> dict[str, Any]:
    """A Plotly bar chart of histogram buckets; drag on the x axis zooms (y stays fixed)."""
    xs, ys = logic.histogram_points(histogram)
    return {
        "data": [
            {
                "type": "bar",
                "x": xs,
                "y": ys,
                "marker": {"color": "#3b82f6"},
                "hovertemplate": "%{x}<br>%{y}<extra></extra>",
            }
        ],
        "layout": {
            "height": height,
            "margin": {"l": 40, "r": 10, "t": 10, "b": 30},
            "xaxis": {"type": "date"},
            "yaxis": {"fixedrange": True, "rangemode": "tozero"},
            "dragmode": "zoom",
            "bargap": 0.1,
            "plot_bgcolor": "#ffffff",
            "paper_bgcolor": "#ffffff",
        },
    }


def bar_strip(
    histogram: Iterable[dict[str, Any]], interval: str | None, height: int = 140
) -> html.Div:
    """A histogram as plain bars, without a charting library to load and run: for a small
    chart that is only looked at (a bug's occurrences over its life, ~60 bars at most)."""
    xs, ys = logic.filled_points(histogram, interval)
    top = max(ys, default=0) or 1
    bars = [
        html.Div(className="bar", title=f"{x}  {y}", style={"height": f"{100 * y / top:.1f}%"})
        for x, y in zip(xs, ys, strict=True)
    ]
    axis = [html.Span(xs[0]), html.Span(f"max {top}"), html.Span(xs[-1])] if xs else []
    return html.Div(
        [html.Div(bars, className="strip-bars", style={"height": f"{height}px"}),
         html.Div(axis, className="strip-axis muted")],
        className="strip",
    )  # fmt: skip


def graph(component_id: str, figure: dict[str, Any]) -> dcc.Graph:
    return dcc.Graph(
        id=component_id,
        figure=figure,
        config={"displaylogo": False, "displayModeBar": False, "scrollZoom": False},
        className="chart",
    )


def diff_view(diff: str | None) -> html.Pre:
    """A unified diff with added/removed/hunk lines coloured (see logic.diff_lines)."""
    return html.Pre(
        [html.Span(line + "\n", className=kind) for kind, line in logic.diff_lines(diff)],
        className="diff",
    )


#: Why repairs are not automatic (GET /api/v1/repairs/status `reason_code`), translated.
REPAIR_OFF_CODES = frozenset({"disabled", "no_worker", "no_llm", "no_sandbox"})


def repair_state(lang: str, status: dict[str, Any] | None, *, when_on: bool) -> Any:
    """Whether bugs are repaired without a click, and if not why, in the page's language; the
    "on" line only `when_on`. Nothing when the status could not be read."""
    if not status:
        return ""
    if status.get("automatic"):
        if not when_on:
            return ""
        workers = logic.ready_workers(status)
        return html.Div(t(lang, "repair_on", workers=workers), className="repair-state on")
    code = status.get("reason_code")
    reason = t(lang, f"repair_off_{code}") if code in REPAIR_OFF_CODES else status.get("reason")
    return html.Div(t(lang, "repair_off", reason=reason), className="repair-state off")
