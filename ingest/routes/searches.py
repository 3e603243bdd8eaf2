"""Saved searches: Discover's query, filters, columns and range kept under a name."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response
from pydantic import BaseModel

from ingest.deps import GUARDED_RESPONSES, MAX_ID, Admin, Reader, StoreDep
from store.models import SavedSearch, SavedSearchIn

router = APIRouter(prefix="/api/v1/searches", tags=["searches"], responses=GUARDED_RESPONSES)

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such saved search"}}
_NAME_TAKEN: dict[int | str, dict[str, Any]] = {
    409: {"description": "Another saved search has this name"}
}


#: A saved search's id: within what the stores hold (a larger one is a 422, not a 500).
SearchId = Annotated[int, Path(ge=1, le=MAX_ID)]


class SearchList(BaseModel):
    searches: list[SavedSearch]


@router.get("", response_model=SearchList, dependencies=[Reader], summary="List saved searches")
def list_searches(store: StoreDep) -> SearchList:
    return SearchList(searches=store.list_searches())


@router.post(
    "",
    response_model=SavedSearch,
    status_code=201,
    dependencies=[Admin],
    responses=_NAME_TAKEN,
    summary="Save a search",
    description="`filters` are pills (`field`, `value`, `negated`, `disabled`); `range` is "
    "relative (`15m`, `24h`, `7d`) or empty with absolute `start` and `end`; `columns` are the "
    "document table's fields in order. Names are unique.",
)
def create_search(body: SavedSearchIn, store: StoreDep) -> SavedSearch:
    return store.save_search(body)


@router.get(
    "/{search_id}",
    response_model=SavedSearch,
    dependencies=[Reader],
    responses=_NOT_FOUND,
    summary="Get a saved search",
)
def get_search(search_id: SearchId, store: StoreDep) -> SavedSearch:
    found = store.get_search(search_id)
    if found is None:
        raise HTTPException(404, f"saved search {search_id} not found")
    return found


@router.put(
    "/{search_id}",
    response_model=SavedSearch,
    dependencies=[Admin],
    responses={**_NOT_FOUND, **_NAME_TAKEN},
    summary="Replace a saved search (its id and creation time stay)",
)
def replace_search(search_id: SearchId, body: SavedSearchIn, store: StoreDep) -> SavedSearch:
    return store.save_search(body, search_id)


@router.delete(
    "/{search_id}",
    status_code=204,
    dependencies=[Admin],
    responses=_NOT_FOUND,
    summary="Delete a saved search",
)
def delete_search(search_id: SearchId, store: StoreDep) -> Response:
    if not store.delete_search(search_id):
        raise HTTPException(404, f"saved search {search_id} not found")
    return Response(status_code=204)
