"""Bugs: faceted search, detail, the status workflow, occurrences and repair reports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool

from client.shapes import (
    MERGED_INTO_HEADER,
    BugList,
    EventList,
    RepairEnqueued,
    RepairReportList,
    RepairReportPage,
    Transitions,
)
from ingest import merge
from ingest import status as workflow
from ingest.alerts import fact as alert_fact
from ingest.autorepair import on_status_changed
from ingest.deps import GUARDED_RESPONSES, MAX_ID, Admin, Reader, ServicesDep, StoreDep
from ingest.gate import publish_status
from ingest.schemas import MergeIn, RepairReportBody, StatusChangeIn, invalid
from store.errors import NotFound
from store.models import Bug, RepairReport, RepairReportIn
from store.search import BugQuery
from store.vocabulary import BUG_SORT_PATTERN, DEFAULT_BUG_SORT, TRANSITIONS

router = APIRouter(prefix="/api/v1", tags=["bugs"], responses=GUARDED_RESPONSES)

Multi = Annotated[list[str] | None, Query()]
#: Ids are 64-bit in both stores: a larger number is a 422, not a database overflow.
BugId = Annotated[int, Path(ge=1, le=MAX_ID)]
NO_BUG: dict[int | str, dict[str, Any]] = {404: {"description": "No such bug"}}
Page = Annotated[int, Query(ge=1, le=100_000, description="1-based page number")]
Size = Annotated[int, Query(ge=1, le=500, description="items per page (max 500)")]


def bug_search(
    q: Annotated[
        str,
        Query(
            max_length=4000,
            description="Lucene syntax, e.g. "
            'level:ERROR AND message:"timed out" AND NOT status:FIXED',
        ),
    ] = "",
    project_id: Multi = None,
    source: Multi = None,
    status: Multi = None,
    level: Multi = None,
    environment: Multi = None,
    error_type: Multi = None,
    sort: Annotated[str, Query(pattern=BUG_SORT_PATTERN)] = DEFAULT_BUG_SORT,
) -> BugQuery:
    """The query and filters of a bug search (shared by the search and its export)."""
    given = {
        "project_id": project_id,
        "source": source,
        "status": status,
        "level": level,
        "environment": environment,
        "error_type": error_type,
    }
    filters = {k: v for k, v in given.items() if v}
    return BugQuery(q=q, filters=filters, sort=sort)


BugSearch = Annotated[BugQuery, Depends(bug_search)]


@router.get(
    "/bugs",
    response_model=BugList,
    dependencies=[Reader],
    responses={400: {"description": "Bad query; the message names the problem"}},
    summary="Search bugs",
)
def search_bugs(
    store: StoreDep, search: BugSearch, page: Page = 1, size: Size = 50, cursor: str | None = None
) -> BugList:
    result = store.search_bugs(
        search.model_copy(update={"page": page, "size": size, "cursor": cursor})
    )
    return BugList(
        total=result.total, items=result.items, facets=result.facets, next_cursor=result.next_cursor
    )


MERGED_INTO = MERGED_INTO_HEADER


def _bug(store: StoreDep, bug_id: int) -> Bug:
    bug = store.get_bug(bug_id)
    if bug is None:
        raise _missing(store, bug_id)
    return bug


def _missing(store: StoreDep, bug_id: int) -> HTTPException:
    """A 404 for `bug_id`; one merged away names the bug it lives in now."""
    target = store.merged_into(bug_id)
    if target is None:
        return HTTPException(404, f"bug {bug_id} not found")
    return HTTPException(
        404,
        f"bug {bug_id} was merged into bug {target} (/api/v1/bugs/{target})",
        headers={MERGED_INTO: str(target)},
    )


@router.get(
    "/bugs/{bug_id}",
    response_model=Bug,
    dependencies=[Reader],
    responses=NO_BUG,
    summary="Get a bug",
)
def get_bug(bug_id: BugId, store: StoreDep) -> Bug:
    return _bug(store, bug_id)


@router.get(
    "/bugs/{bug_id}/transitions",
    response_model=Transitions,
    dependencies=[Reader],
    responses=NO_BUG,
    summary="The statuses a bug may move to now",
)
def transitions(bug_id: BugId, store: StoreDep) -> Transitions:
    bug = _bug(store, bug_id)
    return Transitions(status=bug.status, allowed=list(TRANSITIONS[bug.status]))


@router.put(
    "/bugs/{bug_id}/status",
    response_model=Bug,
    dependencies=[Admin],
    summary="Move a bug through the workflow",
    description="A move to PENDING_FIX by anyone but the repair agent (`by` other than "
    '"agent") queues the bug\'s repair, as `POST /bugs/{bug_id}/repairs` does.',
    responses={
        404: {"description": "No such bug"},
        409: {"description": "Illegal move; the message lists the allowed targets"},
        422: {
            "description": "FIX_FAILED without failure_reason, or fixed_version with a move "
            "other than to FIXED, VERIFIED or DEPLOYED"
        },
    },
)
async def put_status(bug_id: BugId, body: StatusChangeIn, services: ServicesDep) -> Bug:
    try:
        bug = await run_in_threadpool(
            workflow.change_status,
            services.store,
            bug_id,
            body.status,
            failure_reason=body.failure_reason,
            note=body.note,
            by=body.by or "api",
            expected_status=body.expected_status,
            fixed_version=body.fixed_version,
        )
    except NotFound:
        raise HTTPException(404, f"bug {bug_id} not found") from None
    except workflow.IllegalTransition as exc:
        raise HTTPException(409, str(exc)) from None
    except workflow.MissingFailureReason as exc:
        raise invalid("body", "failure_reason", str(exc)) from None
    # Keep the gate in step: deduplicated replies show the new status, and an occurrence from
    # a release before the fixed version leaves a fixed bug fixed.
    pipe = services.sync_redis.pipeline()
    publish_status(pipe, services.gate.keys, bug_id, bug.status, bug.fixed_version)
    await run_in_threadpool(pipe.execute)
    await run_in_threadpool(
        on_status_changed, services.sync_redis, services.settings, bug, body.by or "api"
    )
    if found := alert_fact.status_fact(bug):  # repair finished or failed: alert rules decide
        settings = services.settings
        await run_in_threadpool(
            alert_fact.append,
            services.sync_redis,
            settings.redis_prefix,
            [found],
            settings.alerts_stream_maxlen,
        )
    return bug


@router.post(
    "/bugs/{bug_id}/merge",
    response_model=Bug,
    dependencies=[Admin],
    summary="Merge other bugs of the project into this one",
    description="Counts, first/last seen, occurrences, repair reports and history move to this "
    "bug; its history records each merged bug. The merged bugs are gone (their GET is a 404 "
    f"naming this bug, also in the {MERGED_INTO} header) and their fingerprints' new reports "
    "count here. Merging a bug merged here before changes nothing.",
    responses={
        404: {"description": "No such bug (the target)"},
        409: {"description": "A bug of another project, or one being repaired"},
        422: {"description": "Bad bug_ids (unknown, the target itself); the message names it"},
    },
)
async def merge_bugs(bug_id: BugId, body: MergeIn, services: ServicesDep) -> Bug:
    try:
        return await run_in_threadpool(
            merge.merge_bugs,
            services.store,
            services.sync_redis,
            services.settings.redis_prefix,
            bug_id,
            body.bug_ids,
            body.by or "api",
        )
    except NotFound:
        raise _missing(services.store, bug_id) from None
    except merge.MergeRefused as exc:
        if exc.conflict:
            raise HTTPException(409, str(exc)) from None
        raise invalid("body", exc.field, str(exc)) from None


@router.get(
    "/bugs/{bug_id}/events",
    response_model=EventList,
    dependencies=[Reader],
    responses=NO_BUG,
    summary="A bug's occurrences, newest first",
)
def bug_events(
    bug_id: BugId,
    store: StoreDep,
    page: Page = 1,
    size: Size = 50,
    cursor: str | None = None,
) -> EventList:
    _bug(store, bug_id)
    result = store.get_events(bug_id, page=page, size=size, cursor=cursor)
    return EventList(total=result.total, items=result.items, next_cursor=result.next_cursor)


@router.post(
    "/bugs/{bug_id}/repairs",
    status_code=202,
    response_model=RepairEnqueued,
    dependencies=[Admin],
    summary="Queue an AI repair of the bug",
    responses={**NO_BUG, 409: {"description": "A repair is already queued or running"}},
)
def enqueue_repair(bug_id: BugId, services: ServicesDep) -> RepairEnqueued:
    from agent.queue import enqueue_repair as enqueue

    _bug(services.store, bug_id)
    job_id = enqueue(services.sync_redis, bug_id, services.settings)
    if job_id is None:
        raise HTTPException(409, f"a repair of bug {bug_id} is already queued or running")
    return RepairEnqueued(job_id=job_id, bug_id=bug_id)


@router.get(
    "/bugs/{bug_id}/repair-reports",
    response_model=RepairReportList,
    dependencies=[Reader],
    responses=NO_BUG,
    summary="A bug's repair rounds, oldest first",
)
def bug_repair_reports(bug_id: BugId, store: StoreDep) -> RepairReportList:
    _bug(store, bug_id)
    _, reports = store.list_repair_reports(bug_id=bug_id, size=1000)
    return RepairReportList(reports=reports)


@router.post(
    "/bugs/{bug_id}/repair-reports",
    status_code=201,
    response_model=RepairReport,
    dependencies=[Admin],
    responses=NO_BUG,
    summary="Record one repair round",
)
def add_repair_report(bug_id: BugId, body: RepairReportBody, store: StoreDep) -> RepairReport:
    try:
        return store.add_repair_report(RepairReportIn(bug_id=bug_id, **body.model_dump()))
    except NotFound:
        raise HTTPException(404, f"bug {bug_id} not found") from None


@router.get(
    "/repair-reports",
    response_model=RepairReportPage,
    dependencies=[Reader],
    summary="All repair reports, newest first",
)
def repair_reports(
    store: StoreDep,
    project_id: str | None = None,
    passed: bool | None = None,
    page: Page = 1,
    size: Size = 50,
) -> RepairReportPage:
    total, reports = store.list_repair_reports(
        project_id=project_id, passed=passed, page=page, size=size
    )
    return RepairReportPage(total=total, reports=reports)
