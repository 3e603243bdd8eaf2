"""Scrubbing and limits applied to every report before anything is stored.

Values under sensitive keys (at any depth of `context`) become "[Filtered]"; card-like numbers
and bearer tokens inside strings are masked. Over-long values are truncated with a marker rather
than rejected, so the error still lands.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from config.settings import Limits
from ingest.report import ReportIn
from store.text import cache_short

FILTERED = "[Filtered]"
DEFAULT_SCRUB_KEYS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "access_token",
        "refresh_token",
        "authorization",
        "cookie",
        "set-cookie",
        "session",
        "sessionid",
        "credentials",
        "private_key",
        "client_secret",
    }
)
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
_CARD_HINT = re.compile(r"[0-9][0-9 -]{11}")
_BEARER = re.compile(r"(?i)\b(bearer|token)\s+[A-Za-z0-9\-._~+/]{8,}=*")
_ELLIPSIS = "…[truncated {n} bytes]…"


def _normalize(key: str) -> str:
    return key.lower().replace("-", "_")


@lru_cache(maxsize=16)
def effective_keys(configured: frozenset[str]) -> frozenset[str]:
    """The default keys plus the configured ones (LOGCENTER_SCRUB_KEYS adds, never replaces),
    spelled the way `_sensitive` compares them."""
    return frozenset(_normalize(k) for k in DEFAULT_SCRUB_KEYS | configured)


@cache_short(256, 4096)
def _sensitive(key: str, keys: frozenset[str]) -> bool:
    # Cached: clients send the same few context keys again and again.
    k = _normalize(key)
    return k in keys or any(part in k for part in keys if len(part) > 4)


def _may_hold_card(text: str) -> bool:
    """A cheap necessary condition for `_CARD` (13 digits with single separators): its
    backtracking costs ~150 us on a 2 KB stack, this scan ~15 us. ASCII only; other digits
    that `\\d` matches go to the full pattern."""
    if text.isascii():
        return _CARD_HINT.search(text) is not None
    return _CARD.search(text) is not None


def _maskable(text: str) -> bool:
    """Whether `_mask` could change `text`."""
    if _may_hold_card(text):
        return True
    return ("earer" in text or "oken" in text) and _BEARER.search(text) is not None


#: `_maskable` for a whole stack trace, cached: every occurrence of a bug sends the same stack,
#: and hashing it costs a fraction of scanning it.
_stack_maskable = cache_short(64 * 1024, 2048)(_maskable)


def _mask(text: str) -> str:
    if _may_hold_card(text):
        text = _CARD.sub(_card_mask, text)
    if "earer" in text or "oken" in text:
        text = _BEARER.sub(lambda m: f"{m.group(1)} {FILTERED}", text)
    return text


def _card_mask(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    if not _luhn(digits):
        return match.group()
    return FILTERED


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def scrub_value(value: Any, keys: frozenset[str], depth: int = 0) -> Any:
    if isinstance(value, dict):
        return {
            k: FILTERED if _sensitive(str(k), keys) else scrub_value(v, keys, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub_value(v, keys, depth + 1) for v in value]
    if isinstance(value, str):
        return _mask(value)
    return value


def scrub(report: ReportIn, keys: frozenset[str] = DEFAULT_SCRUB_KEYS) -> None:
    keys = effective_keys(keys)
    if report.context:
        report.context = scrub_value(report.context, keys)
    report.error.message = _mask(report.error.message)
    stack = report.error.stack_trace
    assert isinstance(stack, list)
    # One scan of the whole stack: a mask never spans lines, and nearly no stack has one.
    if _stack_maskable("\n".join(stack)):
        report.error.stack_trace = [_mask(line) for line in stack]


def truncate(text: str, max_bytes: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    head = raw[: max_bytes // 2].decode("utf-8", "ignore")
    tail = raw[len(raw) - max_bytes // 2 :].decode("utf-8", "ignore")
    return head + _ELLIPSIS.format(n=len(raw) - max_bytes) + tail


def clamp(report: ReportIn, limits: Limits) -> None:
    err = report.error
    err.message = truncate(err.message, limits.max_message_bytes)
    stack = err.stack_trace
    assert isinstance(stack, list)
    if len(stack) > limits.max_stack_lines:
        keep = limits.max_stack_lines // 2
        stack = [*stack[:keep], f"… {len(stack) - 2 * keep} lines trimmed …", *stack[-keep:]]
    # Bytes, not characters: 200 K CJK characters are 600 KiB. A character is at most 4 bytes,
    # so counting characters settles nearly every stack without encoding it.
    chars = sum(map(len, stack))
    if chars * 4 > limits.max_stack_bytes and (
        chars > limits.max_stack_bytes
        or sum(len(line.encode("utf-8")) for line in stack) > limits.max_stack_bytes
    ):
        per_line = max(limits.max_stack_bytes // max(len(stack), 1), 80)
        stack = [truncate(line, per_line) for line in stack]
    err.stack_trace = stack
    if report.context:
        report.context = _clamp_context(report.context, limits)


_MAX_ITEMS = 200


def _clamp_context(context: dict[str, Any], limits: Limits) -> dict[str, Any]:
    def walk(value: Any, depth: int) -> Any:
        if isinstance(value, dict):
            if depth >= limits.max_context_depth:
                return "[depth limit]"
            items = list(value.items())
            out = {str(k)[:256]: walk(v, depth + 1) for k, v in items[:_MAX_ITEMS]}
            if len(items) > _MAX_ITEMS:
                out["…"] = f"[{len(items) - _MAX_ITEMS} more keys]"
            return out
        if isinstance(value, list):
            if depth >= limits.max_context_depth:
                return "[depth limit]"
            kept = [walk(v, depth + 1) for v in value[:_MAX_ITEMS]]
            if len(value) > _MAX_ITEMS:
                kept.append(f"[{len(value) - _MAX_ITEMS} more items]")
            return kept
        if isinstance(value, str):
            return truncate(value, 4096)
        if isinstance(value, int) and not -(2**63) <= value < 2**63:
            return str(value)
        return value

    clamped: dict[str, Any] = walk(context, 0)
    import orjson

    size = len(orjson.dumps(clamped, default=str))
    if size > limits.max_context_bytes:
        return {
            "_truncated": truncate(
                orjson.dumps(clamped, default=str).decode(), limits.max_context_bytes
            )
        }
    return clamped
