"""The repair reports the agent posts: one for the verification and one for every fixing round,
each saying what was tried, what ran, what came of it and what it cost, with secrets redacted
(the API shows them to anyone who may read the bug)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from agent.llm import Completion
from agent.prompt import analysis_of
from agent.sandbox import Redactor
from client.http import ApiClient
from store.models import RepairReportIn

#: How a report's test output starts: the sandbox its commands ran in, and its limits.
SANDBOX_LINE = "sandbox: "


@dataclass
class Reporter:
    """Posts the reports of one bug's repair; `model` is named when no model answered."""

    api: ApiClient
    bug_id: int
    model: str
    redact: Redactor

    def post(
        self,
        *,
        round_no: int,
        phase: str,
        completion: Completion | None,
        commands: list[str],
        output: str,
        passed: bool,
        started: float,
        failure_reason: str | None = None,
        changed: list[str] | None = None,
        diff: str = "",
        branch: str | None = None,
        commit: str | None = None,
        remark: str | None = None,
        isolation: str | None = None,
    ) -> None:
        """Post one report; `remark` is the agent's own note after the model's analysis,
        `isolation` how the commands ran (the sandbox and its limits), the output's first line."""
        r = self.redact
        analysis = analysis_of(completion.text) if completion else ""
        if remark:
            analysis = f"{analysis}\n\n{remark}".strip()
        if isolation:
            output = f"{SANDBOX_LINE}{isolation}\n{output}"
        self.api.post_report(
            RepairReportIn(
                bug_id=self.bug_id,
                round=round_no,
                phase=phase,
                analysis=r(analysis),
                changed_files=changed or [],
                diff=r(diff),
                test_command=r(" && ".join(commands)) if commands else None,
                test_output=r(output),
                passed=passed,
                failure_reason=r(failure_reason) if failure_reason else None,
                model=completion.model if completion else self.model,
                tokens=completion.tokens if completion else 0,
                cost=completion.cost if completion else 0.0,
                duration=round(time.monotonic() - started, 3),
                branch=branch,
                commit=commit,
            )
        )
