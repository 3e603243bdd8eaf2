"""A scripted OpenAI-compatible chat server on 127.0.0.1 for repair-agent tests.

Each test gives the replies in order; the server answers `POST /v1/chat/completions` with the next
one and records every request body, so tests can read the prompts the agent sent. A reply may
carry a delay (timeouts) or an HTTP status (provider errors).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    text: str = ""
    delay: float = 0.0
    status: int = 200


@dataclass
class ScriptedLLM:
    """The server's state: what to answer next and what was asked."""

    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, *replies: str | Reply) -> None:
        with self.lock:
            self.replies = [r if isinstance(r, Reply) else Reply(r) for r in replies]
            self.requests.clear()

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self.lock:
            self.requests.append(body)
            if not self.replies:
                return Reply("script exhausted", status=500)
            return self.replies.pop(0)

    def prompts(self) -> list[str]:
        """Each request's messages joined into one text, in arrival order."""
        with self.lock:
            return [
                "\n".join(m.get("content") or "" for m in r.get("messages", []))
                for r in self.requests
            ]


def _handler(state: ScriptedLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server naming
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            reply = state.next_reply(body)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.status != 200:
                payload: dict[str, Any] = {"error": {"message": reply.text, "type": "server_error"}}
            else:
                payload = {
                    "id": f"chatcmpl-{len(state.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "scripted"),
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": reply.text},
                        }
                    ],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                }
            data = json.dumps(payload).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

    return Handler


class LLMServer:
    """Serves a ScriptedLLM on a free port until `stop()`."""

    def __init__(self) -> None:
        self.state = ScriptedLLM()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> LLMServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
