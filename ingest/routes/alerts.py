"""Alerts: channels (where messages go), rules (which facts alert which channels) and the
deliveries made; all behind the admin token. Secrets are write-only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response
from fastapi.concurrency import run_in_threadpool

from ingest.alerts import admin
from ingest.alerts.admin import ChannelList, ChannelOut, ChannelUpdate, ProbeResult, RuleUpdate
from ingest.deps import GUARDED_RESPONSES, MAX_ID, Admin, ServicesDep, StoreDep
from ingest.schemas import invalid
from store.alert import AlertChannel, AlertChannelIn, AlertDelivery, AlertRule, AlertRuleIn
from store.base import Store
from store.errors import NotFound

router = APIRouter(
    prefix="/api/v1/alerts",
    tags=["alerts"],
    responses=GUARDED_RESPONSES,
    dependencies=[Admin],
)
ChannelId = Annotated[int, Path(ge=1, le=MAX_ID)]
RuleId = Annotated[int, Path(ge=1, le=MAX_ID)]
NO_CHANNEL: dict[int | str, dict[str, Any]] = {404: {"description": "No such channel"}}
NO_RULE: dict[int | str, dict[str, Any]] = {404: {"description": "No such rule"}}


def _channel(store: Store, channel_id: int) -> AlertChannel:
    channel = store.get_alert_channel(channel_id)
    if channel is None:
        raise HTTPException(404, f"channel {channel_id} not found")
    return channel


def _deleted(delete: Callable[[int], None], what: str, record_id: int) -> Response:
    try:
        delete(record_id)
    except NotFound:
        raise HTTPException(404, f"{what} {record_id} not found") from None
    return Response(status_code=204)


def _refused(exc: admin.InvalidAlert) -> HTTPException:
    return invalid("body", exc.field, str(exc))


@router.get("/channels", response_model=ChannelList, summary="List channels (no secrets)")
def list_channels(store: StoreDep) -> ChannelList:
    return ChannelList(channels=[ChannelOut.of(c) for c in store.list_alert_channels()])


@router.post(
    "/channels",
    response_model=ChannelOut,
    status_code=201,
    summary="Add a channel",
    description="Webhook URLs must be http/https on public addresses (unless "
    "LOGCENTER_ALERTS_ALLOW_PRIVATE); the secret is stored and never shown again.",
)
def add_channel(body: AlertChannelIn, services: ServicesDep) -> ChannelOut:
    try:
        admin.check_channel(body, services.settings)
    except admin.InvalidAlert as exc:
        raise _refused(exc) from None
    return ChannelOut.of(services.store.add_alert_channel(body))


@router.get("/channels/{channel_id}", response_model=ChannelOut, responses=NO_CHANNEL)
def get_channel(channel_id: ChannelId, store: StoreDep) -> ChannelOut:
    return ChannelOut.of(_channel(store, channel_id))


@router.patch(
    "/channels/{channel_id}",
    response_model=ChannelOut,
    responses=NO_CHANNEL,
    summary="Change a channel",
)
def patch_channel(channel_id: ChannelId, body: ChannelUpdate, services: ServicesDep) -> ChannelOut:
    store = services.store
    current = _channel(store, channel_id)
    changes = admin.updated_channel(current, body)
    try:
        candidate = AlertChannelIn.model_validate({**current.model_dump(), **changes})
        admin.check_channel(candidate, services.settings)
    except admin.InvalidAlert as exc:
        raise _refused(exc) from None
    return ChannelOut.of(store.update_alert_channel(channel_id, changes))


@router.delete("/channels/{channel_id}", status_code=204, responses=NO_CHANNEL)
def delete_channel(channel_id: ChannelId, store: StoreDep) -> Response:
    return _deleted(store.delete_alert_channel, "channel", channel_id)


@router.post(
    "/channels/{channel_id}/test",
    response_model=ProbeResult,
    responses=NO_CHANNEL,
    summary="Send a test message now",
)
async def test_channel(channel_id: ChannelId, services: ServicesDep) -> ProbeResult:
    channel = await run_in_threadpool(_channel, services.store, channel_id)
    sent = await run_in_threadpool(admin.send_test, services.store, services.settings, channel)
    return ProbeResult(ok=sent.ok, status_code=sent.status_code, response=sent.response)


@router.get("/rules", response_model=list[AlertRule], summary="List rules")
def list_rules(store: StoreDep) -> list[AlertRule]:
    return store.list_alert_rules()


@router.post("/rules", response_model=AlertRule, status_code=201, summary="Add a rule")
def add_rule(body: AlertRuleIn, store: StoreDep) -> AlertRule:
    try:
        admin.check_rule(body, store)
    except admin.InvalidAlert as exc:
        raise _refused(exc) from None
    return store.add_alert_rule(body)


@router.get("/rules/{rule_id}", response_model=AlertRule, responses=NO_RULE)
def get_rule(rule_id: RuleId, store: StoreDep) -> AlertRule:
    rule = store.get_alert_rule(rule_id)
    if rule is None:
        raise HTTPException(404, f"rule {rule_id} not found")
    return rule


@router.patch("/rules/{rule_id}", response_model=AlertRule, responses=NO_RULE)
def patch_rule(rule_id: RuleId, body: RuleUpdate, store: StoreDep) -> AlertRule:
    current = get_rule(rule_id, store)
    changes = body.model_dump(exclude_unset=True)
    try:
        admin.check_rule(AlertRuleIn.model_validate({**current.model_dump(), **changes}), store)
    except admin.InvalidAlert as exc:
        raise _refused(exc) from None
    return store.update_alert_rule(rule_id, changes)


@router.delete("/rules/{rule_id}", status_code=204, responses=NO_RULE)
def delete_rule(rule_id: RuleId, store: StoreDep) -> Response:
    return _deleted(store.delete_alert_rule, "rule", rule_id)


@router.get("/deliveries", response_model=list[AlertDelivery], summary="Recent deliveries")
def list_deliveries(
    store: StoreDep,
    channel_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[AlertDelivery]:
    return store.list_alert_deliveries(channel_id=channel_id, limit=limit)
