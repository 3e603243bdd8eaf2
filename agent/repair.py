"""The repair job: verify a bug with a reproduction test, fix it in rounds, commit and push.

`repair_bug(bug_id)` is what RQ runs. It reads the bug and its project through the API, works in
a private worktree on `logcenter/fix-<bug id>`, moves the bug through the workflow with
`PUT /status` and posts a repair report for the verification and for every fixing round. Every
way it can fail ends in FIX_FAILED (or CANNOT_REPRODUCE) with a reason that says what failed,
straight from where the bug is: its history holds only the moves that happened.
"""

from __future__ import annotations

import logging
import re
import shlex
import time
from dataclasses import dataclass, field
from typing import Any

from agent.edits import AppliedEdit, apply_blocks, parse_blocks
from agent.errors import EditError, EditOutsideRepo, NoRepository, RepairFailure
from agent.llm import Completion, LLMClient
from agent.paths import Frame, RepoFiles, parse_frames
from agent.project import ProjectConfig, WorkerProjects, project_config
from agent.prompt import CodeContext, analysis_of, code_context, fix_messages, reproduction_messages
from agent.sandbox import Redactor, RunResult, clean_env, run_command, secret_values
from agent.settings import current_settings
from agent.workspace import Workspace
from client.http import ApiClient
from config.settings import Settings
from store.models import RepairReportIn
from store.vocabulary import DONE, Status

log = logging.getLogger(__name__)
#: Sources whose bugs are checked by running the project's tests rather than a new test.
PIPELINE_SOURCES = frozenset({"cicd", "deployment"})
_FAILED_TEST = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


def repair_bug(bug_id: int) -> dict[str, Any]:
    """RQ job: repair one bug; returns its final status and failure reason."""
    return Repair(bug_id, current_settings()).run()


@dataclass
class Checks:
    """The outcome of running the reproduction test and the project's tests in one round."""

    passed: bool
    commands: list[str]
    output: str
    problem: str | None = None
    timed_out: bool = False


@dataclass
class Repair:
    bug_id: int
    settings: Settings
    reported_failure: bool = False
    repro_path: str | None = None
    repro_code: str | None = None
    round_no: int = 1
    context: CodeContext | None = None
    frames: list[Frame] = field(default_factory=list)

    def __post_init__(self) -> None:
        secrets = secret_values(self.settings)
        self.redact = Redactor(secrets)
        self.env = clean_env(secrets)
        self.api = ApiClient(self.settings.api_url, self.settings.admin_token)
        self.llm = LLMClient(self.settings)
        self.ws: Workspace | None = None

    # -- the job -----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        try:
            self.bug = self.api.get_bug(self.bug_id)
            self.project = self._project()
            try:
                self._repair()
            except RepairFailure as failure:
                self._fail(failure.reason)
            return {
                "bug_id": self.bug_id,
                "status": self.bug.status,
                "failure_reason": self.bug.failure_reason,
            }
        finally:
            if self.ws is not None:
                self.ws.close()
            self.api.close()

    def _project(self) -> ProjectConfig:
        api_view = self.api.get_project(self.bug.project_id)
        fallback = WorkerProjects().for_project(self.bug.project_id)
        return project_config(self.bug.project_id, api_view, fallback)

    def _repair(self) -> None:
        if self.bug.status in DONE:
            self._advance(Status.NEW, "repair requested")
        if not self.project.has_repository:
            raise NoRepository(
                f"no repository configured for project {self.bug.project_id}: "
                "set repo_url or local_path"
            )
        self.ws = Workspace.open(self.project.source(), self.bug_id, self.settings.worker_cache_dir)
        files = self.ws.repo.git.ls_files().splitlines()
        index = RepoFiles(files)
        reported = parse_frames(self.bug.stack_trace)
        if self.bug.file_path:
            reported.append(Frame(self.bug.file_path, self.bug.line_number or 1))
        self.frames = index.resolve_frames(reported)
        self.context = code_context(self.ws.path, self.frames, files)
        log.info("bug %s: worktree %s, frames %s", self.bug_id, self.ws.path, self.frames)
        if not self._verify():
            return
        self._advance(Status.FIXING, "repair started")
        self._fix()

    def _advance(self, target: Status, note: str) -> None:
        """One legal move of the workflow (none if the bug is there already)."""
        if self.bug.status != target:
            self.bug = self.api.set_status(self.bug_id, target, note=note)

    # -- verification ------------------------------------------------------------------------

    def _verify(self) -> bool:
        """True when the bug is reproduced (now PENDING_FIX); False when CANNOT_REPRODUCE."""
        in_workflow = self.bug.status in (Status.NEW, Status.VERIFYING)
        if self.bug.status == Status.NEW:
            self._advance(Status.VERIFYING, "verification started")
        started = time.monotonic()
        completion: Completion | None = None
        changed: list[str] = []
        diff = ""
        run: RunResult | None = None
        if self.bug.source in PIPELINE_SOURCES:
            run = self._run(self.project.test_command)
            reproduced = not run.passed
            reason = (
                None
                if reproduced
                else (
                    f"cannot reproduce: `{run.command}` passes, the reported {self.bug.source} "
                    "failure did not occur"
                )
            )
        else:
            completion = self.llm.complete(
                reproduction_messages(
                    self.bug,
                    self.context or CodeContext([], []),
                    self._suggested_test_path(),
                    self.project.test_command,
                )
            )
            try:
                self._create_reproduction(completion.text)
            except EditOutsideRepo:
                raise
            except EditError as exc:
                reproduced, reason = False, f"cannot reproduce: no usable test ({exc.reason})"
            else:
                assert self.ws is not None
                changed, diff = self.ws.staged_diff()
                run = self._run(self._repro_command())
                reproduced, reason = self._judge(run)
        self._report(
            phase="VERIFYING",
            completion=completion,
            changed=changed,
            diff=diff,
            commands=[run.command] if run else [],
            output=run.tail() if run else "",
            passed=reproduced,
            failure_reason=reason,
            started=started,
        )
        if run is not None and run.timed_out:
            self.reported_failure = True
            raise RepairFailure(reason or "test timeout")
        if reproduced:
            if in_workflow:
                by = self.repro_path or self.project.test_command
                self._advance(Status.PENDING_FIX, f"reproduced by {by}")
            return True
        assert reason is not None
        if not in_workflow:
            self.reported_failure = True
            raise RepairFailure(reason)
        self.bug = self.api.set_status(
            self.bug_id, "CANNOT_REPRODUCE", failure_reason=reason, note=reason
        )
        return False

    def _create_reproduction(self, reply: str) -> None:
        """Apply the reply's blocks, which may only create files; remember the test file."""
        assert self.ws is not None
        blocks = parse_blocks(reply)
        if any(b.search.strip() for b in blocks):
            raise EditError("edit not applicable: a reproduction may only create new files")
        created = [a.path for a in apply_blocks(self.ws.path, blocks) if a.created]
        if not created:
            raise EditError("edit not applicable: the reply creates no test file")
        suggested = self._suggested_test_path()
        self.repro_path = suggested if suggested in created else created[0]
        self.repro_code = (self.ws.path / self.repro_path).read_text(encoding="utf-8")

    def _suggested_test_path(self) -> str | None:
        assert self.ws is not None
        primary = self.frames[-1].path if self.frames else (self.bug.file_path or "")
        if not primary.endswith(".py"):
            return None
        folder = "tests/" if (self.ws.path / "tests").is_dir() else ""
        return f"{folder}test_logcenter_bug_{self.bug_id}.py"

    def _repro_command(self) -> str:
        if self.repro_path and self.repro_path.endswith(".py"):
            return f"python -m pytest -q -p no:cacheprovider {shlex.quote(self.repro_path)}"
        return self.project.test_command

    def _judge(self, run: RunResult) -> tuple[bool, str | None]:
        """Reproduced means: the test failed, and the reported error type shows in its output."""
        if run.timed_out:
            return False, self._timeout_reason(run.command)
        if run.passed:
            return False, (
                f"cannot reproduce: the reproduction test {self.repro_path} passes; "
                f"no {self.bug.error_type} was raised"
            )
        if self.bug.error_type and not re.search(
            rf"\b{re.escape(self.bug.error_type)}\b", run.output
        ):
            found = _failing_test(run) or f"exit status {run.exit_code}"
            return False, (
                f"cannot reproduce: the reproduction test {self.repro_path} failed "
                f"({found}) but not with {self.bug.error_type}"
            )
        return True, None

    # -- fixing ------------------------------------------------------------------------------

    def _fix(self) -> None:
        assert self.ws is not None and self.context is not None
        feedback: str | None = None
        reason = ""
        rounds = max(1, self.settings.repair_rounds)
        for self.round_no in range(1, rounds + 1):
            started = time.monotonic()
            self.ws.reset()
            if self.repro_path and self.repro_code is not None:
                target = self.ws.path / self.repro_path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(self.repro_code, encoding="utf-8")
            messages = fix_messages(
                self.bug, self.context, self.repro_path, self.repro_code, self.round_no, feedback
            )
            try:
                completion = self.llm.complete(messages)
            except RepairFailure as exc:
                self._round_failed(exc.reason, started)
                raise
            try:
                self._apply(completion.text)
            except EditOutsideRepo as exc:
                self._round_failed(exc.reason, started, completion)
                raise
            except EditError as exc:
                self._round_failed(exc.reason, started, completion)
                feedback = exc.reason
                reason = f"edit not applicable after {self.round_no} rounds: {exc.reason}"
                continue
            changed, diff = self.ws.staged_diff()
            checks = self._checks()
            if checks.passed:
                self._succeed(completion, changed, diff, checks, started)
                return
            problem = (
                checks.problem if checks.timed_out else f"tests still failing: {checks.problem}"
            )
            self._report_checks(completion, changed, diff, checks, started, problem)
            if checks.timed_out:
                self.reported_failure = True
                raise RepairFailure(checks.problem or "test timeout")
            reason = f"tests still failing after {self.round_no} rounds: {checks.problem}"
            feedback = (
                f"After your change the tests failed ({checks.problem}). The end of the "
                f"test output:\n{checks.output[-3000:]}"
            )
        self.reported_failure = True
        raise RepairFailure(reason)

    def _apply(self, reply: str) -> list[AppliedEdit]:
        assert self.ws is not None
        protected = {self.repro_path} if self.repro_path else set()
        return apply_blocks(self.ws.path, parse_blocks(reply), protected)

    def _checks(self) -> Checks:
        commands: list[str] = []
        parts: list[str] = []
        planned = [self._repro_command()] if self.repro_path else []
        if self.project.test_command not in planned:
            planned.append(self.project.test_command)
        for command in planned:
            run = self._run(command)
            commands.append(command)
            parts.append(f"$ {command}\n{run.tail()}")
            if run.timed_out:
                return Checks(
                    False, commands, "\n".join(parts), self._timeout_reason(command), timed_out=True
                )
            if not run.passed:
                failing = _failing_test(run) or f"`{command}` exited with status {run.exit_code}"
                return Checks(False, commands, "\n".join(parts), failing)
        return Checks(True, commands, "\n".join(parts))

    def _succeed(
        self, completion: Completion, changed: list[str], diff: str, checks: Checks, started: float
    ) -> None:
        assert self.ws is not None
        commit = self.ws.commit(self._commit_message())
        problem: str | None = None
        local_only: str | None = None
        if self.ws.push_to is None:
            local_only = (
                f"The branch {self.ws.branch} is local only, in the repository "
                f"{self.ws.source_path}: it has no remote to push to."
            )
        else:
            try:
                self.ws.push()
            except RepairFailure as exc:
                problem = exc.reason
        self._report_checks(
            completion, changed, diff, checks, started, problem, commit, remark=local_only
        )
        if problem:
            self.reported_failure = True
            raise RepairFailure(problem)
        note = f"fixed on {self.ws.branch} ({commit[:12]}) in round {self.round_no}"
        if local_only:
            note += f", local only in {self.ws.source_path}"
        self.bug = self.api.set_status(self.bug_id, "FIXED", note=note)
        log.info("bug %s: %s", self.bug_id, note)

    def _commit_message(self) -> str:
        where = f" in {self.frames[-1].path}" if self.frames else ""
        first = (self.bug.message.splitlines() or [""])[0][:200]
        lines = [f"Fix bug #{self.bug_id}: {self.bug.error_type}{where}", "", first, ""]
        if self.repro_path:
            lines.append(f"Reproduction test: {self.repro_path}")
        lines.append(f"Log Center bug: {self.bug_id} ({self.bug.project_id})")
        return self.redact("\n".join(lines))

    # -- bookkeeping ---------------------------------------------------------------------------

    def _run(self, command: str) -> RunResult:
        assert self.ws is not None
        return run_command(command, self.ws.path, self.settings.test_timeout, self.env)

    def _report_checks(
        self,
        completion: Completion,
        changed: list[str],
        diff: str,
        checks: Checks,
        started: float,
        problem: str | None,
        commit: str | None = None,
        remark: str | None = None,
    ) -> None:
        self._report(
            phase="FIXING",
            completion=completion,
            remark=remark,
            changed=changed,
            diff=diff,
            commands=checks.commands,
            output=checks.output[-4000:],
            passed=checks.passed,
            failure_reason=problem,
            commit=commit,
            started=started,
        )

    def _timeout_reason(self, command: str) -> str:
        return f"test timeout: `{command}` ran longer than {self.settings.test_timeout}s"

    def _round_failed(
        self, reason: str, started: float, completion: Completion | None = None
    ) -> None:
        self.reported_failure = True
        self._report(
            phase="FIXING",
            completion=completion,
            commands=[],
            output="",
            passed=False,
            failure_reason=reason,
            started=started,
        )

    def _report(
        self,
        *,
        phase: str,
        completion: Completion | None,
        commands: list[str],
        output: str,
        passed: bool,
        started: float,
        failure_reason: str | None = None,
        changed: list[str] | None = None,
        diff: str = "",
        commit: str | None = None,
        remark: str | None = None,
    ) -> None:
        """Post one repair report; `remark` is the agent's own note after the model's analysis."""
        r = self.redact
        analysis = analysis_of(completion.text) if completion else ""
        if remark:
            analysis = f"{analysis}\n\n{remark}".strip()
        self.api.post_report(
            RepairReportIn(
                bug_id=self.bug_id,
                round=self.round_no,
                phase=phase,
                analysis=r(analysis),
                changed_files=changed or [],
                diff=r(diff),
                test_command=r(" && ".join(commands)) if commands else None,
                test_output=r(output),
                passed=passed,
                failure_reason=r(failure_reason) if failure_reason else None,
                model=completion.model if completion else self.settings.llm_model,
                tokens=completion.tokens if completion else 0,
                cost=completion.cost if completion else 0.0,
                duration=round(time.monotonic() - started, 3),
                branch=self.ws.branch if self.ws else None,
                commit=commit,
            )
        )

    def _fail(self, reason: str) -> None:
        reason = self.redact(reason)
        log.warning("bug %s: FIX_FAILED: %s", self.bug_id, reason)
        if not self.reported_failure:
            self._report(
                phase=self.bug.status,
                completion=None,
                commands=[],
                output="",
                passed=False,
                failure_reason=reason,
                started=time.monotonic(),
            )
        if self.bug.status != Status.FIX_FAILED:
            self.bug = self.api.set_status(self.bug_id, "FIX_FAILED", failure_reason=reason)


def _failing_test(run: RunResult) -> str | None:
    """The first failing test pytest names in its summary (`FAILED tests/x.py::test_y`)."""
    match = _FAILED_TEST.search(run.output)
    return match.group(1) if match else None
