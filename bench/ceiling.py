"""The ceiling for the ingest benchmark: a bare FastAPI endpoint on the same path that only
validates the same pydantic model as the real one (`ingest.report.ReportIn`, from the raw JSON
bytes, its fastest path) and returns a constant. Whatever Log Center does beyond this (scrubbing,
fingerprinting, the Redis gate, middleware) shows up as the gap between the two figures.

Started like the API: `uvicorn bench.ceiling:create_app --factory`, one worker, same flags.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ingest.report import ReportIn

_OK = b'{"message":"Log deduplicated","id":1,"status":"NEW"}'


def create_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/api/v1/logs/report")
    async def report(request: Request) -> Response:
        try:
            ReportIn.model_validate_json(await request.body())
        except ValidationError:
            return Response(b'{"detail":"invalid"}', 422, media_type="application/json")
        return Response(_OK, media_type="application/json")

    return app
