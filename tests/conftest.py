"""Shared test fixtures.

- The whole session is offline: hub libraries are told so, and any socket connection to a host
  other than this machine fails the test that makes it.
- Real parts are used wherever they run offline: the bundled all-MiniLM-L6-v2 (exported once per
  session to ONNX), EfficientNet-Lite0, embedded Chroma in a temporary folder.
- Product photos are generated: a coloured shape on a white backdrop, as catalog photos are.
- ``shared_data`` points at ../shared/data and skips, saying why, where it is absent.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import threading
from pathlib import Path

import pytest

os.environ.update(
    HF_HUB_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
    GRADIO_ANALYTICS_ENABLED="False",
    ANONYMIZED_TELEMETRY="False",
    TOKENIZERS_PARALLELISM="false",
)
for _name in [n for n in os.environ if n.startswith("VLM4REC_") or n in ("GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT")]:
    del os.environ[_name]  # a developer's own settings (and a host's Gradio variables) must not leak into tests

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VLM4REC_TEST_SHARED_DATA", REPO.parent / "shared" / "data"))


# --- no network --------------------------------------------------------------------------
def _is_local(address) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _guarded_connect(self, address):
    if not _is_local(address):
        raise RuntimeError(f"tests must not use the network (tried to connect to {address!r})")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _is_local(address):
        raise RuntimeError(f"tests must not use the network (tried to connect to {address!r})")
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex


# --- real parts, loaded once -------------------------------------------------------------
@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


# The session's encoder: what every Engine built inside a test (the CLI's, run in process) loads
# with the default settings and this session's model cache. Engines own their encoder and the
# library caches none across them; loading MiniLM for each CLI call would cost seconds each.
_SESSION_ENCODER: dict = {}
_SESSION_ENCODER_LOCK = threading.Lock()
_DEFAULT_ENCODER_ARGS = ("all-MiniLM-L6-v2", "cpu", 32, "auto")


def _session_encoder(model_cache: Path, load=None):
    """``load``: the real loader, when ``encoding.load_encoder`` is patched to come back here (a
    test whose first encoder is an engine's would otherwise wait on its own lock)."""
    from vlm4rec_agent import encoding

    with _SESSION_ENCODER_LOCK:
        if "encoder" not in _SESSION_ENCODER:
            _SESSION_ENCODER["encoder"] = (load or encoding.load_encoder)(*_DEFAULT_ENCODER_ARGS, model_cache)
        return _SESSION_ENCODER["encoder"]


@pytest.fixture(scope="session")
def encoder(model_cache):
    """The bundled all-MiniLM-L6-v2, run as the app runs it (ONNX export made on first load)."""
    return _session_encoder(model_cache)


@pytest.fixture(autouse=True)
def _engines_share_the_session_encoder(monkeypatch, model_cache):
    """An engine built in a test with the default encoder settings gets the session's encoder
    (loaded on first use, from any thread); any other model, device, backend or folder loads."""
    from vlm4rec_agent import encoding

    real = encoding.load_encoder

    def load(model, device="cpu", batch_size=32, backend="torch", cache_dir=None):
        if (model, device, batch_size, backend) == _DEFAULT_ENCODER_ARGS and cache_dir == model_cache:
            return _session_encoder(model_cache, real)
        return real(model, device, batch_size, backend, cache_dir)

    monkeypatch.setattr(encoding, "load_encoder", load)


@pytest.fixture(scope="session")
def grounder():
    from vlm4rec_agent.grounding.basic import BasicGrounder

    return BasicGrounder()


@pytest.fixture
def settings(tmp_path, model_cache):
    from vlm4rec_agent.settings import Settings

    return Settings(home=tmp_path / "home", model_cache=model_cache)


@pytest.fixture
def engine(settings, encoder, grounder):
    from vlm4rec_agent.engine import Engine

    return Engine(settings, encoder=encoder, grounder=grounder)


# --- generated product photos ------------------------------------------------------------
def draw_product(path: Path, colour: tuple[int, int, int], shape: str = "box", size: int = 160) -> Path:
    """A product shot: one coloured shape on a white backdrop, saved as JPEG (or PNG by suffix)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    box = (size // 5, size // 5, size * 4 // 5, size * 4 // 5)
    if shape == "disc":
        draw.ellipse(box, fill=colour)
    elif shape == "bar":
        draw.rectangle((size // 8, size * 2 // 5, size * 7 // 8, size * 3 // 5), fill=colour)
    else:
        draw.rectangle(box, fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


@pytest.fixture
def product_image(tmp_path):
    def make(name: str = "item.jpg", colour=(200, 30, 35), shape: str = "box") -> Path:
        return draw_product(tmp_path / "images" / name, colour, shape)

    return make


# A small catalog whose text and photos agree, so results can be checked by hand.
SMALL_CATALOG = [
    ("red-dress", (200, 30, 35), "Linen dress. Red summer dress in linen, casual and romantic, for the beach."),
    ("red-skirt", (190, 35, 40), "Cotton skirt. Red pleated skirt in cotton for summer days."),
    ("blue-dress", (40, 80, 200), "Silk dress. Blue evening dress in silk, elegant, for a wedding or a party."),
    ("navy-blazer", (25, 35, 80), "Wool blazer. Navy tailored blazer in wool for work. Formal."),
    ("black-boots", (20, 20, 22), "Leather boots. Black leather boots for winter."),
    ("white-lamp", (245, 245, 243), "Table lamp. White minimalist table lamp in metal for the bedroom."),
    ("oak-table", (160, 115, 75), "Dining table. Oak dining table, scandinavian style, for the dining room."),
    ("oak-chair", (150, 110, 70), "Chair. Oak chair, scandinavian style, for dining."),
    ("grey-sofa", (128, 128, 128), "Sofa. Grey three-seat sofa in cotton for the living room. Cosy."),
    ("green-vase", (50, 150, 60), "Vase. Green glass vase, decorative."),
]


def write_small_catalog(folder: Path) -> Path:
    """A JSONL catalog of ten generated products, with images relative to the file."""
    lines = []
    for item_id, colour, text in SMALL_CATALOG:
        draw_product(folder / "images" / f"{item_id}.jpg", colour)
        title, _, description = text.partition(". ")
        lines.append(
            json.dumps({"id": item_id, "title": title, "description": description, "image": f"images/{item_id}.jpg"})
        )
    path = folder / "items.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


@pytest.fixture
def small_catalog(tmp_path) -> Path:
    return write_small_catalog(tmp_path / "catalog")


@pytest.fixture(scope="session")
def catalog_writer():
    """The small catalog's writer, for fixtures wider than one test."""
    return write_small_catalog


@pytest.fixture
def loaded_engine(engine, small_catalog):
    report = engine.ingest(small_catalog)
    assert report.added == len(SMALL_CATALOG), report.summary()
    return engine


# --- shared real data --------------------------------------------------------------------
@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "ikea" / "items.jsonl").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA} (set VLM4REC_TEST_SHARED_DATA to its folder)")
    return SHARED_DATA


@pytest.fixture
def draw():
    """The photo generator itself, for tests that need their own paths."""
    return draw_product
