"""Image arguments from agents and MCP clients, checked before anything is read.

An agent names an image as a string. Accepted: a ``data:image/...;base64,`` URL or bare base64;
a path, but only inside the folders this app allows (its upload folder, say), never anywhere
else on the machine; and, when allowed, a public http(s) URL, fetched with a size and time limit,
never from this machine or a private network, never following redirects.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import socket
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

from .errors import InvalidInputError

MAX_IMAGE_BYTES = 15 * 1024 * 1024
URL_TIMEOUT = 10.0
_DATA_URL = re.compile(r"^data:image/[\w.+-]+;base64,(?P<data>.*)$", re.S)
_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]+$")
_HINT = "give a data:image/...;base64 URL, a public http(s) URL, or a photo uploaded to this app"


def _decode(data: str) -> bytes:
    if len(data) > MAX_IMAGE_BYTES * 4 // 3 + 16:
        raise InvalidInputError(f"the image is larger than {MAX_IMAGE_BYTES // 2**20} MB")
    try:
        return base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        raise InvalidInputError("the image's base64 data cannot be decoded", _HINT) from None


def _public_host(host: str) -> bool:
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses)


def _fetch(url: str) -> bytes:
    import httpx

    host = urlparse(url).hostname or ""
    if not _public_host(host):
        raise InvalidInputError(f"the image URL's host {host!r} is not a public internet address", _HINT)
    try:
        with httpx.stream("GET", url, timeout=URL_TIMEOUT, follow_redirects=False) as response:
            if response.status_code != 200:
                raise InvalidInputError(f"fetching the image gave HTTP {response.status_code}", _HINT)
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_IMAGE_BYTES:
                    raise InvalidInputError(f"the image at that URL is larger than {MAX_IMAGE_BYTES // 2**20} MB")
            return bytes(data)
    except httpx.HTTPError as error:
        raise InvalidInputError(f"cannot fetch the image ({error})", _HINT) from None


def resolve_image_argument(value: str, roots: Sequence[Path] = (), allow_urls: bool = False) -> bytes | Path:
    """The image an argument names, as bytes or as an allowed file path; a clear error otherwise."""
    text = (value or "").strip()
    if not text:
        raise InvalidInputError("no image was given", _HINT)
    if match := _DATA_URL.match(text):
        return _decode(match.group("data"))
    scheme = urlparse(text).scheme.lower()
    if scheme in ("http", "https"):
        if not allow_urls:
            raise InvalidInputError(
                "this app does not fetch images from URLs", "send the image as a data: URL (base64)"
            )
        return _fetch(text)
    if scheme and len(scheme) > 1:
        raise InvalidInputError(f"unsupported image reference ({scheme}:)", _HINT)
    if len(text) > 256 and _BASE64.match(text):
        return _decode(text)
    path = Path(text).expanduser()
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise InvalidInputError("that image file is not available to this app", _HINT) from None
    for root in roots:
        try:
            resolved.relative_to(Path(root).resolve())
        except ValueError:
            continue
        if resolved.is_file():
            return resolved
    raise InvalidInputError("that image file is not available to this app", _HINT)
