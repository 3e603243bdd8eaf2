"""Log Center in a Django project: every exception a view lets escape is reported.

Put this file and logcenter_report.py next to manage.py (or in any package on the path), then
in settings.py:

    MIDDLEWARE = [
        # ... your middleware ...
        "logcenter_django.LogCenterMiddleware",
    ]

    # Django REST framework turns its own exceptions into answers before the middleware sees
    # them; to report those that become a 5xx too:
    REST_FRAMEWORK = {
        "EXCEPTION_HANDLER": "logcenter_django.custom_exception_handler",
    }

Plain Django needs the middleware only. A project that has its own EXCEPTION_HANDLER (the
guide's utils/exceptions.py) adds the lines of `custom_exception_handler` below to it instead.
With both hooks, an exception is still reported once.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from logcenter_report import report_error_in_background

#: What Django answers with a 4xx: the client's mistakes, not bugs.
CLIENT_ERRORS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)


def request_context(request: HttpRequest | None, **extra: Any) -> dict[str, Any]:
    """What a bug report says about the request that failed."""
    if request is None:
        return extra
    return {
        "request_path": request.path,
        "method": request.method,
        "request_id": request.headers.get("X-Request-ID"),
        **extra,
    }


class LogCenterMiddleware:
    """Reports exceptions raised by views; Django then answers as it always does."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self.get_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        if not isinstance(exception, CLIENT_ERRORS):
            report_error_in_background(exception, request_context(request))


def custom_exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    """REST framework's EXCEPTION_HANDLER: its usual answer, and a report unless that answer
    is a 4xx (validation errors, 404s and refused logins are the client's, not bugs)."""
    from rest_framework.views import exception_handler  # here: plain Django has no DRF

    response = exception_handler(exc, context)
    if response is None or response.status_code >= 500:
        view = context.get("view")
        report_error_in_background(
            exc, request_context(context.get("request"), view=type(view).__name__)
        )
    # ... the project's own handling of `response`, unchanged ...
    return response
