"""The tools' security: no arbitrary file is read, URLs only when allowed and only public ones,
uploads that are not images get a clear message, and profile changes touch only the named user.

The URL tests resolve host names through a patched ``getaddrinfo`` (no DNS here); the size,
time and redirect limits are tested against a real HTTP server on 127.0.0.1, reached by patching
only the public-address check, which would otherwise (rightly) refuse it.
"""

from __future__ import annotations

import base64
import io
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from vlm4rec_agent import image_inputs
from vlm4rec_agent.app.handlers import ShopApp
from vlm4rec_agent.assistant import Conversation
from vlm4rec_agent.engine import Engine
from vlm4rec_agent.errors import InvalidInputError
from vlm4rec_agent.image_inputs import resolve_image_argument
from vlm4rec_agent.settings import Settings
from vlm4rec_agent.tools import ShopTools
from vlm4rec_agent.views import ProfileView


def png_bytes(colour=(52, 148, 62)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def catalog_engine(tmp_path_factory, model_cache, encoder, grounder, catalog_writer):
    """One ingested small catalog for the module's tests (each uses users of its own)."""
    home = tmp_path_factory.mktemp("tool-security")
    engine = Engine(Settings(home=home / "home", model_cache=model_cache), encoder=encoder, grounder=grounder)
    engine.ingest(catalog_writer(home / "catalog"))
    return engine


@pytest.fixture
def uploads(tmp_path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "photo.png").write_bytes(png_bytes())
    return folder


# --- paths -------------------------------------------------------------------------------------
def test_only_files_inside_the_allowed_folders_are_read(uploads, tmp_path, monkeypatch):
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes((200, 0, 0)))
    os.symlink(secret, uploads / "link.png")  # a link out of the upload folder
    os.symlink("/etc/passwd", uploads / "passwd.png")
    monkeypatch.chdir(uploads)
    monkeypatch.setenv("HOME", str(tmp_path))  # "~/secret.png" would name a real file
    refused = [
        "/etc/passwd",
        "../secret.png",
        "../../../../../../etc/passwd",
        str(uploads / ".." / "secret.png"),
        str(secret),
        "~/secret.png",
        str(uploads / "link.png"),
        str(uploads / "passwd.png"),
        str(uploads / "missing.png"),
        str(uploads),  # a folder
        "photo.png\x00.txt",
        "/" + "a." * 2500,  # a name too long for the file system
    ]
    for value in refused:
        with pytest.raises(InvalidInputError, match="that image file is not available to this app"):
            resolve_image_argument(value, [uploads])
    for value in ("file:///etc/passwd", "FILE:///etc/passwd", "ftp://example.com/x.png", "gopher://x"):
        with pytest.raises(InvalidInputError, match=r"unsupported image reference"):
            resolve_image_argument(value, [uploads])
    assert resolve_image_argument(str(uploads / "photo.png"), [uploads]) == uploads / "photo.png"
    assert resolve_image_argument("photo.png", [uploads]) == uploads / "photo.png"  # relative, inside


def test_without_allowed_folders_no_path_is_read(uploads):
    with pytest.raises(InvalidInputError, match="not available to this app"):
        resolve_image_argument(str(uploads / "photo.png"), [])


def test_the_tools_refuse_paths_outside_the_uploads_with_a_clear_message(catalog_engine, uploads):
    shop = ShopTools(catalog_engine, image_roots=[uploads])
    for call in (shop.describe_image, lambda image: shop.similar_items(image=image)):
        for value in ("/etc/passwd", "../../x.jpg", "file:///etc/passwd", "~/.ssh/id_rsa"):
            with pytest.raises(InvalidInputError, match="not available to this app|unsupported image reference"):
                call(value)
    assert shop.describe_image(str(uploads / "photo.png")).attributes.colors[0] == "green"


def test_data_urls_are_decoded_and_bad_ones_refused(uploads):
    good = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    assert resolve_image_argument(good) == png_bytes()
    with pytest.raises(InvalidInputError, match="no image was given"):
        resolve_image_argument("   ")
    with pytest.raises(InvalidInputError, match="larger than 15 MB"):
        resolve_image_argument("data:image/png;base64," + "A" * (21 * 2**20))
    with pytest.raises(InvalidInputError, match=r"unsupported image reference \(data:\)"):
        resolve_image_argument("data:text/html;base64,PHNjcmlwdD4=")


# --- URLs --------------------------------------------------------------------------------------
def test_urls_are_refused_unless_the_app_allows_them():
    for url in ("http://example.com/a.jpg", "https://127.0.0.1/a.jpg"):
        with pytest.raises(InvalidInputError, match="this app does not fetch images from URLs"):
            resolve_image_argument(url)


@pytest.fixture
def dns(monkeypatch):
    """Host names resolve from this table (literal addresses as themselves); no DNS is asked."""
    table = {
        "localhost": ["127.0.0.1", "::1"],
        "metadata.example": ["169.254.169.254"],
        "intranet.example": ["10.1.2.3"],
        "split.example": ["93.184.215.14", "192.168.1.5"],  # one public address is not enough
        "mapped.example": ["::ffff:127.0.0.1"],
        "nat64.example": ["64:ff9b::a9fe:a9fe"],  # 169.254.169.254 through NAT64
        "images.example": ["93.184.215.14"],
    }

    def getaddrinfo(host, port, *args, **kwargs):
        import ipaddress

        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            if host == "2130706433":  # 127.0.0.1 written as one number
                addresses = ["127.0.0.1"]
            elif host not in table:
                raise socket.gaierror(socket.EAI_NONAME, "unknown host") from None
            else:
                addresses = table[host]
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0)) for a in addresses]

    monkeypatch.setattr(image_inputs.socket, "getaddrinfo", getaddrinfo)
    return table


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/a.jpg",
        "http://127.0.0.1:7860/gradio_api/file=/etc/passwd",
        "http://2130706433/a.jpg",
        "http://10.0.0.8/a.jpg",
        "http://192.168.1.1/a.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8000/a.jpg",
        "http://[::ffff:127.0.0.1]/a.jpg",
        "http://[::7f00:1]/a.jpg",  # IPv4-compatible ::127.0.0.1
        "http://[64:ff9b:1::7f00:1]/a.jpg",  # the local-use NAT64 prefix, to 127.0.0.1
        "http://[64:ff9b:1::a9fe:a9fe]/a.jpg",
        "http://0.0.0.0/a.jpg",
        "https://metadata.example/a.jpg",
        "https://intranet.example/a.jpg",
        "https://split.example/a.jpg",
        "https://mapped.example/a.jpg",
        "https://nat64.example/a.jpg",
        "https://no-such-host.example/a.jpg",
        "https:///a.jpg",
    ],
)
def test_urls_to_this_machine_or_private_networks_are_refused(dns, url):
    with pytest.raises(InvalidInputError, match="is not a public internet address"):
        resolve_image_argument(url, allow_urls=True)


class ImageServer:
    """A local HTTP server: /ok.png, /big (over the cap), /liar (lies about nothing: no length),
    /redirect (to /ok.png), /slow (drips 40 pieces over 4 s). Records the Host headers it was sent,
    and how many pieces of /slow were taken before the client hung up."""

    SLOW_PIECES = 40

    def __init__(self):
        self.hosts: list[str] = []
        self.slow_taken = threading.Event()
        self.slow_pieces = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.hosts.append(self.headers.get("Host"))
                body = png_bytes()
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/ok.png")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                if self.path == "/ok.png":
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif self.path == "/big":
                    self.send_header("Content-Length", str(10 * 2**20))
                    self.end_headers()
                elif self.path == "/liar":  # no length announced; sends more than the cap
                    self.end_headers()
                    for _ in range(64):
                        self.wfile.write(b"\0" * 8192)
                elif self.path == "/slow":
                    self.end_headers()
                    try:
                        for _ in range(server.SLOW_PIECES):
                            self.wfile.write(b"\0" * 16)
                            self.wfile.flush()
                            server.slow_pieces += 1
                            time.sleep(0.1)
                    except OSError:  # the client hung up
                        pass
                    server.slow_taken.set()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def image_server(monkeypatch):
    server = ImageServer()
    # Unit isolation: every host counts as public and "resolves" to the local server.
    monkeypatch.setattr(image_inputs, "_public_address", lambda host: "127.0.0.1")
    monkeypatch.setattr(image_inputs, "MAX_IMAGE_BYTES", 256 * 1024)
    monkeypatch.setattr(image_inputs, "URL_TIMEOUT", 1.0)
    yield server
    server.close()


def test_a_public_image_is_fetched_from_the_checked_address(image_server):
    data = resolve_image_argument(f"http://images.example:{image_server.port}/ok.png", allow_urls=True)
    assert data == png_bytes()
    assert image_server.hosts == [f"images.example:{image_server.port}"]  # the name kept, the address pinned


def test_fetching_stops_at_the_size_cap_redirects_and_the_deadline(image_server):
    base = f"http://images.example:{image_server.port}"
    with pytest.raises(InvalidInputError, match="larger than 0 MB"):  # announced too large: not read
        resolve_image_argument(f"{base}/big", allow_urls=True)
    with pytest.raises(InvalidInputError, match="larger than 0 MB"):  # too large as it arrives
        resolve_image_argument(f"{base}/liar", allow_urls=True)
    with pytest.raises(InvalidInputError, match=r"redirects elsewhere \(HTTP 302\); redirects are not followed"):
        resolve_image_argument(f"{base}/redirect", allow_urls=True)
    with pytest.raises(InvalidInputError, match="took longer than 1 s"):
        resolve_image_argument(f"{base}/slow", allow_urls=True)
    assert image_server.slow_taken.wait(10)  # the client hung up at its deadline, not at the end of the drip
    assert image_server.slow_pieces < image_server.SLOW_PIECES
    with pytest.raises(InvalidInputError, match="fetching the image gave HTTP 404|cannot fetch"):
        resolve_image_argument(f"{base}/missing", allow_urls=True)


# --- uploads that are not images ------------------------------------------------------------------
def test_a_non_image_upload_reaches_the_assistant_and_gets_a_clear_message(catalog_engine, uploads):
    app = ShopApp(catalog_engine, catalog_engine.settings, upload_folder=uploads)
    for name, content in [
        ("notes.txt", b"just some text"),
        ("page.jpg", b"<html><script>alert(1)</script></html>"),
        ("empty.png", b""),
        ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>'),
    ]:
        (uploads / name).write_bytes(content)
        turn = list(app.reply(Conversation(user_id="uma"), "find something like this", str(uploads / name)))[-1]
        assert turn.text.startswith("Sorry, I could not do that:"), (name, turn.text)
        assert "Traceback" not in turn.text and len(turn.text) < 400
    assert catalog_engine.profile("uma").liked == []


# --- user scoping ------------------------------------------------------------------------------------
def test_profile_changes_touch_only_the_user_they_name(catalog_engine):
    shop = ShopTools(catalog_engine)
    shop.like_item("alice", "red-dress")
    shop.dislike_item("alice", "black-boots")
    shop.like_item("bob", "oak-table")
    shop.like_item("Alice", "grey-sofa")  # ids are exact: another shopper
    shop.like_item("alice ", "green-vase")  # surrounding spaces are not: the same one
    assert shop.reset_profile("alice").removed == 3
    assert [i.id for i in shop.show_profile("bob").liked] == ["oak-table"]
    assert [i.id for i in shop.show_profile("Alice").liked] == ["grey-sofa"]
    shop.dislike_item("bob", "red-dress")
    assert shop.show_profile("alice") == ProfileView(user="alice")
    assert shop.reset_profile('alice", "bob').removed == 0  # no id is a pattern over others
    assert shop.reset_profile("%").removed == 0
    assert len(shop.show_profile("bob").liked) == 1 and len(shop.show_profile("bob").disliked) == 1


def test_public_ipv6_addresses_stay_allowed_and_v4_in_v6_forms_are_judged_by_what_they_carry():
    from vlm4rec_agent.image_inputs import _is_public

    assert _is_public("2606:4700:4700::1111") and _is_public("64:ff9b::5db8:d70e")  # NAT64 to 93.184.215.14
    assert not _is_public("::7f00:1") and not _is_public("64:ff9b:1::5db8:d70e") and not _is_public("::ffff:10.0.0.1")
