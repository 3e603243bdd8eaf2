"""Alert records held by every store backend: channels (where alerts go), rules (which facts
alert whom) and deliveries (what was sent, and how it went).

A channel's `secret` (signing key, bot token, SMTP password) is stored so the deliverer can use
it; the API never returns it (`ChannelOut` says only whether one is set).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field

from store.timestamp import Timestamp


class Trigger(StrEnum):
    """The facts an alert rule can react to."""

    NEW_BUG = "new_bug"
    REGRESSION = "regression"
    FREQUENCY = "frequency"
    REPAIR_FINISHED = "repair_finished"
    REPAIR_FAILED = "repair_failed"


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"
    SLACK = "slack"
    DINGTALK = "dingtalk"
    FEISHU = "feishu"
    WECOM = "wecom"
    TEAMS = "teams"
    DISCORD = "discord"
    TELEGRAM = "telegram"
    EMAIL = "email"


_Name = Annotated[str, Field(min_length=1, max_length=200)]
_Short = Annotated[str, Field(max_length=200)]
OptionValue = str | int | bool | list[str]


class AlertChannelIn(BaseModel):
    """A channel as a person configures it."""

    name: _Name
    kind: ChannelKind
    #: The webhook URL; for Telegram the API base URL ("" = https://api.telegram.org); for
    #: e-mail `smtp://host:port` (or `smtps://`).
    url: str = Field(default="", max_length=2000)
    #: Signing key (webhook HMAC, DingTalk, Feishu), bot token (Telegram) or SMTP password.
    secret: str | None = Field(default=None, max_length=2000)
    #: Kind-specific settings: `chat_id` (Telegram); `username`, `sender`, `recipients`,
    #: `starttls` (e-mail); `signature_header` (webhook).
    options: dict[str, OptionValue] = Field(default_factory=dict)
    enabled: bool = True


class ChannelHealth(BaseModel):
    """The outcome of a channel's last successful and last failed delivery."""

    last_success_at: Timestamp | None = None
    last_success_status: int | None = None
    last_failure_at: Timestamp | None = None
    last_failure_status: int | None = None
    #: The receiver's answer (truncated) or why nothing was answered.
    last_failure_body: str | None = None


class AlertChannel(AlertChannelIn, ChannelHealth):
    id: int
    created_at: Timestamp
    updated_at: Timestamp


class AlertRuleIn(BaseModel):
    """Which facts alert which channels. Empty filter lists match everything."""

    name: _Name
    #: None: every project.
    project_id: str | None = Field(default=None, max_length=200)
    triggers: list[Trigger] = Field(min_length=1)
    environments: list[_Short] = Field(default_factory=list, max_length=50)
    levels: list[_Short] = Field(default_factory=list, max_length=20)
    sources: list[_Short] = Field(default_factory=list, max_length=10)
    #: A Lucene query (the bug search's syntax) the bug must match; empty = any bug.
    query: str = Field(default="", max_length=4000)
    #: The `frequency` trigger: more than `frequency_count` occurrences in `frequency_minutes`.
    frequency_count: int = Field(default=100, ge=1)
    frequency_minutes: int = Field(default=60, ge=1, le=24 * 60)
    #: At most one alert per bug per rule within this; None = LOGCENTER_ALERTS__COOLDOWN_MINUTES.
    cooldown_minutes: float | None = Field(default=None, ge=0)
    channel_ids: list[int] = Field(min_length=1, max_length=50)
    enabled: bool = True


class AlertRule(AlertRuleIn):
    id: int
    created_at: Timestamp
    updated_at: Timestamp


class AlertDeliveryIn(BaseModel):
    """One message sent (or given up on) to one channel."""

    channel_id: int
    rule_id: int | None = None
    #: The trigger, "digest" for a folded message or "test" for a test message.
    trigger: str
    bug_ids: list[int] = Field(default_factory=list)
    ok: bool
    attempts: int = 1
    status_code: int | None = None
    #: The receiver's answer (truncated) or the error met.
    response: str = ""


class AlertDelivery(AlertDeliveryIn):
    id: int
    created_at: Timestamp


#: Fields of a channel or rule no update may change.
READONLY_ALERT_FIELDS = frozenset({"id", "created_at", "updated_at"})


def check_alert_changes(kind: type[BaseModel], changes: dict[str, Any]) -> None:
    """Refuse (ValueError) an update of a read-only or unknown field of `kind`."""
    bad = sorted(k for k in changes if k in READONLY_ALERT_FIELDS or k not in kind.model_fields)
    if bad:
        raise ValueError(f"cannot change {', '.join(bad)}")


def health_changes(delivery: AlertDeliveryIn, at: Any) -> dict[str, Any]:
    """What a delivery changes on its channel's health."""
    if delivery.ok:
        return {"last_success_at": at, "last_success_status": delivery.status_code}
    return {
        "last_failure_at": at,
        "last_failure_status": delivery.status_code,
        "last_failure_body": delivery.response,
    }
