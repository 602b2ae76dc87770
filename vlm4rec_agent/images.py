"""Open product photos safely: upright, RGB, bounded in size, with a clear reason when it fails."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InvalidInputError, NotFoundError

# Larger photos are decoded at a reduced scale where the format allows (JPEG draft mode) and
# then shrunk: no grounder here looks at more than this many pixels on a side.
WORKING_SIZE = 1024


def open_image(source: str | Path | bytes | Image.Image, max_pixels: int = 120_000_000) -> Image.Image:
    """Return an upright RGB copy of an image, at most ``WORKING_SIZE`` pixels on its long side.

    Raises :class:`InvalidInputError` (or :class:`NotFoundError`) with the reason when the file
    is missing, empty, not an image, truncated, or larger than ``max_pixels``.
    """
    if isinstance(source, Image.Image):
        return _normalise(source)
    name = "image data" if isinstance(source, bytes) else str(source)
    if not isinstance(source, bytes):
        path = Path(source)
        if not path.is_file():
            raise NotFoundError(f"image file not found: {path}")
        if path.stat().st_size == 0:
            raise InvalidInputError(f"image file is empty: {path}")
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(handle) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise InvalidInputError(
                        f"image is too large ({width}x{height} pixels): {name}",
                        f"images up to {max_pixels:,} pixels are accepted (VLM4REC_MAX_IMAGE_PIXELS)",
                    )
                image.draft("RGB", (WORKING_SIZE, WORKING_SIZE))
                image.load()
                return _normalise(image)
    except InvalidInputError:
        raise
    except UnidentifiedImageError:
        raise InvalidInputError(f"not an image file (or a format Pillow cannot read): {name}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInputError(f"image is too large to decode safely: {name}") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise InvalidInputError(f"image file is damaged or truncated ({error}): {name}") from None


def _normalise(image: Image.Image) -> Image.Image:
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    elif image.mode.startswith(("I", "F")):
        values = np.asarray(image, dtype=np.float64)
        peak = values.max() if values.size else 0.0
        scale = 257.0 if image.mode.startswith("I;16") else max(peak / 255.0, 1.0)
        image = Image.fromarray(np.clip(values / scale, 0, 255).astype(np.uint8)).convert("RGB")
    else:
        image = image.convert("RGB")
    if max(image.size) > WORKING_SIZE:
        image.thumbnail((WORKING_SIZE, WORKING_SIZE), Image.BICUBIC)
    return image
