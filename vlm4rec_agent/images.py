"""Open product photos safely: upright, RGB, bounded in size, with a clear reason when it fails.

A photo comes from someone else's catalog or an upload, so nothing about it is trusted:
- its declared size, and the memory decoding it would take, are checked before any pixel is
  decoded (a decompression bomb is a tiny file that declares an enormous image), against a limit
  for catalog photos and a lower one for photos from outside; large decodes take turns (see
  :mod:`vlm4rec_agent.image_budget`);
- JPEGs are decoded at a reduced scale (draft mode), so a 100-megapixel photo costs a few
  megabytes, and a photo 4096 pixels or more on a side is reduced band by band right after
  decoding, so no full-size converted copy of it (RGB from a palette, transparency on white,
  16-bit to 8-bit) is ever made;
- what is not an image gets a reason that names what it is (an SVG drawing, an HTML page, a PDF,
  an iPhone HEIC photo, plain text) and what to do about it;
- any decoder failure on a damaged file becomes :class:`InvalidInputError`, never a traceback;
- 16-bit, CMYK, palette, transparent and EXIF-rotated images come out as upright 8-bit RGB,
  transparency put on white (as catalog photos are).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from .errors import InvalidInputError, NotFoundError
from .image_budget import (
    BAND_BYTES,
    LARGE_DECODES,
    DecodeCost,
    ImageLimit,
    check_cost,
    check_pixels,
    decode_cost,
    pixel_hint,
)

# Larger photos are decoded at a reduced scale where the format allows (JPEG draft mode) and
# then shrunk: no grounder here looks at more than this many pixels on a side.
WORKING_SIZE = 1024
DEFAULT_MAX_PIXELS = 120_000_000
# From 4x the working size (4096 px) on, a photo is first reduced by a whole factor (box averages)
# to 2-3x the working size, band by band, then resized (bicubic) the rest of the way.
SHRINK_GAP = 2
READABLE_FORMATS = "JPEG, PNG, WebP, GIF, BMP or TIFF"
_CONVERT_HINT = f"convert it to PNG or JPEG first ({READABLE_FORMATS} can be read)"

# Files that start like an image Pillow reads but that it could not open: a damaged header.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)

# EXIF orientation -> the transposition that makes the photo upright.
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def open_image(source: str | Path | bytes | Image.Image, limit: ImageLimit | int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Return an upright RGB copy of an image, at most ``WORKING_SIZE`` pixels on its long side.

    ``limit``: how large it may be (:class:`ImageLimit`; a number of pixels means a catalog
    photo's limit). Raises :class:`InvalidInputError` (or :class:`NotFoundError`) with the reason
    when the file is missing, empty, not an image, damaged, or too large for ``limit``.
    """
    if isinstance(limit, int):
        limit = ImageLimit.catalog(limit)
    if isinstance(source, Image.Image):
        return _decoded(lambda: _normalise(source), "image")
    # Only the file's name goes into messages: a shopper sees them, and the folder is the server's business
    # (an ingest report names the whole path beside the message).
    name = "image data" if isinstance(source, bytes) else Path(source).name
    if isinstance(source, bytes):
        if not source:
            raise InvalidInputError("image data is empty", "send the photo's bytes")
    else:
        path = Path(source)
        if not path.is_file():
            raise NotFoundError(f"image file not found: {name}")
        if path.stat().st_size == 0:
            raise InvalidInputError(f"image file is empty (0 bytes): {name}", "replace it with the photo itself")

    def decode() -> Image.Image:
        with _opened(source) as image:
            check_pixels(image.size, limit, name)
            image.draft("RGB", (WORKING_SIZE, WORKING_SIZE))
            cost = decode_cost(image, shrink_factor(image.size))
        check_cost(cost, limit, name)
        with LARGE_DECODES.admit(cost, name):  # which gives the freed memory back before the next one
            return _load_small(source, cost)

    try:
        return _decoded(decode, name)
    except UnidentifiedImageError:
        raise _not_an_image(_head(source), name) from None
    except Image.DecompressionBombError:
        raise InvalidInputError(
            f"image is too large (over {2 * Image.MAX_IMAGE_PIXELS:,} pixels): {name}", pixel_hint(limit)
        ) from None


def _opened(source: str | Path | bytes) -> Image.Image:
    # Pillow warns from 89 megapixels on; the limits that count are ours, checked before decoding.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)


def _load_small(source: str | Path | bytes, cost: DecodeCost) -> Image.Image:
    """The photo decoded and brought to the working size; every full-size buffer (the decoder's
    and the image's) lives only inside this call, so all are freed by the time it returns."""
    with _opened(source) as image:
        image.draft("RGB", (WORKING_SIZE, WORKING_SIZE))
        if (image.size, image.mode) != (cost.size, cost.mode):  # a file replaced since it was checked
            raise InvalidInputError("the image file changed while it was being read", "send it again")
        image.load()
        return _normalise(_shrink(image), _orientation(image))


def _decoded(decode, name: str) -> Image.Image:
    """Run ``decode``; a decoder failure on a damaged file becomes a clear :class:`InvalidInputError`."""
    try:
        return decode()
    except (InvalidInputError, UnidentifiedImageError, Image.DecompressionBombError):
        raise
    except Exception as error:  # decoders raise many kinds (OSError, SyntaxError, struct.error...)
        detail = str(error) or type(error).__name__
        raise InvalidInputError(
            f"image file is damaged or truncated ({detail}): {name}", "replace it with a complete copy of the photo"
        ) from None


def _head(source: str | Path | bytes, size: int = 1024) -> bytes:
    if isinstance(source, bytes):
        return source[:size]
    try:
        with open(source, "rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def _not_an_image(head: bytes, name: str) -> InvalidInputError:
    """Say what the file is, when it is something common that is not a photo."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in start:
        return InvalidInputError(f"SVG drawings cannot be read, only photos: {name}", _CONVERT_HINT)
    if start.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return InvalidInputError(
            f"this is an HTML page, not an image (a saved web page or a failed download?): {name}",
            "save the photo itself as JPEG or PNG",
        )
    if start.startswith(b"%pdf"):
        return InvalidInputError(f"this is a PDF document, not an image: {name}", _CONVERT_HINT)
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return InvalidInputError(
                f"this {kind} file's header is damaged: {name}", "replace it with a complete copy of the photo"
            )
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
        return InvalidInputError(f"HEIC/HEIF photos cannot be read: {name}", "convert it to JPEG first")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and all(c.isprintable() or c in "\t\r\n" for c in text):
        return InvalidInputError(f"this is a text file, not an image: {name}", "give the photo itself")
    return InvalidInputError(f"not an image file, or a format that cannot be read: {name}", _CONVERT_HINT)


def _orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # a damaged EXIF block must not sink a readable photo
        return 1
    return value if isinstance(value, int) else 1


_TRANSPARENT = ("RGBA", "LA", "PA", "RGBa", "La")


def shrink_factor(size: tuple[int, int]) -> int:
    """The whole factor a photo is reduced by, band by band, right after decoding (1: not at all)."""
    return max(1, max(size) // (WORKING_SIZE * SHRINK_GAP))


def _shrink(image: Image.Image) -> Image.Image:
    """``image`` reduced by :func:`shrink_factor` (box averages), a band of rows at a time.

    Each band is converted on its own (palette to RGB, transparency onto white, 16-bit to 8-bit),
    so the only full-size pixels are the decoded ones; a band's rows are a multiple of the factor,
    so the result is the same as reducing the whole image at once.
    """
    factor = shrink_factor(image.size)
    if factor == 1:
        return image
    width, height = image.size
    rows = max(1, BAND_BYTES // (width * 4 * factor)) * factor
    reduced: Image.Image | None = None
    for top in range(0, height, rows):
        band = _flat(image.crop((0, top, width, min(height, top + rows)))).reduce(factor)
        if reduced is None:
            reduced = Image.new(band.mode, (-(-width // factor), -(-height // factor)))
        reduced.paste(band, (0, top // factor))
    assert reduced is not None
    return reduced


def _flat(band: Image.Image) -> Image.Image:
    """A band of a photo in a mode that can be averaged: RGB, L, or Pillow's own 32-bit and colour modes."""
    if band.mode == "P":
        band = band.convert("RGBA" if "transparency" in band.info else "RGB")
    elif band.mode == "1":
        band = band.convert("L")
    elif band.mode.startswith("I;16"):
        band = Image.fromarray((np.asarray(band, dtype=np.float32) / 257.0).round().astype(np.uint8))
    return _on_white(band) if band.mode in _TRANSPARENT else band


def _on_white(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _normalise(image: Image.Image, orientation: int | None = None) -> Image.Image:
    """Upright 8-bit RGB, transparency on white, shrunk first so that large photos stay cheap.

    ``orientation``: the EXIF orientation of the photo ``image`` was reduced from (read from
    ``image`` itself when None)."""
    if orientation is None:
        orientation = _orientation(image)
    if image.mode == "P":  # palette: shrink only after converting (palette resizing is nearest-pixel)
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode == "1":
        image = image.convert("L")
    if max(image.size) > WORKING_SIZE:
        scale = WORKING_SIZE / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
    if orientation in _UPRIGHT:
        image = image.transpose(_UPRIGHT[orientation])
    if image.mode in _TRANSPARENT:
        return _on_white(image)
    if image.mode.startswith(("I", "F")):
        values = np.asarray(image, dtype=np.float64)
        peak = values.max() if values.size else 0.0
        scale = 257.0 if image.mode.startswith("I;16") else max(peak / 255.0, 1.0)
        return Image.fromarray(np.clip(values / scale, 0, 255).astype(np.uint8)).convert("RGB")
    return image.convert("RGB")
