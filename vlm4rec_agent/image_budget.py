"""What decoding a photo costs in memory, the limits on it, and the gate for large decodes.

A photo's file says little about its memory: a 274 KB WebP declaring 16383x7000 pixels took
1.8 GB to decode. So every photo is priced before any pixel is decoded, from its header:
pixels (after JPEG's reduced-scale draft) x the bytes Pillow holds per pixel of the decoded
mode (4 for RGB, RGBA, CMYK, 32-bit; 2 for 16-bit grey; 1 for grey and palette) + the copies
the format's decoder makes (WebP: libwebp's two canvases and the frame copied out, 12 bytes a
pixel more) + a whole converted copy, for a photo small enough to be converted whole (palette to
RGB, transparency premultiplied). Measured per format in ``tests/hardening/test_image_memory.py``.

Two limits, each in pixels as their settings say, with a byte budget of that many RGB pixels
(4 bytes each): catalog photos (the owner's, ``VLM4REC_MAX_IMAGE_PIXELS``) and photos from
outside (uploads, chat and tool images, photos to describe or search by,
``VLM4REC_MAX_UPLOAD_PIXELS``). A photo is refused, in one line naming its size, the limit and
its setting, when it declares more pixels than its limit or would take more bytes than its
budget. And however many requests arrive together, at most one decode over
:data:`LARGE_DECODE_BYTES` runs at a time in this process (smaller photos do not wait), and each
gives its freed memory back to the system before the next begins.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image

from .errors import InvalidInputError

log = logging.getLogger(__name__)

RGB_PIXEL_BYTES = 4  # Pillow holds an RGB pixel in 4 bytes (the fourth is padding)
LARGE_DECODE_BYTES = 64_000_000  # decodes above this take turns, one at a time
BAND_BYTES = 8 * 2**20  # a large photo is converted and reduced in bands of rows of at most this many bytes
_SMALL_MODES = {"1": 1, "L": 1, "P": 1}
# Bytes a pixel costs beyond the decoded image itself, by format: what the decoder holds at its peak
# (WebP: libwebp's two canvases and the frame copied out; AVIF: its YUV planes and RGB copy).
_DECODER_BYTES = {"WEBP": 12, "AVIF": 4}
_CHEAP_FORMATS = "JPEG or PNG"
_FORMAT_NAMES = {"WEBP": "WebP"}


@dataclass(frozen=True)
class ImageLimit:
    """How large a photo from one kind of source may be: ``pixels``, and as many RGB pixels' bytes."""

    pixels: int
    setting: str  # the environment variable that sets it
    whose: str  # "catalog photos", "photos sent to this app"

    @classmethod
    def catalog(cls, pixels: int) -> ImageLimit:
        return cls(pixels, "VLM4REC_MAX_IMAGE_PIXELS", "catalog photos")

    @classmethod
    def upload(cls, pixels: int) -> ImageLimit:
        return cls(pixels, "VLM4REC_MAX_UPLOAD_PIXELS", "photos sent to this app")

    @property
    def bytes(self) -> int:
        return self.pixels * RGB_PIXEL_BYTES


@dataclass(frozen=True)
class DecodeCost:
    """What decoding one photo takes: its format, decoded mode and size, and the bytes at the peak."""

    format: str
    mode: str
    size: tuple[int, int]
    bytes: int

    @property
    def per_pixel(self) -> int:
        return self.bytes // max(1, self.size[0] * self.size[1])


def mode_bytes(mode: str) -> int:
    """Bytes Pillow holds per pixel of ``mode`` (every multi-band and 32-bit mode takes 4)."""
    if mode in _SMALL_MODES:
        return _SMALL_MODES[mode]
    return 2 if mode.startswith("I;16") else 4


def decode_cost(image: Image.Image, factor: int) -> DecodeCost:
    """The full-size memory decoding ``image`` takes at its peak, from its header (after ``draft``).

    ``factor``: what the photo is then reduced by, band by band (see
    :func:`vlm4rec_agent.images.shrink_factor`); at 1 it is converted and resized whole, which
    costs a converted copy. Not counted: the reduced copy (at most a quarter of the pixels) and a
    few bands of :data:`BAND_BYTES` worked on at a time.
    """
    width, height = image.size
    kind = (image.format or "").upper()
    per_pixel = mode_bytes(image.mode) + _DECODER_BYTES.get(kind, 0) + (_conversion_bytes(image) if factor == 1 else 0)
    return DecodeCost(kind or "image", image.mode, (width, height), width * height * per_pixel)


def _conversion_bytes(image: Image.Image) -> int:
    """A whole converted copy's bytes a pixel: palette to RGB (and premultiplied to resize), alpha premultiplied."""
    if image.mode == "P":
        return 2 * RGB_PIXEL_BYTES if "transparency" in image.info else RGB_PIXEL_BYTES
    if image.mode == "1":
        return 1
    return RGB_PIXEL_BYTES if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") else 0


def check_cost(cost: DecodeCost, limit: ImageLimit, name: str) -> None:
    """Refuse a photo whose decoding would take more memory than ``limit`` allows."""
    if cost.bytes <= limit.bytes:
        return
    width, height = cost.size
    fits = limit.bytes // cost.per_pixel
    instead = (
        f"send it as {_CHEAP_FORMATS}, or at most {fits:,} pixels" if cost.format in _DECODER_BYTES else "shrink it"
    )
    raise InvalidInputError(
        f"image would take {_mb(cost.bytes)} to decode ({_FORMAT_NAMES.get(cost.format, cost.format)} {width}x{height}, "
        f"{cost.per_pixel} bytes a pixel): {name}",
        f"{limit.whose} may take up to {_mb(limit.bytes)} ({limit.pixels:,} RGB pixels, {limit.setting}); {instead}",
    )


def check_pixels(size: tuple[int, int], limit: ImageLimit, name: str) -> None:
    """Refuse a photo that declares more pixels than ``limit`` (before anything is decoded)."""
    width, height = size
    if width < 1 or height < 1:
        raise InvalidInputError(f"image declares no pixels ({width}x{height}): {name}")
    if width * height > limit.pixels:
        raise InvalidInputError(f"image is too large ({width}x{height} pixels): {name}", pixel_hint(limit))


def pixel_hint(limit: ImageLimit) -> str:
    return f"{limit.whose} up to {limit.pixels:,} pixels are accepted ({limit.setting}); shrink the photo"


def _mb(size: int) -> str:
    return f"{size / 1e6:,.0f} MB"


class DecodeGate:
    """Lets at most one decode above ``threshold`` bytes run at a time; smaller ones pass at once."""

    def __init__(self, threshold: int = LARGE_DECODE_BYTES):
        self.threshold = threshold
        self._lock = threading.Lock()

    @contextmanager
    def admit(self, cost: DecodeCost, name: str) -> Iterator[None]:
        if cost.bytes <= self.threshold:
            yield
            return
        start = time.monotonic()
        with self._lock:
            waited = time.monotonic() - start
            if waited > 1.0:
                log.info("%s waited %.1f s for another large image decode to finish", name, waited)
            try:
                yield
            finally:
                give_back_freed_memory()


def give_back_freed_memory() -> None:
    """Return the C allocator's free pages to the system (glibc's ``malloc_trim``; elsewhere nothing).

    glibc keeps what a thread freed in that thread's arena: without this, eight request threads
    that each decoded a large photo in turn held eight photos' worth of memory between them.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return None


LARGE_DECODES = DecodeGate()
