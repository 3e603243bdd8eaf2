"""Log Center in a FastAPI app: every exception a route lets escape is reported, and the
client gets the usual 500.

    from fastapi import FastAPI
    from logcenter_fastapi import add_log_center

    app = FastAPI()
    add_log_center(app)

HTTPException and validation errors keep their own handlers: they are answers, not bugs.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from logcenter_report import report_error_in_background


def add_log_center(app: FastAPI) -> None:
    """Report unhandled exceptions of `app` to Log Center."""

    async def report_unhandled(request: Request, exc: Exception) -> JSONResponse:
        context = {
            "url": request.url.path,
            "method": request.method,
            "request_id": request.headers.get("x-request-id"),
        }
        report_error_in_background(exc, context)
        return JSONResponse({"detail": "Internal Server Error"}, status_code=500)

    app.add_exception_handler(Exception, report_unhandled)
