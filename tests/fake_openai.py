"""A local, offline OpenAI-compatible server for the LLM layer's tests.

``FakeOpenAI`` runs ``http.server`` in a thread on a free port of 127.0.0.1 and answers
what crewAI's native OpenAI client (the ``openai`` SDK) and langchain-openai send:

- ``POST /v1/chat/completions``: a ``chat.completion`` (or, with ``"stream": true``, SSE
  ``chat.completion.chunk`` events and ``[DONE]``) whose message content is the canned
  reply chosen for that request;
- ``GET /v1/models`` and ``GET /v1/models/<id>``: one model, ``fake-model``;
- anything else: 404 with an OpenAI-style error body.

A reply is chosen by the structured-output schema the request asks for
(``response_format.json_schema.name``, e.g. ``"ActorProposal"``), else by a key found in
the system message (e.g. an agent's role), else ``default``. A reply is a string (sent as
is, so tests can send malformed JSON) or any JSON-able value (sent as its JSON). With
``status`` other than 200 every completion fails with that HTTP status. Every request is
recorded in ``requests`` (method, path, headers, parsed JSON body).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

MODEL = "fake-model"


@dataclass(frozen=True)
class Recorded:
    """One request the fake server received: its method (``GET`` or ``POST``, the only ones
    it answers), path, headers and body."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    """The parsed JSON body; the text as received when it is not JSON; ``None`` when there
    is none (every GET)."""


class FakeOpenAI:
    """The fake endpoint; use as ``with FakeOpenAI(replies) as server: server.base_url``."""

    def __init__(
        self, replies: Mapping[str, Any] | None = None, *, status: int = 200, default: Any = ""
    ) -> None:
        self.replies: dict[str, Any] = dict(replies or {})
        self.default = default
        self.status = status
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def completions(self) -> list[Recorded]:
        """The chat-completion requests received so far, in order."""
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def reply_for(self, body: Mapping[str, Any]) -> Any:
        """The canned reply for a chat-completion request ``body``."""
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
        if schema in self.replies:
            return self.replies[schema]
        messages = body.get("messages") or []
        system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
        for key, reply in self.replies.items():
            if key in str(system):
                return reply
        return self.default

    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Silence the per-request log lines."""

            def _send_json(self, status: int, data: Any) -> None:
                payload = json.dumps(data).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _error(self, status: int, message: str) -> None:
                error = {"message": message, "type": "fake_error", "param": None, "code": None}
                self._send_json(status, {"error": error})

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    return json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    return raw.decode("utf-8", "replace")

            def do_GET(self) -> None:
                fake._record(Recorded("GET", self.path, dict(self.headers), None))
                model = {"id": MODEL, "object": "model", "created": 0, "owned_by": "fake"}
                if self.path.rstrip("/").endswith("/models"):
                    self._send_json(200, {"object": "list", "data": [model]})
                elif "/models/" in self.path:
                    self._send_json(200, model | {"id": self.path.rsplit("/", 1)[-1]})
                else:
                    self._error(404, f"no route for GET {self.path}")

            def do_POST(self) -> None:
                body = self._body()
                fake._record(Recorded("POST", self.path, dict(self.headers), body))
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._error(404, f"no route for POST {self.path}")
                    return
                if fake.status != 200:
                    self._error(fake.status, "the fake server was told to fail")
                    return
                if not isinstance(body, dict):
                    self._error(400, "the request body is not a JSON object")
                    return
                reply = fake.reply_for(body)
                content = reply if isinstance(reply, str) else json.dumps(reply)
                model = body.get("model", MODEL)
                if body.get("stream"):
                    self._stream(model, content)
                    return
                self._send_json(
                    200,
                    {
                        "id": f"chatcmpl-fake-{len(fake.requests)}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                                "logprobs": None,
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    },
                )

            def _stream(self, model: str, content: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0}
                deltas = [
                    ({"role": "assistant", "content": content}, None),
                    ({}, "stop"),
                ]
                for delta, finish in deltas:
                    chunk = base | {
                        "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        return Handler

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
