"""The repair job: verify a bug with a reproduction test, fix it in rounds, commit and push.

`repair_bug(bug_id)` is what RQ runs. It reads the bug and its project through the API, works in
a private worktree on `logcenter/fix-<bug id>`, finds the project's toolchain (`agent.toolchains`)
and prepares its environment, moves the bug through the workflow with `PUT /status` and posts a
repair report for the verification and for every fixing round. Every way it can fail ends in
FIX_FAILED (or CANNOT_REPRODUCE) with a reason that says what failed; a repair that fails before
anything was tried (no repository, no toolchain, a missing tool) goes there straight from NEW.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from agent.confinement import Confinement, worker_sandbox
from agent.edits import AppliedEdit, apply_blocks, parse_blocks
from agent.environment import PIPELINE_SOURCES, ProjectEnv
from agent.errors import EditError, EditOutsideRepo, NoRepository, RepairFailure, SandboxError
from agent.isolation import RunResult
from agent.isolation.base import size
from agent.llm import Completion, LLMClient
from agent.paths import Frame, RepoFiles, parse_frames
from agent.project import ProjectConfig, WorkerProjects, project_config
from agent.prompt import CodeContext, code_context, fix_messages, reproduction_messages
from agent.report import Reporter
from agent.sandbox import Redactor, clean_env, secret_values
from agent.settings import current_settings
from agent.toolchains import Toolchain
from agent.workspace import Workspace
from client.http import ApiClient, ApiError
from config.settings import Settings
from store.vocabulary import DONE, Status

log = logging.getLogger(__name__)


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
class Verification:
    """What the verification found: reproduced or not (and why not), with what it ran."""

    reproduced: bool
    reason: str | None
    run: RunResult | None = None
    completion: Completion | None = None
    changed: list[str] = field(default_factory=list)
    diff: str = ""


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
        self.project_env = ProjectEnv(None, None, self.env, dict(self.env))  # until detection
        self.api = ApiClient(self.settings.api_url, self.settings.admin_token)
        self.reporter = Reporter(self.api, self.bug_id, self.settings.llm_model, self.redact)
        self.llm = LLMClient(self.settings)
        self.ws: Workspace | None = None
        self.confinement: Confinement | None = None
        #: How the last command ran (the sandbox and its limits), and how much output the
        #: commands since the last report dropped, for the reports.
        self.isolation: str | None = None
        self.dropped = 0

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
        sandbox = worker_sandbox(self.settings.repair_sandbox)
        unavailable = sandbox.available()
        if unavailable:
            raise SandboxError(
                f"no sandbox to run the repair's code in, so nothing was run: {unavailable}"
            )
        if not self.project.has_repository:
            raise NoRepository(
                f"no repository configured for project {self.bug.project_id}: "
                "set repo_url or local_path"
            )
        self.ws = Workspace.open(self.project.source(), self.bug_id, self.settings.worker_cache_dir)
        self.confinement = Confinement(sandbox, self.settings, self.ws.path, self.bug.project_id)
        files = self.ws.repo.git.ls_files().splitlines()
        index = RepoFiles(files)
        reported = parse_frames(self.bug.stack_trace)
        if self.bug.file_path:
            reported.append(Frame(self.bug.file_path, self.bug.line_number or 1))
        self.frames = index.resolve_frames(reported)
        self.context = code_context(self.ws.path, self.frames, files)
        log.info("bug %s: worktree %s, frames %s", self.bug_id, self.ws.path, self.frames)
        self._set_up_toolchain()
        if not self._verify():
            return
        self._advance(Status.FIXING, "repair started")
        self._fix()

    def _advance(self, target: Status, note: str) -> None:
        """One legal move of the workflow (none if the bug is there already)."""
        if self.bug.status != target:
            self.bug = self.api.set_status(self.bug_id, target, note=note)

    # -- toolchain -----------------------------------------------------------------------------

    @property
    def tc(self) -> Toolchain | None:
        """The project's toolchain; None only for a pipeline bug run by its test_command."""
        return self.project_env.tc

    def _primary(self) -> str | None:
        """The repository path of the innermost resolved frame: where the error was raised."""
        return self.frames[-1].path if self.frames else None

    def _set_up_toolchain(self) -> None:
        """Detect the project's toolchain, check it and prepare its environment; tell the API
        what was found, usable or not."""
        assert self.ws is not None
        self.project_env = ProjectEnv.detect(
            self.ws.path,
            self.project.local_path,
            self._primary(),
            self.project.test_command,
            self.env,
        )
        suite = self.project_env.suite  # before preparing: commands read better without cache paths
        problem: str | None = None
        try:
            self.project_env.check(self.bug.source, self.bug.project_id)
            self._prepare()
        except RepairFailure as failure:
            problem = failure.reason
            raise
        finally:
            self._report_toolchain(
                self.project_env.info(self.redact(suite), problem and self.redact(problem))
            )

    def _prepare(self) -> None:
        """Build or reuse the project's environment; also after each reset of the worktree."""
        assert self.ws is not None and self.confinement is not None
        cache = self.settings.worker_cache_dir
        prepared = self.project_env.prepare(
            cache, self.bug.project_id, self.ws.base_commit, self.confinement.runner()
        )
        if prepared is not None:
            self.ws.ignored = prepared.ignored_paths
            if prepared.built:
                log.info("bug %s: built the environment %s", self.bug_id, prepared.root)

    def _report_toolchain(self, info: dict[str, Any]) -> None:
        """Best effort: a failure to report is logged, never the end of the repair."""
        try:
            self.api.report_toolchain(self.bug.project_id, info)
        except ApiError as exc:
            log.warning("bug %s: could not report the toolchain: %s", self.bug_id, exc)

    # -- verification ------------------------------------------------------------------------

    def _verify(self) -> bool:
        """True when the bug is reproduced (now PENDING_FIX); False when CANNOT_REPRODUCE."""
        in_workflow = self.bug.status in (Status.NEW, Status.VERIFYING)
        if self.bug.status == Status.NEW:
            self._advance(Status.VERIFYING, "verification started")
        started = time.monotonic()
        pipeline = self.bug.source in PIPELINE_SOURCES
        found = self._rerun_pipeline() if pipeline else self._reproduce()
        run = found.run
        self._report(
            phase="VERIFYING",
            completion=found.completion,
            changed=found.changed,
            diff=found.diff,
            commands=[run.command] if run else [],
            output=run.tail() if run else "",
            passed=found.reproduced,
            failure_reason=found.reason,
            started=started,
        )
        if run is not None and run.timed_out:
            self.reported_failure = True
            raise RepairFailure(found.reason or "test timeout")
        if found.reproduced:
            if in_workflow:
                by = self.repro_path or self.project_env.suite
                self._advance(Status.PENDING_FIX, f"reproduced by {by}")
            return True
        assert found.reason is not None
        if not in_workflow:
            self.reported_failure = True
            raise RepairFailure(found.reason)
        self.bug = self.api.set_status(
            self.bug_id, "CANNOT_REPRODUCE", failure_reason=found.reason, note=found.reason
        )
        return False

    def _rerun_pipeline(self) -> Verification:
        """A cicd/deployment failure is reproduced when the project's suite fails."""
        run = self._run(self.project_env.suite)
        if run.passed:
            reason = (
                f"cannot reproduce: `{run.command}` passes, the reported {self.bug.source} "
                "failure did not occur"
            )
            return Verification(False, reason, run)
        return Verification(True, None, run)

    def _reproduce(self) -> Verification:
        """Ask for a reproduction test in the project's runner and conventions, and run it."""
        assert self.tc is not None and self.ws is not None
        test_path = self.tc.test_path(self.bug_id, self._primary())
        completion = self.llm.complete(
            reproduction_messages(
                self.bug,
                self.context or CodeContext([], []),
                test_path,
                self.tc.conventions(self.bug_id, self._primary()),
            )
        )
        try:
            self.repro_path = self._create_reproduction(completion.text, test_path)
        except EditOutsideRepo:
            raise
        except EditError as exc:
            unusable = f"cannot reproduce: no usable test ({exc.reason})"
            return Verification(False, unusable, completion=completion)
        changed, diff = self.ws.staged_diff()
        run = self._run(self.tc.test_file_command(self.repro_path))
        reproduced, reason = self._judge(run)
        return Verification(reproduced, reason, run, completion, changed, diff)

    def _create_reproduction(self, reply: str, suggested: str) -> str:
        """Apply the reply's blocks, which may only create files; the test file's path."""
        assert self.ws is not None
        blocks = parse_blocks(reply)
        if any(b.search.strip() for b in blocks):
            raise EditError("edit not applicable: a reproduction may only create new files")
        created = [a.path for a in apply_blocks(self.ws.path, blocks) if a.created]
        if not created:
            raise EditError("edit not applicable: the reply creates no test file")
        path = suggested if suggested in created else created[0]
        self.repro_code = (self.ws.path / path).read_text(encoding="utf-8")
        return path

    def _judge(self, run: RunResult) -> tuple[bool, str | None]:
        """Reproduced means: the test failed, and its output names the reported error type (as
        the project's runner prints it: a JS TypeError, a Go panic, a Dart StateError)."""
        assert self.tc is not None
        if run.timed_out:
            return False, self._timeout_reason(run.command)
        if run.passed:
            return False, (
                f"cannot reproduce: the reproduction test {self.repro_path} passes; "
                f"no {self.bug.error_type} was raised"
            )
        if not self.tc.reproduces(run.output, self.bug.error_type):
            found = self._failing_test(run) or f"exit status {run.exit_code}"
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
            self._prepare()  # the reset removed what preparing linked into the worktree
            if self.repro_path and self.repro_code is not None:
                self.ws.write(self.repro_path, self.repro_code)
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
        planned = (
            [self.tc.test_file_command(self.repro_path)] if self.tc and self.repro_path else []
        )
        if self.project_env.suite not in planned:
            planned.append(self.project_env.suite)
        for command in planned:
            run = self._run(command)
            commands.append(command)
            parts.append(f"$ {command}\n{run.tail()}")
            if run.timed_out:
                return Checks(
                    False, commands, "\n".join(parts), self._timeout_reason(command), timed_out=True
                )
            if not run.passed:
                failing = (
                    self._failing_test(run) or f"`{command}` exited with status {run.exit_code}"
                )
                return Checks(False, commands, "\n".join(parts), failing)
        return Checks(True, commands, "\n".join(parts))

    def _succeed(
        self, completion: Completion, changed: list[str], diff: str, checks: Checks, started: float
    ) -> None:
        assert self.ws is not None
        # What was staged before the checks, as reported: not what the runs left in the worktree.
        commit = self.ws.commit(self._commit_message(), stage=False)
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
        """Run `command` in the worktree, in the sandbox (SandboxError when it cannot)."""
        assert self.confinement is not None
        env = self.project_env
        run = self.confinement.run(command, env.run_env, env.prepared, env.tools())
        self.isolation = run.isolation
        self.dropped += run.dropped_bytes
        return run

    def _failing_test(self, run: RunResult) -> str | None:
        """The first failing test the runner's output names."""
        return self.tc.failing_test(run.output) if self.tc else None

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

    def _report(self, **fields: Any) -> None:
        """Post a repair report of this round (see `Reporter.post` for the fields)."""
        branch = self.ws.branch if self.ws else None
        isolation = self.isolation if fields.get("commands") else None
        if isolation and self.dropped:
            isolation += f"; {size(self.dropped)} of output dropped from the middle"
        self.dropped = 0
        self.reporter.post(round_no=self.round_no, branch=branch, isolation=isolation, **fields)

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
