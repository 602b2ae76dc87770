"""Photo queries as the product runs them (:mod:`vlm4rec_agent.photo_search`), over the whole catalog.

``vlm4rec eval --task photos --items ITEMS [--groups GROUPS]``:

- *self-retrieval*: each item's own photo as the query (items of the chosen part, by a hash of
  the id); *first* = the item itself ranks first, *first or same photo* = the first item is it or
  one whose photo is the same (image vectors at least ``SAME_PHOTO`` alike: a catalog that holds
  one photo under two ids cannot tell them apart by the photo);
- *shop the look* (when groups have photos): each room photo as the query, its products relevant.

Methods: ``words`` (the photo's grounded description against the items' stored text vectors:
what photo queries did before image vectors), ``visual`` (the image vectors alone, whole photo),
``photo`` (the product's fusion, whole photo) and, for rooms, ``photo, scene`` (the product's
fusion over the scene's views).
"""

from __future__ import annotations

import numpy as np

from ..image_encoding import SAME_PHOTO, EfficientNetImageEncoder, scene_views
from ..images import open_image
from ..items import file_sha256
from .metrics import KS
from .protocol import _collect, top_k
from .splits import in_check_part
from .stats import bootstrap

METHODS = ("words", "visual", "photo")


def view_vectors(representations, images, scene: bool) -> list[np.ndarray]:
    """Each photo's image vectors, one per view (cached like the other vectors); a whole photo's is
    the representations' own query vector."""
    if not scene:
        return [row[None, :] for row in representations.query_vectors("visual", images)]
    encoder = EfficientNetImageEncoder()

    def make() -> np.ndarray:
        return np.stack([encoder.encode(scene_views(open_image(p, representations.max_image_pixels))) for p in images])

    key = ["query-views", [str(p) for p in images], encoder.name, scene]
    return list(representations.cache.get_or_make(key, len(images), make))


def photo_scores(representations, images, method: str, scene: bool, weight: float) -> np.ndarray:
    """Scores (queries x items) of a method."""
    text = representations.query_vectors("grounded", images) @ representations.vectors("grounded_text").T
    if method == "words":
        return text
    item_visual = representations.vectors("visual")
    views = view_vectors(representations, images, scene)
    visual = np.stack([(v @ item_visual.T).max(axis=0) for v in views])
    if method == "visual":
        return visual
    scores = weight * visual + (1 - weight) * text
    return scores + (visual >= SAME_PHOTO) * 10.0  # the same photo first, as rank_photo does


def self_retrieval(representations, part: str, weight: float) -> dict[str, dict]:
    items = representations.items
    chosen = [n for n, item in enumerate(items) if part == "all" or in_check_part(item.id) == (part == "check")]
    images = [items[n].image for n in chosen]
    same = _same_photo_sets(representations, chosen)
    out = {}
    for method in METHODS:
        scores = photo_scores(representations, images, method, False, weight)
        best = scores.argmax(axis=1)
        first = np.array([b == n for b, n in zip(best, chosen)], float)
        alike = np.array([b in same[n] for b, n in zip(best, chosen)], float)
        out[method] = {
            "queries": len(chosen),
            "first": bootstrap(first).as_dict(),
            "first_or_same_photo": bootstrap(alike).as_dict(),
        }
    return out


def _same_photo_sets(representations, chosen: list[int]) -> dict[int, set[int]]:
    """Per item: itself and the items with the same photo (identical files, or image vectors this alike)."""
    visual = representations.vectors("visual")
    hashes = [file_sha256(item.image) for item in representations.items]
    same = {}
    for n in chosen:
        alike = set(np.flatnonzero(visual @ visual[n] >= SAME_PHOTO)) | {
            m for m, h in enumerate(hashes) if h == hashes[n]
        }
        same[n] = alike | {n}
    return same


def shop_the_look(session, weight: float) -> dict[str, dict]:
    queries = [(user, scene) for user in session.users if user.items for scene in user.scenes if scene.is_file()]
    if not queries:
        return {}
    images = [scene for _, scene in queries]
    relevant = [np.asarray(user.items) for user, _ in queries]
    out = {}
    for method, scene in (("words", False), ("visual", False), ("photo", False), ("photo, scene", True)):
        scores = photo_scores(session.representations, images, method.split(",")[0], scene, weight)
        per = _collect([(top_k(row.astype(np.float64), max(KS)), rel) for row, rel in zip(scores, relevant)], KS)
        out[method] = {"queries": len(queries), "recall@10": bootstrap(per["recall@10"]).as_dict(),
                       "hit@10": bootstrap(per["hit@10"]).as_dict()}  # fmt: skip
    return out


def markdown(title: str, selfs: dict, looks: dict) -> str:
    def cell(e: dict) -> str:
        low, high = e["ci95"]
        return f"{e['mean']:.3f} ({low:.3f}–{high:.3f})"

    lines = [f"### {title}", "", "| self-retrieval | first | first or same photo | queries |", "|---|---|---|---|"]
    lines += [
        f"| {m} | {cell(r['first'])} | {cell(r['first_or_same_photo'])} | {r['queries']} |" for m, r in selfs.items()
    ]
    if looks:
        lines += ["", "| shop the look | Recall@10 | Hit@10 | queries |", "|---|---|---|---|"]
        lines += [f"| {m} | {cell(r['recall@10'])} | {cell(r['hit@10'])} | {r['queries']} |" for m, r in looks.items()]
    return "\n".join(lines) + "\n"
