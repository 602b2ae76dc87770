"""An MCP request too large for the MCP transport, answered as a tool error instead of a dead session.

The MCP library's streamable HTTP transport refuses any request body over 4 MiB
(``mcp.server.transport_security.DEFAULT_MAX_REQUEST_BODY_SIZE``) with HTTP 413, and an MCP
client takes that as a broken connection: the session dies and the agent learns nothing. A photo
sent as a ``data:`` URL is base64, a third larger than the file, so about 3 MB of photo is the
most one call can carry. Such a request is answered here instead, before the transport sees it: a
JSON-RPC answer to the same request id, a tool result marked as an error, saying how large the
request was, what the limit is and what to do. Only the body's beginning and end are kept (the id and
the tool's name are there); the rest is read and discarded.
"""

from __future__ import annotations

import json
import re

from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import Receive, Scope, Send

MCP_MAX_BODY = DEFAULT_MAX_REQUEST_BODY_SIZE
LARGEST_PHOTO = MCP_MAX_BODY * 3 // 4 - 64 * 1024  # bytes of photo whose data: URL fits in one request
HEAD, TAIL = 8192, 512  # bytes kept of the body's beginning and end, to find the request's id and tool name
_ID = re.compile(rb'"id"\s*:\s*("(?:[^"\\]|\\.){0,200}"|-?\d{1,20})')
_TOOL = re.compile(rb'"name"\s*:\s*"([A-Za-z0-9_.-]{1,100})"')


def is_mcp_post(scope: Scope) -> bool:
    return scope.get("method") == "POST" and scope.get("path", "").rstrip("/").endswith("/gradio_api/mcp")


def too_large(scope: Scope) -> int | None:
    """The declared size of an MCP request the transport would refuse; None when it may pass."""
    length = Headers(scope=scope).get("content-length", "")
    size = int(length) if length.isdigit() else None
    return size if size is not None and size > MCP_MAX_BODY else None


async def answer_too_large(size: int, receive: Receive, scope: Scope, send: Send) -> None:
    head, tail = bytearray(), b""
    while True:  # read on to the end, keeping only the beginning and the end
        message = await receive()
        if message["type"] != "http.request":
            break
        body = message.get("body", b"")
        if len(head) < HEAD:
            head.extend(body[: HEAD - len(head)])
        tail = (tail + body)[-TAIL:]
        if not message.get("more_body", False):
            break
    # The id is written first by some clients and last by others (the mcp package's own client).
    found_id, tool = _ID.search(bytes(head)) or _ID.search(tail), _TOOL.search(bytes(head))
    if found_id is None:
        await PlainTextResponse(_text(size, None), status_code=413)(scope, receive, send)
        return
    request_id = json.loads(found_id.group(1))
    result = {
        "content": [{"type": "text", "text": _text(size, tool.group(1).decode() if tool else None)}],
        "isError": True,
    }
    await JSONResponse({"jsonrpc": "2.0", "id": request_id, "result": result})(scope, receive, send)


def _text(size: int, tool: str | None) -> str:
    call = f"this {tool} call" if tool else "this MCP request"
    return (
        f"Nothing was done: {call} is {size / 2**20:.1f} MiB, and this MCP server takes requests up to "
        f"{MCP_MAX_BODY / 2**20:.0f} MiB, which holds a photo of about {LARGEST_PHOTO / 2**20:.1f} MiB as a data: URL. "
        "Send a smaller copy of the photo (for example a JPEG 1600 pixels wide), or use the HTTP API, which takes "
        "larger photos."
    )
