"""Alerts: the channels with their health (last success, last failure with its status and
answer), the rules, and the latest deliveries. Channels and rules are edited through the API."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, html

from dashboards import api, ids, logic
from dashboards.components import attempt, error_box, table
from dashboards.i18n import lang_of, t

dash.register_page(__name__, path="/alerts", title="Log Center · Alerts", order=5)


def layout(lang: str | None = None, **_: Any) -> html.Div:
    return html.Div(
        [html.H2(t(lang_of(lang), "alerts_title")), html.Div(id=ids.ALERTS_BODY)],
        className="page page-alerts",
    )


@callback(
    Output(ids.ALERTS_BODY, "children"),
    Input(ids.LANG, "data"),
    Input(ids.TOKEN, "data"),
)
def show(lang: Any, token: str | None) -> Any:
    lang = lang_of(lang)
    data, error = attempt(lambda: api.current().alerts(token))
    if error is not None or data is None:
        return error_box(lang, error) if error else ""
    if not data["channels"] and not data["rules"]:
        return html.P(t(lang, "alerts_none"), className="muted empty")
    names = {c["id"]: c["name"] for c in data["channels"]}
    return [
        html.H3(t(lang, "alerts_channels")),
        channel_table(data["channels"], lang),
        html.H3(t(lang, "alerts_rules")),
        rule_table(data["rules"], names, lang),
        html.H3(t(lang, "alerts_deliveries")),
        delivery_table(data["deliveries"], names, lang),
    ]


def _outcome(at: str | None, status: int | None, body: str | None = None) -> Any:
    if not at:
        return "-"
    parts = [logic.short_time(at), f" · {status}" if status is not None else ""]
    detail = html.Div(logic.truncate(body, 300), className="muted") if body else ""
    return html.Div([html.Span("".join(parts)), detail])


def _failure(channel: dict[str, Any]) -> Any:
    return _outcome(
        channel["last_failure_at"], channel["last_failure_status"], channel["last_failure_body"]
    )


def channel_table(channels: list[dict[str, Any]], lang: str) -> Any:
    headers = [t(lang, k) for k in ("col_name", "col_kind", "col_url", "col_enabled",
                                    "col_last_success", "col_last_failure")]  # fmt: skip
    rows = [
        html.Tr(
            [
                html.Td(c["name"]),
                html.Td(c["kind"]),
                html.Td(c["url"], className="mono"),
                html.Td(t(lang, "yes" if c["enabled"] else "no")),
                html.Td(_outcome(c["last_success_at"], c["last_success_status"])),
                html.Td(_failure(c), className="channel-failure"),
            ],
            className="channel-row",
            **{"data-channel-id": str(c["id"])},  # type: ignore[arg-type]  # data-* attribute
        )
        for c in channels
    ]
    return table(headers, rows, class_name="grid channels")


def rule_table(rules: list[dict[str, Any]], names: dict[int, str], lang: str) -> Any:
    headers = [t(lang, k) for k in ("col_name", "col_project", "col_triggers", "col_filters",
                                    "col_channels", "col_enabled")]  # fmt: skip
    rows = [
        html.Tr(
            [
                html.Td(r["name"]),
                html.Td(r["project_id"] or t(lang, "all_projects_short")),
                html.Td(", ".join(r["triggers"])),
                html.Td(_filters(r), className="mono"),
                html.Td(", ".join(names.get(i, f"#{i}") for i in r["channel_ids"])),
                html.Td(t(lang, "yes" if r["enabled"] else "no")),
            ],
            className="rule-row",
        )
        for r in rules
    ]
    return table(headers, rows, class_name="grid rules")


def _filters(rule: dict[str, Any]) -> str:
    parts = [
        f"{key}: {', '.join(rule[key])}"
        for key in ("environments", "levels", "sources")
        if rule.get(key)
    ]
    if rule.get("query"):
        parts.append(str(rule["query"]))
    if "frequency" in rule["triggers"]:
        parts.append(f"> {rule['frequency_count']} / {rule['frequency_minutes']} min")
    return " · ".join(parts) or "-"


def delivery_table(deliveries: list[dict[str, Any]], names: dict[int, str], lang: str) -> Any:
    if not deliveries:
        return html.P("-", className="muted empty")
    headers = [t(lang, k) for k in ("col_created", "col_channel", "col_trigger", "col_bugs",
                                    "col_result", "col_attempts")]  # fmt: skip
    rows = [
        html.Tr(
            [
                html.Td(logic.short_time(d["created_at"]), className="nowrap"),
                html.Td(names.get(d["channel_id"], f"#{d['channel_id']}")),
                html.Td(d["trigger"]),
                html.Td(", ".join(f"#{b}" for b in d["bug_ids"][:10])),
                html.Td(
                    t(lang, "delivered" if d["ok"] else "not_delivered")
                    + (f" · {d['status_code']}" if d["status_code"] is not None else ""),
                    className="result passed" if d["ok"] else "result failed",
                ),
                html.Td(d["attempts"], className="num"),
            ],
            className="delivery-row",
        )
        for d in deliveries
    ]
    return table(headers, rows, class_name="grid deliveries")
