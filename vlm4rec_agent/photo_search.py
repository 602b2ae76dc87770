"""Items like a photo: the photo's image vector and its grounded description, fused.

A photo query is scored ``w · visual + (1 − w) · text`` per item (``w`` =
``VLM4REC_PHOTO_VISUAL_WEIGHT``, 0.9): the cosine of the item's image vector with the photo's,
and the cosine of the item's text vector with the photo's grounded description. Candidates are
the nearest items of each (so an item found by either can win), then every candidate is scored
on both exactly. A scene (a room photo, "shop the look") is compared as several views, the whole
photo and its corners (see :func:`vlm4rec_agent.image_encoding.scene_views`): an item's visual
similarity is its best over the views. An item with no image vector yet (stored before visual
vectors existed, until the next ingest adds it) is scored on its words alone. An item whose photo
is the query photo itself (image vectors at least ``SAME_PHOTO`` alike) comes first, whatever
the words say: two near-identical shots of different products differ by less than the words can.

On the IKEA tune part (docs/evaluation/photos.md): a catalog's own photo finds its item (or an
item with the same photo) first for every sampled item from w = 0.5 up, where words alone found
it 51% of the time; room photos found their products at Recall@10 0.065 as scenes, 0.048 as
whole photos, 0.020 by words alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .image_encoding import SAME_PHOTO
from .store.catalog import StoredCatalog
from .store.catalog_index import Filters


@dataclass(frozen=True)
class PhotoHit:
    id: str
    score: float
    visual: float | None  # best cosine of the item's image vector with the photo's views; None: it has none
    text: float  # cosine of the item's text vector with the photo's grounded description


def pool_size(k: int) -> int:
    return max(5 * k, 50)


def rank_photo(
    catalog: StoredCatalog,
    text_vector: np.ndarray,
    views: np.ndarray | None,
    k: int,
    filters: Filters | None,
    visual_weight: float,
) -> list[PhotoHit]:
    """The ``k`` best items for a photo whose description encodes to ``text_vector`` (1 x d) and
    whose views encode to ``views`` (m x d', or None when no image vectors are used)."""
    n = pool_size(k)
    by_text = {c.id: c for c in catalog.nearest(text_vector, n, filters, with_vectors=True)[0]}
    visual = catalog.visual if views is not None and len(views) else None
    if visual is None:
        hits = [PhotoHit(c.id, c.similarity, None, c.similarity) for c in by_text.values()]
        return sorted(hits, key=lambda h: -h.score)[:k]
    found = {item_id for row in visual.query(views, n) for item_id, _ in row}
    if filters is not None and not filters.is_empty:
        allowed = catalog.allowed_ids(filters)
        found = {i for i in found if i in allowed} if allowed is not None else found & by_text.keys()
    ids = list(dict.fromkeys([*by_text, *sorted(found)]))
    text_vectors = catalog.vectors([i for i in ids if i not in by_text])
    image_vectors = visual.vectors(ids)
    hits = []
    for item_id in ids:
        if item_id in by_text:
            text = by_text[item_id].similarity
        elif item_id in text_vectors:
            text = float(text_vectors[item_id].astype(np.float32) @ text_vector[0])
        else:
            continue  # gone from the catalog since the visual index was written
        image = image_vectors.get(item_id)
        seen = float(np.max(views @ image)) if image is not None else None
        score = visual_weight * seen + (1 - visual_weight) * text if seen is not None else text
        hits.append(PhotoHit(item_id, score, seen, text))
    return sorted(hits, key=lambda h: (not _same_photo(h), -h.score, h.id))[:k]


def _same_photo(hit: PhotoHit) -> bool:
    return hit.visual is not None and hit.visual >= SAME_PHOTO
