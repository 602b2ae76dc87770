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
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from .errors import InvalidInputError

MAX_IMAGE_BYTES = 15 * 1024 * 1024
URL_TIMEOUT = 10.0  # seconds for a whole download, and for each step of it
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# IPv6 forms that carry an IPv4 address Python's is_global does not look into: IPv4-compatible
# (::a.b.c.d, deprecated) and the local-use NAT64 prefix (RFC 8215), whose translators reach
# whatever IPv4 address they are given. Neither is ever a public image server: refused outright.
_NEVER_PUBLIC = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
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


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), which routes to it."""
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and any(ip in network for network in _NEVER_PUBLIC):
        return False
    inner = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    return ip.is_global and (inner is None or inner.is_global)


def _public_address(host: str) -> str:
    """The address to connect to for ``host``: resolved once, and only if every address it has is public.

    The connection then goes to this address (not to a second lookup), so a name that resolves
    to a public address when checked and to a private one when fetched cannot reach this machine.
    """
    refused = InvalidInputError(f"the image URL's host {host[:80]!r} is not a public internet address", _HINT)
    if not host:
        raise refused
    try:
        addresses = [info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]
    except (OSError, UnicodeError):
        raise refused from None
    if not addresses or not all(_is_public(a) for a in addresses):
        raise refused
    return addresses[0]


def _pinned(url: str) -> tuple[str, str, str]:
    """(URL to the checked address, Host header, TLS server name) for a public http(s) URL."""
    parts = urlparse(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        raise InvalidInputError("the image URL has an invalid port", _HINT) from None
    address = _public_address(host)
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{port}" if port else literal
    host_header = f"{host}:{port}" if port else host
    return urlunparse(parts._replace(netloc=netloc)), host_header, host


def _fetch(url: str) -> bytes:
    """A public image by URL: no redirects, at most MAX_IMAGE_BYTES, at most URL_TIMEOUT seconds in all."""
    import httpx

    target, host_header, server_name = _pinned(url)
    too_large = InvalidInputError(f"the image at that URL is larger than {MAX_IMAGE_BYTES // 2**20} MB", _HINT)
    deadline = time.monotonic() + URL_TIMEOUT
    try:
        with httpx.Client(timeout=URL_TIMEOUT, follow_redirects=False, trust_env=False) as client:
            request = client.build_request(
                "GET", target, headers={"Host": host_header}, extensions={"sni_hostname": server_name}
            )
            response = client.send(request, stream=True)
            try:
                if response.is_redirect:
                    raise InvalidInputError(
                        f"the image URL redirects elsewhere (HTTP {response.status_code}); redirects are not followed",
                        "give the address of the image itself",
                    )
                if response.status_code != 200:
                    raise InvalidInputError(f"fetching the image gave HTTP {response.status_code}", _HINT)
                if int(response.headers.get("Content-Length") or 0) > MAX_IMAGE_BYTES:
                    raise too_large
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > MAX_IMAGE_BYTES:
                        raise too_large
                    if time.monotonic() > deadline:
                        raise InvalidInputError(f"the image took longer than {URL_TIMEOUT:g} s to download", _HINT)
                return bytes(data)
            finally:
                response.close()
    except (httpx.HTTPError, ValueError) as error:
        raise InvalidInputError(f"cannot fetch the image ({type(error).__name__}: {error})", _HINT) from None


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
    try:
        resolved = Path(text).resolve(strict=True)  # no "~": a home folder is never an image root
    except (OSError, RuntimeError, ValueError):  # missing, a link loop, a NUL in the name
        raise InvalidInputError("that image file is not available to this app", _HINT) from None
    for root in roots:
        try:
            resolved.relative_to(Path(root).resolve())
        except ValueError:
            continue
        if resolved.is_file():
            return resolved
    raise InvalidInputError("that image file is not available to this app", _HINT)
