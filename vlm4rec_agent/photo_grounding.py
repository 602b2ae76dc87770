"""Photos as grounding inputs, and their records: what `describe` and photo queries share.

Every photo is opened before any is grounded, so a photo that cannot be read stops the call
before a VLM is asked anything; then they are grounded in batches, one ``ground`` call a batch (a
local VLM runs a batch at once, an HTTP one has its requests in flight together). Errors name the
photo by its place when there are several. The opened images are all held at once (at most
1024 px a side each): for a whole catalog, ingest it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from .errors import InvalidInputError, Vlm4recError
from .grounding.protocol import Grounder, GroundingFailure, GroundingInput, checked
from .grounding.schema import GroundingRecord
from .image_budget import ImageLimit
from .images import open_image
from .items import file_sha256

ImageSource = str | Path | bytes | Image.Image


def photo_inputs(
    images: Sequence[ImageSource], texts: Sequence[str | None] | None, limit: ImageLimit
) -> list[GroundingInput]:
    """Each photo opened (refused when too large for ``limit``), with the hash of its file or bytes
    (what the grounding cache is keyed by)."""
    texts = list(texts) if texts is not None else [None] * len(images)
    if len(texts) != len(images):
        raise InvalidInputError(
            f"{len(texts)} texts for {len(images)} images", "give one text (or None) per image, in the same order"
        )
    return [_input(image, text, n, len(images), limit) for n, (image, text) in enumerate(zip(images, texts))]


def ground_photos(grounder: Grounder, inputs: Sequence[GroundingInput], batch_size: int) -> list[GroundingRecord]:
    """One record per input, in order; the first failure is raised, naming its photo."""
    records: list[GroundingRecord] = []
    for start in range(0, len(inputs), batch_size):
        batch = list(inputs[start : start + batch_size])
        for n, outcome in enumerate(checked(grounder, batch, grounder.ground(batch)), start):
            if isinstance(outcome, GroundingFailure):
                raise _for_photo(outcome.error(), n, len(inputs))
            records.append(outcome)
    return records


def _input(image: ImageSource, text: str | None, n: int, count: int, limit: ImageLimit) -> GroundingInput:
    try:
        picture = open_image(image, limit)
    except Vlm4recError as error:
        raise _for_photo(error, n, count) from None
    if isinstance(image, bytes):
        image_hash = hashlib.sha256(image).hexdigest()
    elif isinstance(image, (str, Path)):
        image_hash = file_sha256(Path(image))
    else:
        image_hash = None
    return GroundingInput(image=picture, text=text, image_hash=image_hash)


def _for_photo(error: Vlm4recError, n: int, count: int) -> Vlm4recError:
    """``error``, naming which photo it is about when there are several (one is named by the error)."""
    if count > 1:
        error.message = f"photo {n + 1} of {count}: {error.message}"
        error.hint = error.hint or "fix that photo or leave it out"
        error.args = (error.message,)
    return error
