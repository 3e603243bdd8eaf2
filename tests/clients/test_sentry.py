"""Sentry SDKs pointed at a running stack by a project's DSN: the real sentry-sdk (brotli and
gzip, a Django view under DjangoIntegration) in processes of their own, a browser SDK's
envelope replayed as a beacon sends it, retries, and envelopes built to hurt."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
import uuid
import zlib
from pathlib import Path
from typing import Any

import brotli
import orjson
import psutil
import pytest

from bench.stack import RunningStack
from tests.clients.conftest import bugs_of, indexed, source_line, the_bug

HERE = Path(__file__).parent / "sentry"
APP = HERE / "app.py"


def project_dsn(stack: RunningStack, name: str) -> dict[str, Any]:
    """A project made ahead of its first event (PUT), with its DSN."""
    reply = stack.client.put(f"/api/v1/projects/{name}", json={"name": name})
    assert reply.status_code == 200, reply.text
    project: dict[str, Any] = reply.json()
    assert (
        project["dsn"] == f"http://{project['public_key']}@127.0.0.1:{stack.port}/{project['id']}"
    )
    return project


def run_app(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, str(APP), *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def envelope(header: dict[str, Any], *items: tuple[dict[str, Any], bytes]) -> bytes:
    lines = [orjson.dumps(header)]
    for item_header, payload in items:
        lines += [orjson.dumps(item_header), payload]
    return b"\n".join(lines) + b"\n"


def event(event_id: str, error_type: str = "RetriedError", line: int = 7, **more: Any) -> bytes:
    frame = {"filename": "app/jobs.py", "function": "run", "lineno": line, "in_app": True}
    return orjson.dumps(
        {
            "event_id": event_id,
            "timestamp": "2026-11-30T08:00:00.250Z",
            "exception": [{"type": error_type, "value": "x", "stacktrace": {"frames": [frame]}}],
            "tags": [["queue", "mail"], ["attempt", "3"]],
            **more,
        }
    )


@pytest.mark.parametrize("algo", ["br", "gzip"])
def test_sdk_exceptions_group_by_line(stack: RunningStack, algo: str) -> None:
    project = project_dsn(stack, f"sentry_py_{algo}")
    run_app("capture", project["dsn"], algo)
    indexed(stack)
    bugs = {b["error_type"]: b for b in bugs_of(stack, project["project_id"])}
    assert {k: b["count"] for k, b in bugs.items()} == {"OrderLocked": 2, "KeyError": 1}
    locked = the_bug(stack, project["project_id"], "OrderLocked")
    # The SDK names a file by its path under sys.path: in a project, its repository path.
    assert (locked["file_path"], locked["line_number"]) == (
        "app.py",
        source_line(APP, "the line both captures point at"),
    )
    assert bugs["KeyError"]["line_number"] == source_line(APP, "the other line")
    assert (locked["message"], locked["environment"], locked["version"]) == (
        "order 1 is locked",
        "staging",
        "shop@1.4.2",
    )
    assert locked["stack_trace"][-1] == "OrderLocked: order 1 is locked"
    assert 'raise OrderLocked(f"order {order} is locked")' in "\n".join(locked["stack_trace"])


def test_an_older_release_leaves_a_fixed_bug_fixed(stack: RunningStack) -> None:
    """The SDK's `release` is the version the regression rule compares: fixed in shop@1.5.0, the
    same error sent again by shop@1.4.2 (an old client still running) counts and stays fixed."""
    project = project_dsn(stack, "sentry_release")
    run_app("capture", project["dsn"], "gzip")
    locked = the_bug(stack, project["project_id"], "OrderLocked")
    assert locked["newest_version"] == "shop@1.4.2"
    for status in ("VERIFYING", "PENDING_FIX", "FIXING"):
        moved = stack.client.put(f"/api/v1/bugs/{locked['id']}/status", json={"status": status})
        assert moved.status_code == 200, moved.text
    fixed = stack.client.put(
        f"/api/v1/bugs/{locked['id']}/status",
        json={"status": "FIXED", "fixed_version": "shop@1.5.0"},
    )
    assert fixed.status_code == 200, fixed.text
    run_app("capture", project["dsn"], "gzip")
    indexed(stack)
    after = stack.client.get(f"/api/v1/bugs/{locked['id']}").json()
    assert (after["count"], after["status"], after["regression_count"]) == (4, "FIXED", 0)
    assert after["fixed_version"] == "shop@1.5.0"


def test_django_view_error_reaches_a_bug_with_its_request(stack: RunningStack) -> None:
    project = project_dsn(stack, "sentry_django")
    run_app("django", project["dsn"])
    bug = the_bug(stack, project["project_id"], "OrderLocked")
    assert (bug["file_path"], bug["line_number"]) == (
        "app.py",
        source_line(APP, "the Django view's line"),
    )
    request = bug["context"]["request"]
    assert (request["method"], request["query_string"]) == ("GET", "expand=items")
    assert request["url"] == bug["context"]["url"] == "http://shop.example.com/orders/42/"
    assert request["headers"] == {"Host": "shop.example.com", "Cookie": "[Filtered]"}
    assert bug["context"]["transaction"] == "/orders/{order_id}/"


def test_browser_envelope_sent_as_a_beacon(stack: RunningStack) -> None:
    project = project_dsn(stack, "sentry_browser")
    origin = {"Origin": "https://shop.example.com"}
    url = f"/api/{project['id']}/envelope/"
    asked = "x-sentry-auth,content-encoding,sentry-trace,baggage,content-type"
    preflight = stack.client.options(
        url,
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": asked,
        },
    )
    assert preflight.status_code == 200
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert all(name in allowed for name in asked.split(","))
    body = (HERE / "browser.envelope").read_bytes().replace(b"__DSN__", project["dsn"].encode())
    sent = stack.client.post(
        url,
        params={"sentry_key": project["public_key"], "sentry_version": "7"},
        content=body,
        headers={"Content-Type": "text/plain;charset=UTF-8", **origin},
    )
    assert sent.status_code == 200, sent.text
    assert sent.json() == {"id": "9f2c4a7e1b3d4c5e8f6a0b1c2d3e4f50"}
    exposed = sent.headers["access-control-expose-headers"].lower()
    assert "x-sentry-rate-limits" in exposed and "retry-after" in exposed
    bug = the_bug(stack, project["project_id"], "TypeError")
    # The last in-app frame, not the library frame below it.
    assert (bug["file_path"], bug["line_number"]) == (
        "https://shop.example.com/static/js/main.3f2a1c.js",
        1,
    )
    assert bug["message"] == "Cannot read properties of undefined (reading 'price')"
    assert (bug["version"], bug["level"], bug["count"]) == ("web@2.3.0", "ERROR", 1)
    assert bug["first_seen"].startswith("2025-11-30T09:12:44.51")
    context = bug["context"]
    assert context["tags"] == {"page": "cart", "locale": "zh-CN"}
    assert context["user"]["id"] == "u_42" and context["contexts"]["browser"]["name"] == "Chrome"
    assert context["extra"] == {"cart_items": 3, "auth_token": "[Filtered]"}
    assert context["url"] == "https://shop.example.com/cart?coupon=SAVE10"


def test_retries_of_an_event_count_once(stack: RunningStack) -> None:
    project = project_dsn(stack, "sentry_retries")
    first, other = uuid.uuid4().hex, uuid.uuid4().hex
    auth = {"X-Sentry-Auth": f"Sentry sentry_key={project['public_key']}, sentry_version=7"}
    url = f"/api/{project['id']}"
    sends = [
        (f"{url}/envelope/", envelope({"event_id": first}, ({"type": "event"}, event(first)))),
        (f"{url}/envelope/", envelope({"event_id": first}, ({"type": "event"}, event(first)))),
        (f"{url}/store/", event(first)),  # the same event by the older endpoint
        (f"{url}/store/", event(other)),
        # The SDK's own grouping: one bug across lines.
        (f"{url}/store/", event(uuid.uuid4().hex, "QueueError", 8, fingerprint=["mail-queue"])),
        (f"{url}/store/", event(uuid.uuid4().hex, "QueueError", 9, fingerprint=["mail-queue"])),
    ]
    for path, body in sends:
        reply = stack.client.post(path, content=zlib.compress(body), headers={
            **auth, "Content-Encoding": "deflate"})  # fmt: skip
        assert reply.status_code == 200, reply.text
    # The key in the envelope header alone; a raw deflate stream.
    third = uuid.uuid4().hex
    squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    header = {"event_id": third, "dsn": project["dsn"]}
    raw = squeezer.compress(envelope(header, ({"type": "event"}, event(third)))) + squeezer.flush()
    reply = stack.client.post(
        f"{url}/envelope/", content=raw, headers={"Content-Encoding": "deflate"}
    )
    assert reply.json() == {"id": third}
    message = {"message": "mail queue is backing up", "level": "warning", "timestamp": 1764493964}
    reply = stack.client.post(f"{url}/store/", content=orjson.dumps(message), headers=auth)
    assert reply.status_code == 200 and len(reply.json()["id"]) == 32
    indexed(stack)
    bugs = {b["error_type"]: b for b in bugs_of(stack, project["project_id"])}
    counts = {k: b["count"] for k, b in bugs.items()}
    assert counts == {"RetriedError": 3, "Message": 1, "QueueError": 2}
    assert (bugs["Message"]["message"], bugs["Message"]["level"]) == (
        "mail queue is backing up",
        "WARNING",
    )
    bug = bugs["RetriedError"]
    full = stack.client.get(f"/api/v1/bugs/{bug['id']}").json()
    assert full["context"]["tags"] == {"queue": "mail", "attempt": "3"}


def test_wrong_keys_and_hostile_envelopes_get_a_4xx(stack: RunningStack) -> None:
    project = project_dsn(stack, "sentry_hostile")
    good = {"X-Sentry-Auth": f"Sentry sentry_key={project['public_key']}"}
    url = f"/api/{project['id']}/envelope/"
    one = envelope({}, ({"type": "event"}, event(uuid.uuid4().hex, "Hostile")))
    deep = b'{"type":"event"}\n' + b"[" * 100_000 + b"]" * 100_000
    nested = b'{"extra":' + b'{"a":' * 500 + b"1" + b"}" * 501  # JSON, yet too deep to scrub
    many = b"{}\n" + b'{"type":"session"}\n{}\n' * 10_000
    bomb = _brotli_bomb(1 << 30)
    assert len(bomb) < 1024
    cases: list[tuple[str, str, bytes, dict[str, str], int]] = [
        ("no key", url, one, {}, 401),
        ("wrong key", url, one, {"X-Sentry-Auth": "Sentry sentry_key=" + "0" * 32}, 403),
        ("unknown project", f"/api/{project['id'] + 10_000}/envelope/", one, good, 404),
        ("not a number", "/api/shop/envelope/", one, good, 404),
        ("negative length", url, b'{}\n{"type":"event","length":-5}\n{}', good, 400),
        ("length past the end", url, b'{}\n{"type":"event","length":99}\n{}', good, 400),
        ("length not a number", url, b'{}\n{"type":"event","length":"9"}\n{}', good, 400),
        ("header not JSON", url, b"{\n", good, 400),
        ("deep JSON", url, b"{}\n" + deep, good, 400),
        ("deep event", url, b'{}\n{"type":"event"}\n' + nested, good, 400),
        ("event over 1 MiB", url, b'{}\n{"type":"event","length":2000000}\n{}', good, 413),
        ("ten thousand items", url, many, good, 400),
        ("brotli bomb", url, bomb, {**good, "Content-Encoding": "br"}, 413),
        (
            "gzip cut short",
            url,
            gzip.compress(one)[:-12],
            {**good, "Content-Encoding": "gzip"},
            400,
        ),
        ("unknown encoding", url, one, {**good, "Content-Encoding": "zstd"}, 415),
    ]
    api = psutil.Process(stack.procs["api"].pid)
    before = sum(p.memory_info().rss for p in [api, *api.children(recursive=True)])
    for what, path, body, headers, status in cases:
        started = time.monotonic()
        reply = stack.client.post(path, content=body, headers=headers)
        assert (what, reply.status_code) == (what, status), reply.text
        assert time.monotonic() - started < 5, what
    after = sum(p.memory_info().rss for p in [api, *api.children(recursive=True)])
    assert after - before < 200 * 1024 * 1024
    # Still serving, and nothing above was admitted. An attachment larger than an event may be
    # is skipped as it streams past; the event beside it lands.
    photo = bytes(range(256)) * (3 * 4096)
    attached = one + orjson.dumps({"type": "attachment", "length": len(photo)}) + b"\n" + photo
    sent = stack.client.post(url, content=attached, headers=good)
    assert sent.status_code == 200, sent.text
    indexed(stack)
    assert [b["error_type"] for b in bugs_of(stack, project["project_id"])] == ["Hostile"]


def _brotli_bomb(size: int) -> bytes:
    """`size` zero bytes, brotli-compressed (a GiB fits in under a kilobyte)."""
    squeezer = brotli.Compressor(quality=5, lgwin=24)
    chunk = bytes(1 << 24)
    out = b"".join(squeezer.process(chunk) for _ in range(size // len(chunk)))
    return out + squeezer.finish()
