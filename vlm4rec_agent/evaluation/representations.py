"""Item representations to compare, each an L2-normalised matrix (one row per catalog item).

- ``title``: the catalog title alone (for IKEA: series name and product type);
- ``text``: all of the item's own text (title, type, colour, description...);
- ``grounded``: the grounder's description and attributes alone (VLM4Rec's representation);
- ``grounded_text``: the grounded description followed by the item's text, which is exactly
  what ``vlm4rec ingest`` stores;
- ``visual``: EfficientNet-Lite0's pooled 1,280-d image features (raw visual features);
- ``concat``: ``grounded_text`` and ``visual`` vectors, each normalised, concatenated;
- ``fusion``: a weighted concatenation, sqrt(w)·text ⊕ sqrt(1-w)·visual with w = 0.8. The cosine
  of two such vectors is w·cos(text) + (1-w)·cos(visual): a weighted mean of the two similarities.

Vectors are computed once and cached under ``<home>/cache/eval`` by a key over the items'
ids, texts, image files (path, size, time), the encoder, the grounder and the text layout.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..embedding_text import EMBEDDING_TEXT_VERSION, build_embedding_text
from ..errors import InvalidInputError, Vlm4recError
from ..grounding.protocol import Grounder, GroundingFailure, GroundingInput, GroundingOutcome, checked
from ..grounding.schema import GroundingRecord
from ..image_encoding import normalised as normalise
from ..images import open_image
from ..items import Item, file_sha256

log = logging.getLogger(__name__)

TEXT_REPRESENTATIONS = ("title", "text", "grounded", "grounded_text")
REPRESENTATIONS = (*TEXT_REPRESENTATIONS, "visual", "concat", "fusion")
FUSION_TEXT_WEIGHT = 0.8
IMAGE_BATCH = 16
VISUAL_MODEL = "efficientnet-lite0-imagenet-pooled"


def weighted_concat(text: np.ndarray, visual: np.ndarray, text_weight: float) -> np.ndarray:
    """Rows of unit length whose dot products are w·cos(text) + (1-w)·cos(visual)."""
    return np.hstack([np.sqrt(text_weight) * normalise(text), np.sqrt(1 - text_weight) * normalise(visual)])


class VectorCache:
    """``.npy`` files keyed by what produced them; written atomically, read with a shape check."""

    def __init__(self, folder: Path | None):
        self.folder = folder

    def get_or_make(self, key_parts: Sequence[object], rows: int, make: Callable[[], np.ndarray]) -> np.ndarray:
        if self.folder is None:
            return make()
        key = hashlib.sha256(json.dumps(list(key_parts), default=str).encode("utf-8")).hexdigest()[:32]
        path = self.folder / f"{key}.npy"
        if path.is_file():
            try:
                cached = np.load(path)
                if cached.shape[0] == rows:
                    return cached
            except (OSError, ValueError) as error:
                log.warning("ignoring unreadable cached vectors %s (%s)", path, error)
        vectors = make()
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        with open(partial, "wb") as handle:
            np.save(handle, vectors)
        os.replace(partial, path)
        return vectors


def _items_fingerprint(items: Sequence[Item]) -> str:
    digest = hashlib.sha256()
    for item in items:
        try:
            stat = item.image.stat()
            file_id = f"{stat.st_size}:{stat.st_mtime_ns}"
        except OSError:
            file_id = "missing"
        digest.update(json.dumps([item.id, item.title, item.text, str(item.image), file_id]).encode("utf-8"))
    return digest.hexdigest()


def _record(item: Item, outcome: GroundingOutcome) -> GroundingRecord | None:
    """The record, or None for an item the grounder could not ground; a failure that means the
    grounder cannot go on (the VLM did not answer, or cannot be used) stops the evaluation."""
    if not isinstance(outcome, GroundingFailure):
        return outcome
    if outcome.stops:
        raise outcome.error()
    log.warning("item %s: not grounded: %s", item.id, outcome)
    return None


class Representations:
    """Builds (and caches) every representation of one catalog with one encoder and grounder."""

    def __init__(
        self,
        items: Sequence[Item],
        encoder,
        grounder: Grounder | None = None,
        cache_folder: Path | None = None,
        max_image_pixels: int = 120_000_000,
    ):
        self.items = list(items)
        self.encoder = encoder
        self.grounder = grounder
        self.cache = VectorCache(cache_folder)
        self.max_image_pixels = max_image_pixels
        self._fingerprint = _items_fingerprint(self.items)
        self._records: list[GroundingRecord | None] | None = None
        self.unusable_images = 0

    def _key(self, name: str) -> list[object]:
        parts: list[object] = [name, self._fingerprint, EMBEDDING_TEXT_VERSION]
        if name in TEXT_REPRESENTATIONS:
            parts.append(self.encoder.name)
        if name.startswith("grounded"):
            g = self._require_grounder()
            parts += [g.name, g.model_id, g.prompt_version]
        return parts

    def vectors(self, name: str) -> np.ndarray:
        if name not in REPRESENTATIONS:
            raise InvalidInputError(f"unknown representation {name!r}", f"use one of: {', '.join(REPRESENTATIONS)}")
        if name == "concat":
            return weighted_concat(self.vectors("grounded_text"), self.vectors("visual"), 0.5)
        if name == "fusion":
            return weighted_concat(self.vectors("grounded_text"), self.vectors("visual"), FUSION_TEXT_WEIGHT)
        if name == "visual":
            return self.cache.get_or_make(self._key(name) + [VISUAL_MODEL], len(self.items), self._visual)
        return self.cache.get_or_make(self._key(name), len(self.items), lambda: self._encode(self.texts(name)))

    def texts(self, name: str) -> list[str]:
        if name == "title":
            return [item.title or item.id for item in self.items]
        if name == "text":
            return [item.text or item.title or item.id for item in self.items]
        records = self.records()
        return [
            build_embedding_text(r.attributes, item.text, include_item_text=name == "grounded_text") if r else ""
            for item, r in zip(self.items, records)
        ]

    def _encode(self, texts: list[str]) -> np.ndarray:
        log.info("encoding %d texts with %s", len(texts), self.encoder.name)
        vectors = normalise(self.encoder.encode(texts))
        vectors[[i for i, t in enumerate(texts) if not t]] = 0.0  # nothing known: matches nothing
        return vectors

    def _require_grounder(self) -> Grounder:
        if self.grounder is None:
            raise InvalidInputError("grounded representations need a grounder")
        return self.grounder

    def _open(self, item: Item):
        try:
            return open_image(item.image, self.max_image_pixels)
        except Vlm4recError as error:
            log.warning("item %s: %s", item.id, error.message)
            return None

    def records(self) -> list[GroundingRecord | None]:
        """Ground every item's photo (with its text) once; the grounding cache makes reruns free."""
        if self._records is None:
            grounder, records = self._require_grounder(), []
            log.info("grounding %d items with %s", len(self.items), grounder.name)
            for start in range(0, len(self.items), IMAGE_BATCH):
                batch = self.items[start : start + IMAGE_BATCH]
                inputs = [
                    GroundingInput(image=im, text=item.text or None, image_hash=file_sha256(item.image))
                    if (im := self._open(item)) is not None
                    else None
                    for item in batch
                ]
                usable = [i for i in inputs if i is not None]
                grounded = iter(checked(grounder, usable, grounder.ground(usable)) if usable else [])
                records += [_record(item, next(grounded)) if i is not None else None for item, i in zip(batch, inputs)]
            self.unusable_images = sum(r is None for r in records)
            self._records = records
        return self._records

    def _visual(self) -> np.ndarray:
        from ..grounding.efficientnet_lite import classify

        log.info("computing visual features of %d items", len(self.items))
        rows = []
        for start in range(0, len(self.items), IMAGE_BATCH):
            images = [self._open(item) for item in self.items[start : start + IMAGE_BATCH]]
            features = iter(classify([im for im in images if im is not None])[0]) if any(images) else iter(())
            rows += [next(features) if im is not None else np.zeros(1280, np.float32) for im in images]
        return normalise(np.stack(rows))

    def query_vectors(self, name: str, images: Sequence[Path]) -> np.ndarray:
        """Vectors for query photos (room scenes) in the same space as ``vectors(name)``.

        A photo has no catalog text, so every text representation uses the photo's grounded
        description (the only text a photo yields); ``visual`` uses its image features.
        """
        if name == "visual":
            return self._query_visual(images)
        if name in ("concat", "fusion"):
            weight = 0.5 if name == "concat" else FUSION_TEXT_WEIGHT
            return weighted_concat(self.query_vectors("grounded", images), self._query_visual(images), weight)
        grounder = self._require_grounder()
        fingerprint = [str(p) for p in images]

        def make() -> np.ndarray:
            texts = []
            for path in images:
                image = open_image(path, self.max_image_pixels)
                query = [GroundingInput(image=image, image_hash=file_sha256(path))]
                [outcome] = checked(grounder, query, grounder.ground(query))
                if isinstance(outcome, GroundingFailure):
                    raise outcome.error()
                record = outcome
                texts.append(build_embedding_text(record.attributes, include_item_text=False))
            return self._encode(texts)

        key = [
            "query-grounded",
            fingerprint,
            self.encoder.name,
            grounder.name,
            grounder.model_id,
            grounder.prompt_version,
        ]
        return self.cache.get_or_make(key + [EMBEDDING_TEXT_VERSION], len(images), make)

    def _query_visual(self, images: Sequence[Path]) -> np.ndarray:
        from ..grounding.efficientnet_lite import classify

        def make() -> np.ndarray:
            return normalise(classify([open_image(p, self.max_image_pixels) for p in images])[0])

        return self.cache.get_or_make(["query-visual", [str(p) for p in images], VISUAL_MODEL], len(images), make)
