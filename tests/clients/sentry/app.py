"""An application reporting with the real sentry-sdk, run as its own process by
tests/clients/test_sentry.py: `app.py capture DSN ALGO` or `app.py django DSN`.

`capture` raises the same exception from one line twice and another from a second line once;
`django` serves one request to a failing view under DjangoIntegration. Each flushes before it
exits, and exits non-zero when the SDK did not do what the test expects of it.
"""

from __future__ import annotations

import sys
from wsgiref.util import setup_testing_defaults

import sentry_sdk


class OrderLocked(Exception):
    pass


def fail(order: int) -> None:
    raise OrderLocked(f"order {order} is locked")  # the line both captures point at


def capture(dsn: str, algo: str) -> None:
    sentry_sdk.init(
        dsn=dsn,
        release="shop@1.4.2",
        environment="staging",
        _experiments={"transport_compression_algo": algo},
        auto_enabling_integrations=False,
    )
    transport = sentry_sdk.get_client().transport
    if getattr(transport, "_compression_algo", None) != algo:
        sys.exit(f"the SDK does not compress with {algo}")
    for order in (1, 2):
        try:
            fail(order)
        except OrderLocked:
            sentry_sdk.capture_exception()
    try:
        {}["sku"]  # the other line
    except KeyError:
        sentry_sdk.capture_exception()
    sentry_sdk.flush(10)


def django(dsn: str) -> None:
    """One request, through Django's WSGI application as a server would call it."""
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="sentry-test",
        ALLOWED_HOSTS=["shop.example.com"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
    )
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration()],
        auto_enabling_integrations=False,
        environment="production",
    )
    from django.core.wsgi import get_wsgi_application

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/orders/42/",
        "QUERY_STRING": "expand=items",
        "HTTP_HOST": "shop.example.com",
        "HTTP_COOKIE": "sessionid=s3cr3t",
    }
    setup_testing_defaults(environ)
    statuses: list[str] = []
    answer = get_wsgi_application()(environ, lambda status, headers: statuses.append(status))
    b"".join(answer)
    if statuses != ["500 Internal Server Error"]:
        sys.exit(f"the view answered {statuses}")
    sentry_sdk.flush(10)


def order_view(request: object, order_id: str) -> object:
    raise OrderLocked(f"order {order_id} is locked by checkout")  # the Django view's line


def _urls() -> list[object]:
    from django.urls import path

    return [path("orders/<str:order_id>/", order_view)]


def __getattr__(name: str) -> object:
    # Django reads ROOT_URLCONF's `urlpatterns` only once it is configured.
    if name == "urlpatterns":
        return _urls()
    raise AttributeError(name)


if __name__ == "__main__":
    if sys.argv[1] == "capture":
        capture(sys.argv[2], sys.argv[3])
    else:
        django(sys.argv[2])
