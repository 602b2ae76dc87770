"""The memory a photo takes to open, and what keeps it bounded (issue "Trust", hole 2).

A 274 KB WebP declaring 16383x7000 pixels cost about 1.3 GB per ``describe_image`` call, and
four at once took the app from 2.1 to 7.7 GB. Here: the price of a decode, estimated from the
header, against the peak memory a fresh process really takes to open real photos of each kind;
the two limits (catalog and outside photos) with their messages; and the gate that lets one
large decode run at a time, shown with real threads on real photos, beside the same run with the
gate off (which must overlap, or the first figure would prove nothing).

Peak memory is VmHWM of a fresh process, reset (``/proc/self/clear_refs``) just before the photos
are opened, so imports and the test's own files do not count.
"""

from __future__ import annotations

import base64
import io
import json
import math
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, features

from vlm4rec_agent.engine import Engine
from vlm4rec_agent.errors import InvalidInputError
from vlm4rec_agent.image_budget import LARGE_DECODE_BYTES, LARGE_DECODES, DecodeCost, ImageLimit
from vlm4rec_agent.images import WORKING_SIZE, open_image, shrink_factor
from vlm4rec_agent.settings import Settings
from vlm4rec_agent.tools import ShopTools

MB = 1e6
RED = (200, 30, 35)

# Opens the photo in argv[1] in argv[2] threads at once (gate "on" or "off") and prints, as JSON,
# the estimated cost of one decode and how much the process's peak memory grew.
MEASURE = r"""
import io, json, re, sys, threading
from pathlib import Path
from PIL import Image
from vlm4rec_agent import image_budget
from vlm4rec_agent.images import WORKING_SIZE, open_image, shrink_factor

def peak():
    return int(re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024

data, threads, gate = Path(sys.argv[1]).read_bytes(), int(sys.argv[2]), sys.argv[3]
with Image.open(io.BytesIO(data)) as header:
    header.draft("RGB", (WORKING_SIZE, WORKING_SIZE))
    cost = image_budget.decode_cost(header, shrink_factor(header.size))
if gate == "off":
    image_budget.LARGE_DECODES.threshold = 10**15
# As a loaded app has done (models read in): free one 31 MB buffer, which raises glibc's threshold for
# serving allocations from the system directly; below it, what a thread frees stays in its arena.
buffer = bytearray(31 * 2**20)
del buffer
errors, start = [], threading.Barrier(threads)

def one():
    start.wait()
    try:
        open_image(data, 10**10)
    except Exception as error:
        errors.append(repr(error))

workers = [threading.Thread(target=one) for _ in range(threads)]
Path("/proc/self/clear_refs").write_text("5")  # the high-water mark starts again from here
base = peak()
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
print(json.dumps({"cost": cost.bytes, "grew": peak() - base, "errors": errors}))
"""


def measure(path: Path, threads: int = 1, gate: str = "on") -> dict:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), str(threads), gate],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["errors"] == [], figures["errors"]
    return figures


def photo(width: int, height: int) -> Image.Image:
    """A grey gradient with a red box: smooth enough to compress, busy enough to decode for real."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    ImageDraw.Draw(image).rectangle((width // 5, height // 5, width * 3 // 5, height * 4 // 5), fill=RED)
    return image


def transparent(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(image.size))
    return rgba


def palette_with_transparency(image: Image.Image) -> Image.Image:
    palette = image.convert("P", palette=Image.Palette.ADAPTIVE)
    palette.info["transparency"] = 0
    return palette


W, H = 6000, 3500  # 21 megapixels: large enough that the decoders' fixed buffers are small beside them
KINDS = {
    "JPEG (draft mode, 1/2 scale)": (lambda: photo(W, H), {"format": "JPEG", "quality": 85}),
    "PNG RGB": (lambda: photo(W, H), {"format": "PNG", "compress_level": 1}),
    "PNG RGBA": (lambda: transparent(photo(W, H)), {"format": "PNG", "compress_level": 1}),
    "PNG palette, transparent": (lambda: palette_with_transparency(photo(W, H)), {"format": "PNG", "transparency": 0}),
    "PNG 16-bit grey": (lambda: photo(W, H).convert("L").convert("I;16"), {"format": "PNG"}),
    "GIF": (lambda: photo(W, H).convert("P", palette=Image.Palette.ADAPTIVE), {"format": "GIF"}),
    "TIFF LZW": (lambda: photo(W, H), {"format": "TIFF", "compression": "tiff_lzw"}),
    "WebP lossy": (lambda: photo(W, H), {"format": "WEBP", "quality": 50, "method": 0}),
    "WebP lossless, alpha": (lambda: transparent(photo(W, H)), {"format": "WEBP", "lossless": True, "method": 0}),
    "AVIF": (lambda: photo(W, H), {"format": "AVIF", "quality": 50, "speed": 10}),
    # under 4096 pixels on both sides: converted and resized whole, the copy counted
    "PNG RGBA 4000x3000": (lambda: transparent(photo(4000, 3000)), {"format": "PNG", "compress_level": 1}),
    "PNG palette 4000x3000": (lambda: palette_with_transparency(photo(4000, 3000)), {"format": "PNG"}),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(KINDS))
def test_the_estimate_is_what_opening_the_photo_takes(kind, tmp_path):
    """The price from the header is the decode's full-size peak; the reduced copy (a quarter of the
    pixels or less, as RGB) and a few 8 MB bands come on top. A WebP really costs 16 bytes a pixel."""
    make, options = KINDS[kind]
    if options["format"] == "AVIF" and not features.check("avif"):
        pytest.skip("this Pillow reads no AVIF")
    path = tmp_path / f"photo.{options['format'].lower()}"
    image = make()
    image.save(path, **options)
    with Image.open(path) as header:
        header.draft("RGB", (WORKING_SIZE, WORKING_SIZE))
        width, height = header.size
    factor = shrink_factor((width, height))
    reduced = math.ceil(width / factor) * math.ceil(height / factor) * 4 if factor > 1 else 0
    figures = measure(path)
    cost, grew = figures["cost"], figures["grew"]
    print(f"{kind}: estimated {cost / MB:.0f} MB, measured +{grew / MB:.0f} MB")
    assert 0.6 * cost <= grew <= cost + reduced + 48 * MB, figures
    if options["format"] == "WEBP":
        assert grew > 14 * W * H  # what made the 274 KB WebP cost gigabytes


@pytest.fixture(scope="module")
def large_webp(tmp_path_factory) -> Path:
    """A 10-megapixel WebP (about 30 KB): 160 MB to decode, well over the gate's 64 MB."""
    path = tmp_path_factory.mktemp("large") / "large.webp"
    photo(4000, 2500).save(path, "WEBP", quality=50, method=0)
    return path


@pytest.fixture(scope="module")
def large_png(tmp_path_factory) -> Path:
    """A 20-megapixel PNG: 80 MB to decode."""
    path = tmp_path_factory.mktemp("large") / "large.png"
    photo(5000, 4000).save(path, compress_level=1)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["large_webp", "large_png"])
def test_large_decodes_take_turns_and_without_the_gate_they_would_not(kind, request):
    """Four threads open the same large photo at once: one decode's worth of memory, not four (the
    freed pixels are given back before the next decode, or each thread's arena would keep them)."""
    path = request.getfixturevalue(kind)
    alone = measure(path, threads=1)
    gated = measure(path, threads=4, gate="on")
    ungated = measure(path, threads=4, gate="off")
    print(
        f"{path.name}: one alone +{alone['grew'] / MB:.0f} MB; four at once, gate on +{gated['grew'] / MB:.0f} MB, "
        f"off +{ungated['grew'] / MB:.0f} MB"
    )
    assert alone["cost"] > LARGE_DECODE_BYTES
    assert gated["grew"] < 1.5 * alone["grew"]  # two decodes at once would take twice what one takes
    assert ungated["grew"] > 2 * alone["grew"]  # the four threads do overlap when nothing stops them


def test_small_photos_do_not_wait_for_a_large_decode(large_webp, tmp_path):
    """While a large decode holds the gate, a small photo opens at once and a large one waits for it."""
    small = tmp_path / "small.jpg"
    photo(1200, 900).save(small, quality=85)
    done: dict[str, Image.Image] = {}

    def open_into(key: str, path: Path) -> threading.Thread:
        thread = threading.Thread(target=lambda: done.__setitem__(key, open_image(path)), daemon=True)
        thread.start()
        return thread

    holder = DecodeCost("WEBP", "RGB", (4000, 2500), LARGE_DECODE_BYTES + 1)
    with LARGE_DECODES.admit(holder, "a large photo being decoded"):
        large = open_into("large", large_webp)
        open_into("small", small).join(30)
        assert done["small"].size == (WORKING_SIZE, 768)
        large.join(1.0)
        assert large.is_alive() and "large" not in done  # waiting for the gate
    large.join(60)
    assert done["large"].size == (WORKING_SIZE, 640)


def data_url(image: Image.Image, kind: str) -> str:
    buffer = io.BytesIO()
    image.save(buffer, kind)
    return f"data:image/{kind.lower()};base64,{base64.b64encode(buffer.getvalue()).decode()}"


@pytest.fixture
def strict_engine(tmp_path, model_cache, encoder, grounder) -> Engine:
    """An engine with small limits: catalog photos up to 3 MP, photos from outside up to 1 MP."""
    settings = Settings(
        home=tmp_path / "home", model_cache=model_cache, max_image_pixels=3_000_000, max_upload_pixels=1_000_000
    )
    return Engine(settings, encoder=encoder, grounder=grounder)


def test_catalog_photos_and_photos_from_outside_have_their_own_limits(strict_engine, tmp_path):
    catalog = tmp_path / "catalog"
    (catalog / "images").mkdir(parents=True)
    photo(1500, 1200).save(catalog / "images" / "big.jpg")  # 1.8 MP
    photo(600, 500).save(catalog / "images" / "small.webp", quality=80)  # 0.3 MP, 4.8 MB to decode
    rows = [{"id": "big", "title": "Storage box", "image": "images/big.jpg"}]
    rows.append({"id": "small-webp", "title": "Storage box", "image": "images/small.webp"})
    (catalog / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = strict_engine.ingest(catalog / "items.jsonl")
    assert (report.added, report.skipped) == (2, []), report.summary()  # under the catalog's limits

    tools = ShopTools(strict_engine)
    too_many = (
        "image is too large (1500x1200 pixels): image data (photos sent to this app up to 1,000,000 pixels "
        "are accepted (VLM4REC_MAX_UPLOAD_PIXELS); shrink the photo)"
    )
    too_costly = (
        "image would take 5 MB to decode (WebP 600x500, 16 bytes a pixel): image data (photos sent to this app "
        "may take up to 4 MB (1,000,000 RGB pixels, VLM4REC_MAX_UPLOAD_PIXELS); send it as JPEG or PNG, or at "
        "most 250,000 pixels)"
    )
    for url, message in (
        (data_url(photo(1500, 1200), "JPEG"), too_many),
        (data_url(photo(600, 500), "WEBP"), too_costly),
    ):
        for call in (tools.describe_image, lambda image: tools.similar_items(image=image)):
            with pytest.raises(InvalidInputError) as refused:
                call(url)
            assert str(refused.value) == message
    with pytest.raises(InvalidInputError, match=r"VLM4REC_MAX_UPLOAD_PIXELS"):  # the CLI's `describe PHOTO` too
        strict_engine.describe(catalog / "images" / "big.jpg")
    assert tools.describe_image(data_url(photo(1000, 1000), "JPEG")).attributes.colors  # at the limit: read
    assert tools.describe_image(data_url(photo(500, 500), "WEBP")).attributes.colors  # 4 MB: read


def test_a_catalog_photo_over_its_limit_names_the_catalog_setting(strict_engine, tmp_path):
    path = tmp_path / "huge.png"
    photo(2000, 2000).save(path)
    with pytest.raises(InvalidInputError) as refused:
        open_image(path, ImageLimit.catalog(strict_engine.settings.max_image_pixels))
    assert str(refused.value) == (
        "image is too large (2000x2000 pixels): huge.png (catalog photos up to 3,000,000 pixels are accepted "
        "(VLM4REC_MAX_IMAGE_PIXELS); shrink the photo)"
    )
