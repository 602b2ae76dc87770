"""Bad and unusual images, end to end: a catalog of good products plus one odd photo goes through
the real ``Engine.ingest`` (real grounder, encoder and Chroma), and the same bytes are uploaded
to ``describe`` and ``similar``.

An unreadable photo is skipped with a reason that says what it is and what to do; a readable one
(CMYK, 16-bit, palette, animated, EXIF-rotated, 100 megapixels) is stored as the shopper sees it.
Either way the good items are stored, nothing is half-written, a second ingest changes nothing,
and fixing the file and ingesting again stores it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vlm4rec_agent.catalogs import Columns
from vlm4rec_agent.engine import Engine
from vlm4rec_agent.errors import InvalidInputError
from vlm4rec_agent.grounding.protocol import BaseGrounder
from vlm4rec_agent.images import WORKING_SIZE, open_image
from vlm4rec_agent.ingest import IngestReport
from vlm4rec_agent.settings import Settings

from .conftest import check_store

RED, BLUE, GREEN = (200, 30, 35), (40, 80, 200), (50, 150, 60)
GOOD = {"good-red": RED, "good-blue": BLUE, "good-green": GREEN}
ODD = "odd"  # the id of the photo under test; its text names no colour, so colours come from pixels


class SeeingGrounder(BaseGrounder):
    """The real grounder, remembering each image it was shown (by image hash)."""

    def __init__(self, inner):
        self.inner = inner
        self.name, self.model_id, self.prompt_version = inner.name, inner.model_id, inner.prompt_version
        self.seen: dict[str | None, Image.Image] = {}

    def ground(self, inputs):
        for one in inputs:
            self.seen[one.image_hash] = one.image.copy()
        return self.inner.ground(inputs)


@pytest.fixture
def seeing(grounder):
    return SeeingGrounder(grounder)


@pytest.fixture
def shop(settings, encoder, seeing) -> Engine:
    return Engine(settings, encoder=encoder, grounder=seeing)


# --- photo makers -------------------------------------------------------------------------------
def product(colour=RED, size=(160, 160), mode="RGB", background=(255, 255, 255)) -> Image.Image:
    """A product shot: a coloured box on a white backdrop."""
    image = Image.new("RGB", size, background)
    w, h = size
    ImageDraw.Draw(image).rectangle((w // 5, h // 5, w * 4 // 5, h * 4 // 5), fill=colour)
    return image.convert(mode)


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_bytes(width: int, height: int, depth: int, colour_type: int, raw: bytes) -> bytes:
    """A PNG written by hand, so that it can declare what Pillow would never write."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def webp_declaring(width: int, height: int) -> bytes:
    """A 1-pixel lossless WebP whose header declares ``width`` x ``height`` (a 38-byte "WebP bomb")."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), RED).save(buffer, "WEBP", lossless=True)
    data = bytearray(buffer.getvalue())
    start = data.index(b"VP8L") + 9  # after the chunk's name, its size and the 0x2F signature
    bits = struct.unpack_from("<I", data, start)[0] & ~((1 << 28) - 1)
    struct.pack_into("<I", data, start, bits | (width - 1) | ((height - 1) << 14))
    return bytes(data)


def truncated_jpeg() -> bytes:
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8))
    data = encoded(noisy, "JPEG")
    return data[: len(data) // 2]


def sixteen_bit_grey() -> bytes:
    """A 16-bit greyscale PNG: mid-grey box (32768) on white (65535)."""
    values = np.full((160, 160), 65535, dtype=np.uint16)
    values[32:128, 32:128] = 32768
    return encoded(Image.fromarray(values), "PNG")


def sixteen_bit_rgb() -> bytes:
    """A 48-bit RGB PNG (Pillow cannot write one): red box on white, 16 bits a channel."""
    size = 64
    red = struct.pack(">HHH", 200 * 257, 30 * 257, 35 * 257)
    white = struct.pack(">HHH", 65535, 65535, 65535)
    rows = [b"\0" + b"".join(red if 13 <= x < 51 and 13 <= y < 51 else white for x in range(size)) for y in range(size)]
    return png_bytes(size, size, 16, 2, b"".join(rows))


def palette_with_transparency() -> bytes:
    """A palette PNG whose backdrop is the transparent colour; a red box in the middle."""
    image = Image.new("P", (160, 160), 0)
    image.putpalette([0, 0, 0, *RED] + [0] * 762)
    ImageDraw.Draw(image).rectangle((32, 32, 128, 128), fill=1)
    return encoded(image, "PNG", transparency=0)


def animated_gif() -> bytes:
    frames = [product(RED), product(BLUE), product(GREEN)]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def rotated_jpeg(orientation: int) -> bytes:
    """A tall photo (red top, blue bottom) stored sideways or upside down, with the EXIF tag that
    tells a viewer how to turn it upright."""
    upright = Image.new("RGB", (120, 200), RED)
    upright.paste(BLUE, (0, 100, 120, 200))
    undo = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
    stored = upright.transpose(undo[orientation])
    exif = stored.getexif()
    exif[0x0112] = orientation
    return encoded(stored, "JPEG", exif=exif, quality=95)


def corrupt_exif_jpeg() -> bytes:
    image = product(RED)
    exif = image.getexif()
    exif[0x0112] = 9  # no such orientation
    return encoded(image, "JPEG", exif=exif)


# --- what each photo must give -------------------------------------------------------------------
def near(pixel, colour, tolerance=30) -> bool:
    return all(abs(int(a) - int(b)) <= tolerance for a, b in zip(pixel, colour))


def red_box_on_white(seen: Image.Image) -> None:
    w, h = seen.size
    assert near(seen.getpixel((w // 2, h // 2)), RED), seen.getpixel((w // 2, h // 2))
    assert near(seen.getpixel((2, 2)), (255, 255, 255)), seen.getpixel((2, 2))


def grey_box_on_white(seen: Image.Image) -> None:
    assert near(seen.getpixel((80, 80)), (128, 128, 128), 2)
    assert near(seen.getpixel((2, 2)), (255, 255, 255), 1)


def upright(seen: Image.Image) -> None:
    assert seen.size == (120, 200)
    assert near(seen.getpixel((60, 20)), RED) and near(seen.getpixel((60, 180)), BLUE)


@dataclass
class Case:
    name: str
    file: str
    data: bytes
    refused: str | None = None  # the reason it is skipped (a regex), or None when it is stored
    uploaded: str | None = None  # the reason it is refused as an upload, where not the same
    check: object = None  # what the grounder must have seen, when it is stored
    colour: str | None = None  # a colour the grounded record must name


CASES = [
    Case("zero bytes", "odd.jpg", b"", refused=r"empty"),
    Case("truncated JPEG", "odd.jpg", truncated_jpeg(), refused=r"damaged or truncated.*complete copy"),
    Case(
        "HTML named .jpg",
        "odd.jpg",
        b"<!DOCTYPE html><html><head><title>404 Not Found</title></head><body>Not Found</body></html>",
        refused=r"HTML page, not an image.*save the photo itself",
    ),
    Case("text named .jpg", "odd.jpg", b"id,price\n17,9.99\n", refused=r"text file, not an image"),
    Case(
        "SVG",
        "odd.svg",
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<rect width="10" height="10" fill="red"/></svg>',
        refused=r"SVG.*convert it to PNG or JPEG",
    ),
    Case("PDF named .jpg", "odd.jpg", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", refused=r"PDF.*convert"),
    Case("HEIC photo", "odd.heic", b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(64), refused=r"HEIC.*JPEG"),
    Case("random bytes", "odd.jpg", bytes(range(256)) * 4, refused=r"not an image file.*PNG or JPEG"),
    Case("PNG with a damaged header", "odd.png", png_bytes(0, 0, 8, 2, b"\0"), refused=r"PNG file's header"),
    Case(
        "decompression bomb, 10 gigapixels declared",
        "odd.png",
        png_bytes(100_000, 100_000, 8, 2, b"\0"),
        refused=r"too large.*pixels are accepted",
    ),
    Case(
        "decompression bomb, 144 megapixels declared",
        "odd.png",
        png_bytes(12_000, 12_000, 8, 2, b"\0"),
        refused=r"too large \(12000x12000 pixels\).*catalog photos up to 120,000,000 pixels.*VLM4REC_MAX_IMAGE_PIXELS",
        uploaded=r"too large \(12000x12000 pixels\).*sent to this app up to 40,000,000 pixels.*VLM4REC_MAX_UPLOAD_PIXELS",
    ),
    Case(  # under both pixel caps, over both byte budgets: libwebp holds 16 bytes a pixel while decoding
        "WebP declaring 35 megapixels (560 MB to decode)",
        "odd.webp",
        webp_declaring(7000, 5000),
        refused=r"would take 560 MB to decode \(WebP 7000x5000, 16 bytes a pixel\).*catalog photos may take up to "
        r"480 MB \(120,000,000 RGB pixels, VLM4REC_MAX_IMAGE_PIXELS\); send it as JPEG or PNG, or at most 30,000,000",
        uploaded=r"would take 560 MB to decode.*sent to this app may take up to 160 MB \(40,000,000 RGB pixels, "
        r"VLM4REC_MAX_UPLOAD_PIXELS\); send it as JPEG or PNG, or at most 10,000,000 pixels",
    ),
    Case("PNG named .jpg", "odd.jpg", encoded(product(RED), "PNG"), check=red_box_on_white, colour="red"),
    Case("16-bit greyscale PNG", "odd.png", sixteen_bit_grey(), check=grey_box_on_white),
    Case("16-bit RGB PNG", "odd.png", sixteen_bit_rgb(), check=red_box_on_white, colour="red"),
    Case("CMYK JPEG", "odd.jpg", encoded(product(RED, mode="CMYK"), "JPEG"), check=red_box_on_white, colour="red"),
    Case("CMYK TIFF", "odd.tif", encoded(product(RED, mode="CMYK"), "TIFF"), check=red_box_on_white, colour="red"),
    Case("palette PNG with transparency", "odd.png", palette_with_transparency(), check=red_box_on_white, colour="red"),
    Case("animated GIF (first frame)", "odd.gif", animated_gif(), check=red_box_on_white, colour="red"),
    Case("EXIF orientation 6 (turned)", "odd.jpg", rotated_jpeg(6), check=upright),
    Case("EXIF orientation 8 (turned)", "odd.jpg", rotated_jpeg(8), check=upright),
    Case("EXIF orientation 3 (upside down)", "odd.jpg", rotated_jpeg(3), check=upright),
    Case("EXIF orientation out of range", "odd.jpg", corrupt_exif_jpeg(), check=red_box_on_white, colour="red"),
]


def slug(case: Case) -> str:
    return re.sub(r"[^a-z0-9]+", "-", case.name.lower()).strip("-")


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Made-up product names: they name no colour (colours must come from the pixels) and keep the
# items' texts, hence their vectors, apart.
NAMES = (
    "BILLY", "KALLAX", "MALM", "HEMNES", "LACK", "EKTORP", "KIVIK", "BRIMNES", "PAX", "ALEX", "NORDLI",
    "STUVA", "TARVA", "IVAR", "HAVSTA", "SONGESAND", "IDANAS", "GURSKEN", "KULLEN", "NEIDEN", "TYSSEDAL", "VIMLE",
    "POANG",
)  # fmt: skip


def write_catalog(folder: Path) -> Path:
    """The good products and one item per odd photo, as a JSONL catalog with relative image paths."""
    (folder / "images").mkdir(parents=True)
    rows = []
    for item_id, colour in GOOD.items():
        product(colour).save(folder / "images" / f"{item_id}.jpg")
        rows.append({"id": item_id, "title": "Storage box", "image": f"images/{item_id}.jpg"})
    for case, name in zip(CASES, NAMES, strict=True):
        file = f"{slug(case)}{Path(case.file).suffix}"
        (folder / "images" / file).write_bytes(case.data)
        rows.append({"id": slug(case), "title": name, "image": f"images/{file}"})
    path = folder / "items.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return path


STORED = set(GOOD) | {slug(c) for c in CASES if not c.refused}
REFUSED = {slug(c) for c in CASES if c.refused}


@dataclass
class Runs:
    engine: Engine
    seeing: SeeingGrounder
    first: IngestReport  # good products and odd photos
    again: IngestReport  # the same catalog once more
    fixed: IngestReport  # after every refused photo was replaced by a good one


@pytest.fixture(scope="module")
def runs(tmp_path_factory, model_cache, encoder, grounder) -> Runs:
    """Ingest the catalog, again unchanged, then again with the refused photos fixed; the store is
    checked whole (exact ids, sound records) after each run."""
    folder = tmp_path_factory.mktemp("odd-photos")
    seeing = SeeingGrounder(grounder)
    engine = Engine(Settings(home=folder / "home", model_cache=model_cache), encoder=encoder, grounder=seeing)
    catalog = write_catalog(folder / "catalog")
    first = engine.ingest(catalog)
    before = check_store(engine, STORED)
    again = engine.ingest(catalog)
    after = check_store(engine, STORED)
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}  # not rewritten
    fix = encoded(product(RED), "JPEG")
    for case in CASES:
        if case.refused:
            (catalog.parent / "images" / f"{slug(case)}{Path(case.file).suffix}").write_bytes(fix)
    fixed = engine.ingest(catalog)
    check_store(engine, STORED | REFUSED)
    return Runs(engine, seeing, first, again, fixed)


def test_counts_of_each_run(runs: Runs):
    assert (runs.first.added, runs.first.updated) == (len(STORED), 0), runs.first.summary()
    assert {s.item_id for s in runs.first.skipped} == REFUSED
    assert (runs.again.added, runs.again.updated, runs.again.unchanged) == (0, 0, len(STORED))
    assert {s.item_id for s in runs.again.skipped} == REFUSED
    assert (runs.fixed.added, runs.fixed.updated, runs.fixed.unchanged) == (len(REFUSED), 0, len(STORED))
    assert runs.fixed.skipped == []


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_odd_photo_in_a_catalog(case: Case, runs: Runs):
    """Refused with a reason that says what the file is and what to do, or stored as it looks."""
    if case.refused:
        [skip] = [s for s in runs.first.skipped if s.item_id == slug(case)]
        assert slug(case) in skip.where
        assert re.search(case.refused, skip.reason, re.S), skip.reason
        return
    case.check(runs.seeing.seen[_hash(case.data)])
    if case.colour:
        assert case.colour in runs.engine.get_item(slug(case)).record.attributes.colors


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_odd_photo_uploaded(case: Case, runs: Runs):
    """The same bytes as an upload: ``describe`` and ``similar`` answer or refuse, and store nothing."""
    shop = runs.engine
    if case.refused:
        reason = case.uploaded or case.refused
        for ask in (shop.describe, lambda data: shop.similar(image=data)):
            with pytest.raises(InvalidInputError, match=reason.replace(".*", "(.|\n)*")):
                ask(case.data)
    else:
        record = shop.describe(case.data)
        case.check(runs.seeing.seen[_hash(case.data)])
        if case.colour:
            assert case.colour in record.attributes.colors
        assert len(shop.similar(image=case.data, k=3)) == 3
    assert shop.catalog.count() == len(STORED | REFUSED)


def test_decompression_bomb_is_refused_before_any_pixel_is_decoded(monkeypatch):
    decoded = []
    real_load = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size) or real_load(self))
    for side in (100_000, 12_000, 11_000):
        bomb = png_bytes(side, side, 8, 2, b"\0")
        assert len(bomb) < 100
        with pytest.raises(InvalidInputError, match="too large"):
            open_image(bomb)
    assert decoded == []  # refused from the declared size alone: no pixel was decoded


# --- a 100-megapixel photo -------------------------------------------------------------------------
BIG_SIDE = 10_000


@pytest.fixture(scope="session")
def big_photo(tmp_path_factory) -> Path:
    """A 10,000 x 10,000 JPEG (100 megapixels, 1.7 MB): a red box on a grey gradient. Made once."""
    path = tmp_path_factory.mktemp("big") / "images" / "big.jpg"
    path.parent.mkdir()
    image = Image.linear_gradient("L").resize((BIG_SIDE, BIG_SIDE)).convert("RGB")
    ImageDraw.Draw(image).rectangle((2000, 2000, 8000, 8000), fill=RED)
    image.save(path, quality=85)
    return path


# Peak memory from VmHWM (this process's own high-water mark; ru_maxrss would carry pytest's
# across fork and exec).
MEASURE = """
import re, sys, time
from pathlib import Path
from vlm4rec_agent.images import open_image

def peak_mb():
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) / 1024

before = peak_mb()
start = time.perf_counter()
image = open_image(sys.argv[1])
seconds = time.perf_counter() - start
after = peak_mb()
print(seconds, after - before, after, image.size[0], image.size[1])
"""


@pytest.mark.slow
def test_hundred_megapixel_photo_is_read_in_bounded_memory(big_photo, shop, seeing, tmp_path):
    """Accepted (the limit is 120 MP), decoded at 1/8 scale: well under the 300 MB a full decode takes."""
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(big_photo)], capture_output=True, text=True, check=True, timeout=120
    )
    seconds, peak_mb, total_mb, width, height = result.stdout.split()
    print(
        f"100 MP JPEG: opened in {float(seconds):.2f} s, peak RSS +{float(peak_mb):.0f} MB ({float(total_mb):.0f} MB)"
    )
    assert (int(width), int(height)) == (WORKING_SIZE, WORKING_SIZE)
    assert float(peak_mb) < 100 and float(seconds) < 5

    catalog = tmp_path / "items.jsonl"  # the photo lies elsewhere: allowed by naming its folder
    catalog.write_text(json.dumps({"id": "big", "title": "Mystery item", "image": str(big_photo)}) + "\n")
    report = shop.ingest(catalog, columns=Columns(image_root=big_photo.parent))
    assert (report.added, report.skipped) == (1, []), report.summary()
    seen = seeing.seen[_hash(big_photo.read_bytes())]
    assert seen.size == (WORKING_SIZE, WORKING_SIZE) and near(seen.getpixel((512, 512)), RED)
    assert "red" in shop.get_item("big").record.attributes.colors
    check_store(shop, {"big"})
