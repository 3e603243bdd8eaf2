"""Each channel kind's request: its URL, headers and body in the receiver's own format and, where
the receiver verifies one, its signature. Pure functions of (channel, message, time), so a test
receiver checks exactly what a real one would.

DingTalk signs `timestamp + "\\n" + secret` with HMAC-SHA256 keyed by the secret, base64, in the
URL query; Feishu/Lark uses the same string as the HMAC key over an empty message, in the body;
the generic webhook sends `sha256=<hex HMAC of the body>` in a header of the channel's choice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import orjson

from ingest.alerts.message import Message
from store.alert import AlertChannel, ChannelKind

TELEGRAM_API = "https://api.telegram.org"
DEFAULT_SIGNATURE_HEADER = "X-LogCenter-Signature"


@dataclass
class Outgoing:
    """One HTTP request to a channel."""

    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


def _json(url: str, payload: dict[str, Any]) -> Outgoing:
    return Outgoing(url, orjson.dumps(payload))


def sign_dingtalk(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def sign_feishu(secret: str, timestamp_s: int) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_body(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook(channel: AlertChannel, message: Message, now: float) -> Outgoing:
    payload = {
        "event": message.trigger,
        "title": message.title,
        "text": message.text(),
        "facts": dict(message.facts),
        "lines": message.lines,
        "bug_ids": message.bug_ids,
        "link": message.link,
        "sent_at": int(now),
    }
    out = _json(channel.url, payload)
    if channel.secret:
        header = str(channel.options.get("signature_header") or DEFAULT_SIGNATURE_HEADER)
        out.headers[header] = sign_body(channel.secret, out.body)
    return out


def slack(channel: AlertChannel, message: Message, now: float) -> Outgoing:
    lines = [f"*{message.title}*", *(f"*{k}*: {v}" for k, v in message.facts), *message.lines]
    if message.link:
        lines.append(f"<{message.link}|{message.link_text}>")
    text = "\n".join(lines)
    section = {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
    return _json(channel.url, {"text": message.title, "blocks": [section]})


def dingtalk(channel: AlertChannel, message: Message, now: float) -> Outgoing:
    url = channel.url
    if channel.secret:
        ts = int(now * 1000)
        sign = quote_plus(sign_dingtalk(channel.secret, ts))
        url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={sign}"
    markdown = {"title": message.title, "text": message.markdown()}
    return _json(url, {"msgtype": "markdown", "markdown": markdown})


def feishu(channel: AlertChannel, message: Message, now: float) -> Outgoing:
    rows: list[list[dict[str, str]]] = [
        [{"tag": "text", "text": f"{k}: {v}"}] for k, v in message.facts
    ]
    rows += [[{"tag": "text", "text": line}] for line in message.lines]
    if message.link:
        rows.append([{"tag": "a", "text": message.link_text, "href": message.link}])
    post = {"title": message.title, "content": rows}
    payload: dict[str, Any] = {"msg_type": "post", "content": {"post": {"zh_cn": post}}}
    if channel.secret:
        ts = int(now)
        payload = {"timestamp": str(ts), "sign": sign_feishu(channel.secret, ts), **payload}
    return _json(channel.url, payload)


def wecom(channel: AlertChannel, message: Message, now: float) -> Outgoing:
    return _json(channel.url, {"msgtype": "markdown", "markdown": {"content": message.markdown()}})


def teams(channel: AlertChannel, message: Message, now: float) -> Outgoing:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": message.title, "weight": "Bolder", "wrap": True},
        {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in message.facts]},
        *({"type": "TextBlock", "text": line, "wrap": True} for line in message.lines),
    ]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if message.link:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": message.link_text, "url": message.link}
        ]
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
    return _json(channel.url, {"type": "message", "attachments": [attachment]})


def discord(channel: AlertChannel, message: Message, now: float) -> Outgoing:
    embed: dict[str, Any] = {
        "title": message.title[:256],
        "description": "\n".join(message.lines)[:4000],
        "fields": [{"name": k[:256], "value": v[:1024] or "-"} for k, v in message.facts][:25],
    }
    if message.link:
        embed["url"] = message.link
    return _json(channel.url, {"embeds": [embed]})


def telegram(channel: AlertChannel, message: Message, now: float) -> Outgoing:
    base = (channel.url or TELEGRAM_API).rstrip("/")
    chat_id = channel.options.get("chat_id", "")
    payload = {"chat_id": chat_id, "text": message.text()[:4096], "disable_web_page_preview": True}
    return _json(f"{base}/bot{channel.secret or ''}/sendMessage", payload)


#: Channel kind -> its request (e-mail is sent over SMTP instead: ingest/alerts/mail.py).
REQUESTS: dict[ChannelKind, Callable[[AlertChannel, Message, float], Outgoing]] = {
    ChannelKind.WEBHOOK: webhook,
    ChannelKind.SLACK: slack,
    ChannelKind.DINGTALK: dingtalk,
    ChannelKind.FEISHU: feishu,
    ChannelKind.WECOM: wecom,
    ChannelKind.TEAMS: teams,
    ChannelKind.DISCORD: discord,
    ChannelKind.TELEGRAM: telegram,
}


def refused_by_body(kind: ChannelKind, body: bytes) -> bool:
    """Receivers that answer 200 with an error code in the body (DingTalk, WeCom, Feishu,
    Telegram): True when this answer is such a refusal."""
    if kind not in (ChannelKind.DINGTALK, ChannelKind.WECOM, ChannelKind.FEISHU,
                    ChannelKind.TELEGRAM):  # fmt: skip
        return False
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(answer, dict):
        return False
    if kind == ChannelKind.TELEGRAM:
        return answer.get("ok") is False
    code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
    return code not in (0, None)
