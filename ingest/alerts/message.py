"""What an alert says, in English or Chinese, before a channel puts it in its own format.

A `Message` is a title, labelled facts (project, error, message, environment, count, first and
last seen, failure reason, branch) and a link to the bug's page; a digest lists several bugs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from store.models import Bug
from store.timestamp import utc_iso

Language = Literal["en", "zh"]

_TITLES: dict[str, dict[Language, str]] = {
    "new_bug": {"en": "New bug", "zh": "新问题"},
    "regression": {"en": "Regression", "zh": "问题复发"},
    "frequency": {"en": "Frequent bug", "zh": "问题频发"},
    "repair_finished": {"en": "Repair finished", "zh": "修复完成"},
    "repair_failed": {"en": "Repair failed", "zh": "修复失败"},
    "test": {"en": "Test message", "zh": "测试消息"},
    "digest": {"en": "Alert digest", "zh": "告警汇总"},
}
_LABELS: dict[str, dict[Language, str]] = {
    "project": {"en": "Project", "zh": "项目"},
    "error": {"en": "Error", "zh": "错误"},
    "message": {"en": "Message", "zh": "消息"},
    "environment": {"en": "Environment", "zh": "环境"},
    "count": {"en": "Occurrences", "zh": "发生次数"},
    "first_seen": {"en": "First seen", "zh": "首次出现"},
    "last_seen": {"en": "Last seen", "zh": "最近出现"},
    "failure_reason": {"en": "Failure reason", "zh": "失败原因"},
    "branch": {"en": "Branch", "zh": "分支"},
    "window": {"en": "In the last minutes", "zh": "最近分钟内"},
    "open": {"en": "Open in Log Center", "zh": "在 Log Center 中查看"},
    "more": {"en": "more", "zh": "个其他问题"},
    "test_body": {
        "en": "Log Center can reach this channel.",
        "zh": "Log Center 可以向此渠道发送消息。",
    },
    "digest_body": {"en": "alerts were folded into this digest", "zh": "条告警已汇总为本消息"},
}
_MESSAGE_CHARS = 500


def title_of(trigger: str, language: Language) -> str:
    return _TITLES.get(trigger, _TITLES["new_bug"])[language]


def label(name: str, language: Language) -> str:
    return _LABELS[name][language]


@dataclass
class Message:
    trigger: str
    title: str
    #: (label, value) pairs in display order.
    facts: list[tuple[str, str]] = field(default_factory=list)
    link: str = ""
    link_text: str = ""
    #: For digests: one line per bug listed.
    lines: list[str] = field(default_factory=list)
    bug_ids: list[int] = field(default_factory=list)

    def text(self) -> str:
        """Plain text: title, facts, lines and link, one per line."""
        out = [self.title, *(f"{k}: {v}" for k, v in self.facts), *self.lines]
        if self.link:
            out.append(f"{self.link_text}: {self.link}")
        return "\n".join(out)

    def markdown(self) -> str:
        out = [f"### {self.title}", *(f"- **{k}**: {_md(v)}" for k, v in self.facts)]
        out += [f"- {_md(line)}" for line in self.lines]
        if self.link:
            out.append(f"\n[{self.link_text}]({self.link})")
        return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("\n", " ").replace("*", "\\*").replace("`", "'")


def bug_message(
    trigger: str,
    bug: Bug,
    language: Language,
    dashboard: str,
    *,
    window: tuple[int, int] | None = None,
    branch: str | None = None,
) -> Message:
    """The message of one alert about `bug`; `window` (occurrences, minutes) for frequency."""
    facts = [
        (label("project", language), bug.project_id),
        (label("error", language), bug.error_type or "-"),
        (label("message", language), bug.message[:_MESSAGE_CHARS]),
        (label("environment", language), bug.environment or "-"),
        (label("count", language), str(bug.count)),
        (label("first_seen", language), utc_iso(bug.first_seen)),
        (label("last_seen", language), utc_iso(bug.last_seen)),
    ]
    if window is not None:
        facts.append((f"{label('window', language)} ({window[1]})", str(window[0])))
    if bug.failure_reason:
        facts.append((label("failure_reason", language), bug.failure_reason[:_MESSAGE_CHARS]))
    if branch:
        facts.append((label("branch", language), branch))
    what = bug.error_type or bug.message[:80]
    title = f"[{bug.project_id}] {title_of(trigger, language)}: {what}"
    return Message(
        trigger=trigger,
        title=title,
        facts=facts,
        link=f"{dashboard}/bugs/{bug.id}",
        link_text=label("open", language),
        bug_ids=[bug.id],
    )


def digest_message(
    bugs: list[tuple[str, Bug]], total: int, language: Language, dashboard: str
) -> Message:
    """One message for `total` held alerts, naming the bugs given as (trigger, bug)."""
    lines = [
        f"{title_of(trigger, language)} #{bug.id} [{bug.project_id}] {bug.error_type}: "
        f"{bug.message[:120]}"
        for trigger, bug in bugs
    ]
    if total > len(bugs):
        lines.append(f"+{total - len(bugs)} {label('more', language)}")
    return Message(
        trigger="digest",
        title=f"{title_of('digest', language)}: {total} {label('digest_body', language)}",
        lines=lines,
        link=f"{dashboard}/bugs",
        link_text=label("open", language),
        bug_ids=[bug.id for _, bug in bugs],
    )


def probe_message(language: Language, dashboard: str) -> Message:
    return Message(
        trigger="test",
        title=f"Log Center: {title_of('test', language)}",
        lines=[label("test_body", language)],
        link=dashboard,
        link_text=label("open", language),
    )
