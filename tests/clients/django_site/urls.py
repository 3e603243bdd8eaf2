"""Views that fail: a plain Django view, and REST framework views (one unhandled error, one
answer REST framework gives itself)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class PlainViewError(Exception):
    pass


class ApiViewError(Exception):
    pass


def plain(request: HttpRequest, user_id: str) -> HttpResponse:
    if user_id == "missing":
        raise Http404("no such user")  # a 404 answer: not a bug
    raise PlainViewError(f"no user {user_id}")  # reported by the middleware


class Orders(APIView):
    def get(self, request: Request) -> Response:
        raise ApiViewError("orders table is locked")  # reported once, by both hooks


class Missing(APIView):
    def get(self, request: Request) -> Response:
        raise NotFound("no such order")  # a 404 answer: not a bug


urlpatterns = [
    path("users/<str:user_id>/", plain),
    path("api/orders/", Orders.as_view()),
    path("api/missing/", Missing.as_view()),
]
