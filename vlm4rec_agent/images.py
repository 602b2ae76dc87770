"""Open product photos safely: upright, RGB, bounded in size, with a clear reason when it fails.

A photo comes from someone else's catalog or an upload, so nothing about it is trusted:
- its declared size is checked before any pixel is decoded (a decompression bomb is a tiny file
  that declares an enormous image), and JPEGs are decoded at a reduced scale (draft mode), so a
  100-megapixel photo costs a few megabytes;
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

# Larger photos are decoded at a reduced scale where the format allows (JPEG draft mode) and
# then shrunk: no grounder here looks at more than this many pixels on a side.
WORKING_SIZE = 1024
DEFAULT_MAX_PIXELS = 120_000_000
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


def open_image(source: str | Path | bytes | Image.Image, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Return an upright RGB copy of an image, at most ``WORKING_SIZE`` pixels on its long side.

    Raises :class:`InvalidInputError` (or :class:`NotFoundError`) with the reason when the file
    is missing, empty, not an image, damaged, or larger than ``max_pixels``.
    """
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
        handle = io.BytesIO(source) if isinstance(source, bytes) else source
        # Pillow warns from 89 megapixels on; the limit that counts is ours, checked below.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(handle)
        with image:
            _check_size(image.size, max_pixels, name)
            image.draft("RGB", (WORKING_SIZE, WORKING_SIZE))
            image.load()
            return _normalise(image)

    try:
        return _decoded(decode, name)
    except UnidentifiedImageError:
        raise _not_an_image(_head(source), name) from None
    except Image.DecompressionBombError:
        raise InvalidInputError(
            f"image is too large (over {2 * Image.MAX_IMAGE_PIXELS:,} pixels): {name}", _size_hint(max_pixels)
        ) from None


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


def _size_hint(max_pixels: int) -> str:
    return f"images up to {max_pixels:,} pixels are accepted (VLM4REC_MAX_IMAGE_PIXELS); shrink the photo"


def _check_size(size: tuple[int, int], max_pixels: int, name: str) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise InvalidInputError(f"image declares no pixels ({width}x{height}): {name}")
    if width * height > max_pixels:
        raise InvalidInputError(f"image is too large ({width}x{height} pixels): {name}", _size_hint(max_pixels))


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


def _normalise(image: Image.Image) -> Image.Image:
    """Upright 8-bit RGB, transparency on white, shrunk first so that large photos stay cheap."""
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
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith(("I", "F")):
        values = np.asarray(image, dtype=np.float64)
        peak = values.max() if values.size else 0.0
        scale = 257.0 if image.mode.startswith("I;16") else max(peak / 255.0, 1.0)
        return Image.fromarray(np.clip(values / scale, 0, 255).astype(np.uint8)).convert("RGB")
    return image.convert("RGB")
