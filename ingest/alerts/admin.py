"""Configuring alerts through the API: the reply shapes (secrets left out, webhook URLs shown
without their path, which often carries a token), the checks made when a channel or rule is
saved, and the test message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from config.settings import Settings
from ingest.alerts.message import probe_message
from ingest.alerts.safety import UnsafeTarget, check_scheme, resolver_for, safe_addresses
from ingest.alerts.send import Sender, Sent
from store.alert import (
    AlertChannel,
    AlertChannelIn,
    AlertDeliveryIn,
    AlertRuleIn,
    ChannelHealth,
    ChannelKind,
    OptionValue,
    Trigger,
)
from store.base import Store
from store.errors import QueryError
from store.search import BugQuery
from store.timestamp import Timestamp


class ChannelOut(ChannelHealth):
    """A channel as the API shows it: never its secret, and its URL without path or query."""

    id: int
    name: str
    kind: ChannelKind
    url: str
    has_secret: bool
    options: dict[str, OptionValue]
    enabled: bool
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, channel: AlertChannel) -> ChannelOut:
        data = channel.model_dump(exclude={"secret", "url"})
        return cls(**data, url=masked_url(channel.url), has_secret=bool(channel.secret))


class ChannelList(BaseModel):
    channels: list[ChannelOut]


class ChannelUpdate(BaseModel):
    """A partial update; a secret given replaces the stored one, "" removes it."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    url: str | None = Field(default=None, max_length=2000)
    secret: str | None = Field(default=None, max_length=2000)
    options: dict[str, OptionValue] | None = None
    enabled: bool | None = None


class RuleUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    project_id: str | None = Field(default=None, max_length=200)
    triggers: list[Trigger] | None = Field(default=None, min_length=1)
    environments: list[str] | None = None
    levels: list[str] | None = None
    sources: list[str] | None = None
    query: str | None = Field(default=None, max_length=4000)
    frequency_count: int | None = Field(default=None, ge=1)
    frequency_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    cooldown_minutes: float | None = Field(default=None, ge=0)
    channel_ids: list[int] | None = Field(default=None, min_length=1, max_length=50)
    enabled: bool | None = None


class ProbeResult(BaseModel):
    ok: bool
    status_code: int | None
    response: str


def masked_url(url: str) -> str:
    """`scheme://host[:port]` and `/***` when the URL had more (a token often sits there)."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    rest = "/***" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{rest}"


class InvalidAlert(ValueError):
    """A channel or rule that cannot be saved: `field` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_channel(channel: AlertChannelIn, settings: Settings) -> None:
    """Refuse a channel whose URL is unsafe or that lacks what its kind needs."""
    if channel.kind == ChannelKind.TELEGRAM and (
        not channel.secret or not channel.options.get("chat_id")
    ):
        raise InvalidAlert("secret", "a Telegram channel needs its bot token and a chat_id")
    if channel.kind == ChannelKind.EMAIL and not channel.options.get("recipients"):
        raise InvalidAlert("options", "an e-mail channel needs recipients")
    if not channel.url and channel.kind == ChannelKind.TELEGRAM:
        return  # the public Telegram API
    schemes = ("smtp", "smtps") if channel.kind == ChannelKind.EMAIL else ("http", "https")
    try:
        host = check_scheme(channel.url, schemes)
        if not settings.alerts_allow_private:  # else any address will do: nothing to resolve
            safe_addresses(host, resolver_for(settings.alerts_dns_server), allow_private=False)
    except UnsafeTarget as exc:
        raise InvalidAlert("url", str(exc)) from None


def updated_channel(current: AlertChannel, update: ChannelUpdate) -> dict[str, Any]:
    """The changes `update` makes (a secret "" removes the stored one)."""
    changes = update.model_dump(exclude_unset=True, exclude_none=True)
    if update.secret == "":
        changes["secret"] = None
    AlertChannelIn.model_validate({**current.model_dump(), **changes})
    return changes


def check_rule(rule: AlertRuleIn, store: Store) -> None:
    """Refuse a rule naming unknown channels or with a query the search refuses."""
    known = {c.id for c in store.list_alert_channels()}
    unknown = sorted(set(rule.channel_ids) - known)
    if unknown:
        raise InvalidAlert("channel_ids", f"no such channel: {', '.join(map(str, unknown))}")
    if rule.query.strip():
        try:
            store.search_bugs(BugQuery(q=rule.query, size=1, facets=()))
        except QueryError as exc:
            raise InvalidAlert("query", str(exc)) from None


def send_test(store: Store, settings: Settings, channel: AlertChannel) -> Sent:
    """Send one test message now (no retries) and record it as a delivery."""
    sender = Sender(
        resolver_for(settings.alerts_dns_server),
        settings.alerts_allow_private,
        settings.alerts_timeout_seconds,
    )
    language = settings.default_language or "en"
    sent = sender.send(channel, probe_message(language, settings.dashboard_link()))
    store.add_alert_delivery(
        AlertDeliveryIn(
            channel_id=channel.id,
            trigger="test",
            ok=sent.ok,
            status_code=sent.status_code,
            response=sent.response,
        )
    )
    return sent
