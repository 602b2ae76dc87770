"""A scripted OpenAI-compatible chat completions server on 127.0.0.1, for tests and benchmarks.

It speaks just enough of the protocol (``POST /v1/chat/completions``) for the openai grounder:
a ``responder`` decides each reply from the request, so a test can script good JSON, fenced
JSON, broken answers, 429s, slow answers, dropped connections and refused keys. It records every
request body as it arrived, decoded (``requests``), and the largest number it was answering at
once (to measure client concurrency). With ``refuse_response_format`` it plays a server without
structured outputs: any request carrying ``response_format`` gets vLLM's old 400
(:data:`RESPONSE_FORMAT_REFUSAL`) before the responder is asked.

    with FakeOpenAIServer(lambda request: Reply(content='{"category": "dress"}')) as server:
        ... VLM4REC_OPENAI_BASE_URL=server.url ...
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    content: str | None = None  # the assistant message's text (for status 200)
    delay: float = 0.0  # seconds to wait before answering
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None  # a raw body, instead of a chat completion
    tool_calls: list[dict] | None = None  # [{"name": ..., "arguments": {...}}] for an agent to run
    reset: bool = False  # drop the connection with a TCP reset instead of answering


Responder = Callable[[dict], Reply]

# What vLLM before structured outputs answered to response_format json_schema (a pydantic error).
RESPONSE_FORMAT_REFUSAL = json.dumps(
    {
        "object": "error",
        "message": "1 validation error for ChatCompletionRequest\nresponse_format.type\n  Input should be 'text' or "
        "'json_object' [type=literal_error, input_value='json_schema', input_type=str]",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }
)


def scripted(*replies: Reply) -> Responder:
    """Reply with each of ``replies`` in turn, then keep repeating the last one."""
    lock = threading.Lock()
    position = [0]

    def respond(request: dict) -> Reply:
        with lock:
            reply = replies[min(position[0], len(replies) - 1)]
            position[0] += 1
        return reply

    return respond


class FakeOpenAIServer:
    def __init__(self, responder: Responder, api_key: str | None = None, refuse_response_format: bool = False):
        self.responder = responder
        self.api_key = api_key
        self.refuse_response_format = refuse_response_format
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                    pass

            def _reset(self) -> None:
                """Close the connection at once with a TCP RST (SO_LINGER 0): the client sees a reset."""
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()

            def _stream(self, request: dict, reply: Reply, calls: list[dict]) -> None:
                """Answer as server-sent events: the content a few characters at a time, then the tool calls."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()

                def event(delta: dict, finish: str | None = None) -> None:
                    chunk = {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion.chunk",
                        "model": request.get("model", ""),
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()

                event({"role": "assistant", "content": ""})
                text = reply.content or ""
                for start in range(0, len(text), 12):
                    event({"content": text[start : start + 12]})
                for index, call in enumerate(calls):
                    event({"tool_calls": [{"index": index, **call}]})
                event({}, "tool_calls" if calls else "stop")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    return self._send(400, json.dumps({"error": {"message": "body is not JSON"}}))
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    return self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}))
                if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    return self._send(401, json.dumps({"error": {"message": "invalid api key"}}))
                with server._lock:
                    server.requests.append(request)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    if server.refuse_response_format and "response_format" in request:
                        return self._send(400, RESPONSE_FORMAT_REFUSAL)
                    reply = server.responder(request)
                    if reply.delay:
                        time.sleep(reply.delay)
                    if reply.reset:
                        return self._reset()
                    if reply.body is not None:
                        return self._send(reply.status, reply.body, reply.headers)
                    if reply.status != 200:
                        body = json.dumps({"error": {"message": f"scripted {reply.status}"}})
                        return self._send(reply.status, body, reply.headers)
                    calls = [
                        {
                            "id": f"call_{i}",
                            "type": "function",
                            "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
                        }
                        for i, c in enumerate(reply.tool_calls or [])
                    ]
                    if request.get("stream"):
                        return self._stream(request, reply, calls)
                    message = {"role": "assistant", "content": reply.content or ""}
                    if calls:
                        message["tool_calls"] = calls
                    finish = "tool_calls" if calls else "stop"
                    completion = {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion",
                        "model": request.get("model", ""),
                        "choices": [{"index": 0, "finish_reason": finish, "message": message}],
                    }
                    return self._send(200, json.dumps(completion), reply.headers)
                finally:
                    with server._lock:
                        server.in_flight -= 1

        return Handler
