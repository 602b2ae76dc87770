"""What the app's web server does before Gradio sees a request: the Host allow-list, and the
page-sized photo copies it serves to remote agents.

**Host allow-list (DNS rebinding).** A web page on an attacker's domain can make a visitor's
browser send requests to an app on the visitor's own machine by pointing that domain's DNS at
127.0.0.1; the browser then sends ``Host: attacker.example``. Every request (the page, the API,
MCP, websockets) naming a host the app does not answer to is refused with 400 and one line that
says which setting adds it. By default the app answers to loopback names; listening beyond
loopback, also to this machine's names and addresses; in a Hugging Face Space, to the Space's host.
``VLM4REC_ALLOWED_HOSTS`` replaces the list (``*.example.com`` for a domain's names, ``*`` for any).

**MCP requests over the transport's 4 MiB** are answered as a tool error (see ``mcp_limits``).

**Photos for remote agents.** ``/images/<hash>.jpg`` serves the page-sized copies in the
thumbnail folder, and nothing else: the name is checked against its pattern, so no other file can
be named. Tool answers carry these URLs instead of paths on the server's disk.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import FileResponse, PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..settings import Settings, is_loopback, running_in_space
from .mcp_limits import answer_too_large, is_mcp_post, too_large
from .remote import IMAGES_ROUTE

log = logging.getLogger(__name__)
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
IMAGE_NAME = re.compile(r"[0-9a-f]{24}\.jpg")


def allowed_hosts(settings: Settings) -> list[str]:
    """The host names the app answers to: the setting's list, else the defaults above."""
    given = [h.strip().lower() for h in settings.allowed_hosts.split(",") if h.strip()]
    if given:
        return given
    hosts = list(LOOPBACK_HOSTS)
    if not is_loopback(settings.app_host):
        hosts += _this_machine(settings.app_host)
    if running_in_space() and (space_host := os.environ.get("SPACE_HOST")):
        hosts += [h.strip().lower() for h in space_host.split(",") if h.strip()]
    return list(dict.fromkeys(hosts))


def _this_machine(listening_on: str) -> list[str]:
    names = {socket.gethostname().lower(), socket.getfqdn().lower()}
    if listening_on not in ("0.0.0.0", "::", ""):
        names.add(listening_on.strip("[]").lower())
    for name in list(names):
        try:
            names.update(str(info[4][0]).lower() for info in socket.getaddrinfo(name, None))
        except OSError:
            continue
    return sorted(n for n in names if n)


def host_of(headers: Headers) -> str:
    """The host a request names, lower case, without its port or an IPv6 literal's brackets."""
    value = (headers.get("host") or "").strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    name, _, port = value.rpartition(":")
    return name if name and port.isdigit() else value


def matches(host: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        if pattern == "*" or host == pattern.strip("[]"):
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class AppGate:
    """ASGI middleware in front of Gradio: refuses unknown hosts, serves ``/images/<hash>.jpg``."""

    def __init__(self, app: ASGIApp, hosts: list[str], images: Path):
        self.app = app
        self.hosts = hosts
        self.images = images
        self._refused: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = host_of(Headers(scope=scope))
        if not matches(host, self.hosts):
            await self._refuse(host, scope, receive, send)
            return
        path = scope.get("path", "")
        if scope["type"] == "http" and is_mcp_post(scope) and (size := too_large(scope)) is not None:
            await answer_too_large(size, receive, scope, send)
            return
        if scope["type"] == "http" and path.startswith(IMAGES_ROUTE + "/"):
            await self._image(path[len(IMAGES_ROUTE) + 1 :])(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _image(self, name: str):
        file = self.images / name
        if not IMAGE_NAME.fullmatch(name) or not file.is_file():
            return PlainTextResponse("no such image", status_code=404)
        return FileResponse(file, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=86400"})

    async def _refuse(self, host: str, scope: Scope, receive: Receive, send: Send) -> None:
        shown = host or "(none)"
        if host not in self._refused:  # one line per host, not one per request
            self._refused.add(host)
            log.warning("refused requests naming the host %r: not in VLM4REC_ALLOWED_HOSTS (%s)", shown, self.hosts)
        what = "an IP address" if _is_ip(host) else "a host name"
        text = (
            f"This app does not answer to the host {shown!r} ({what} not on its list; a guard against DNS "
            "rebinding). If this is the app's own address, add it to VLM4REC_ALLOWED_HOSTS.\n"
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await PlainTextResponse(text, status_code=400)(scope, receive, send)
