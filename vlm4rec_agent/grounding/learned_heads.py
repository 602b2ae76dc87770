"""Light classifiers taught by the catalog: attribute values from a photo's image vector.

Most catalogs name each item's product type, and many its colour or material, in their own text
(or a VLM grounded a sample of them). Those items teach, for each attribute, a logistic
regression on the image vectors (scikit-learn; features standardised): the head names that
attribute for photos that come without text (uploads, items with no text).

- *Labels*: the value the item's text names (read with the vocabulary), or a VLM's record; never
  the basic grounder's own guess from the photo (that would teach it its mistakes). A list
  attribute (colours, materials...) is learned as its first, most prominent value.
- *Calibrated*: a fifth of the labelled items (by a hash of the id) is kept back to fit a
  temperature (the probabilities then mean what they say), and to measure the head's accuracy;
  the head is then refitted on all of them. A value whose calibrated probability is below
  ``VLM4REC_HEADS_MIN_CONFIDENCE`` is left out, not guessed.
- *Abstaining on photos from elsewhere*: a photo whose image vector is farther from every catalog
  item than nearly all catalog items are from their nearest neighbour (0.9 x the 1st percentile)
  is not of this catalog's world (a cat, a screenshot, a blank page); every head abstains.

Heads are kept as one ``.npz`` file (arrays and a JSON header, no pickles) per catalog under
``VLM4REC_HOME/heads``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..items import StoredItem
from .schema import Attributes
from .vocabulary import Vocabulary

log = logging.getLogger(__name__)

HEADS_VERSION = 1
FIELDS = ("category", "colors", "materials", "pattern", "style")
MIN_EXAMPLES = 40  # labelled items a head needs
MIN_PER_VALUE = 8  # a value named fewer times is not learned (too few photos to learn it from)
MAX_EXAMPLES = 20_000  # a larger catalog teaches from a sample of this many (training time stays bounded)
CALIBRATION_SHARE = 0.2
REGULARISATION = 0.02  # scikit-learn's C; chosen on the clothing tune part (docs/evaluation/grounding.md)
NOVELTY_PERCENTILE = 1.0
NOVELTY_MARGIN = 0.9  # held-out garments: 1st percentile 0.50; a lion, a bus, a blank page, a screenshot: 0.25-0.39
NOVELTY_SAMPLE = 2_000
TEMPERATURES = np.exp(np.linspace(np.log(0.25), np.log(8.0), 41))
LEARNED_GROUNDERS = ("basic",)  # whose records the heads may overrule; a VLM's answers stand


@dataclass
class Head:
    field: str
    values: list[str]
    coef: np.ndarray  # values x dim, on standardised features
    intercept: np.ndarray
    temperature: float
    accuracy: float  # on the kept-back fifth, before refitting on all
    coverage: float  # share of the kept-back fifth named at the confidence threshold
    examples: int

    def probabilities(self, standardised: np.ndarray) -> np.ndarray:
        logits = (standardised @ self.coef.T + self.intercept) / self.temperature
        if len(self.values) == 2 and self.coef.shape[0] == 1:  # scikit-learn's binary form
            logits = np.hstack([-logits, logits])
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Learned:
    """One value a head names, with its calibrated probability."""

    value: str
    probability: float


@dataclass
class Heads:
    encoder: str  # the image encoder whose vectors the heads read
    items: int  # catalog items with an image vector when the heads were trained
    mean: np.ndarray
    scale: np.ndarray
    novelty: float  # least similarity to the nearest catalog item for a photo to count as of this catalog
    min_confidence: float
    heads: dict[str, Head] = field(default_factory=dict)
    seconds: float = 0.0
    peak_mb: float = 0.0

    def source(self, head: Head) -> str:
        return f"learned from {head.examples:,} items of this catalog"

    def predict(self, vectors: np.ndarray, nearest: Sequence[float]) -> list[dict[str, Learned] | None]:
        """Per photo: the values named with enough confidence, or None for a photo not of this
        catalog's world (``nearest``: its similarity to the nearest catalog item)."""
        standardised = (np.asarray(vectors, np.float32) - self.mean) / self.scale
        probabilities = {name: head.probabilities(standardised) for name, head in self.heads.items()}
        out: list[dict[str, Learned] | None] = []
        for row, similarity in enumerate(nearest):
            if similarity < self.novelty:
                out.append(None)
                continue
            named = {}
            for name, head in self.heads.items():
                best = int(np.argmax(probabilities[name][row]))
                p = float(probabilities[name][row, best])
                if p >= self.min_confidence:
                    named[name] = Learned(head.values[best], round(p, 3))
            out.append(named)
        return out

    def describe(self) -> str:
        parts = [
            f"{name} ({len(h.values)} values, "
            + (
                f"{h.accuracy:.0%} right on kept-back items)"
                if h.accuracy == h.accuracy
                else "too few to keep some back)"
            )
            for name, h in self.heads.items()
        ]
        return (f"heads learned from {self.items:,} items in {self.seconds:.1f} s (peak {self.peak_mb:.0f} MB): "
                + ", ".join(parts))  # fmt: skip

    # --- files ---------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        header = {
            "version": HEADS_VERSION,
            "encoder": self.encoder,
            "items": self.items,
            "novelty": self.novelty,
            "min_confidence": self.min_confidence,
            "seconds": self.seconds,
            "peak_mb": self.peak_mb,
            "heads": {
                name: {"values": h.values, "temperature": h.temperature, "accuracy": h.accuracy,
                       "coverage": h.coverage, "examples": h.examples}
                for name, h in self.heads.items()
            },
        }  # fmt: skip
        arrays = {
            "mean": self.mean,
            "scale": self.scale,
            "header": np.frombuffer(json.dumps(header).encode(), np.uint8),
        }
        for name, head in self.heads.items():
            arrays[f"{name}.coef"], arrays[f"{name}.intercept"] = head.coef, head.intercept
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part.npz")
        np.savez(partial, **arrays)
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> Heads | None:
        """The heads saved at ``path``; None when there are none, or they are of an older version."""
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(bytes(data["header"]).decode())
                if header.get("version") != HEADS_VERSION:
                    return None
                heads = {
                    name: Head(name, meta["values"], data[f"{name}.coef"], data[f"{name}.intercept"],
                               meta["temperature"], meta["accuracy"], meta["coverage"], meta["examples"])
                    for name, meta in header["heads"].items()
                }  # fmt: skip
                return cls(
                    header["encoder"], header["items"], data["mean"], data["scale"], header["novelty"],
                    header["min_confidence"], heads, header["seconds"], header["peak_mb"],
                )  # fmt: skip
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as error:
            log.warning("ignoring unreadable learned heads %s (%s)", path, error)
            return None


# --- labels ----------------------------------------------------------------------------------
def labels_of(item: StoredItem, vocabulary: Vocabulary) -> dict[str, str]:
    """The values an item teaches: what its own text names, or its record if a VLM made it."""
    named = vocabulary.parse(" ".join(part for part in (item.title, item.kind, item.text) if part))
    record = item.record
    from_vlm = record.grounder not in LEARNED_GROUNDERS and record.status in ("ok", "partial")
    labels = {}
    for name in FIELDS:
        value = _first(named, name) or (_first(record.attributes, name) if from_vlm else None)
        if value:
            labels[name] = value
    return labels


def _first(attributes: Attributes, name: str) -> str | None:
    value = getattr(attributes, name)
    if isinstance(value, list):
        return value[0] if value else None
    return value or None


def _kept_back(key: str) -> bool:
    return int(hashlib.sha256(f"calibrate:{key}".encode()).hexdigest()[:8], 16) % 1000 < CALIBRATION_SHARE * 1000


# --- training --------------------------------------------------------------------------------
def train_heads(
    ids: Sequence[str],
    vectors: np.ndarray,
    labels: Sequence[dict[str, str]],
    encoder: str,
    min_confidence: float,
    items: int | None = None,
) -> Heads | None:
    """Heads for every attribute that enough items name; None when none can be learned."""
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    tracemalloc.start()
    try:
        vectors = np.asarray(vectors, np.float32)
        if len(ids) > MAX_EXAMPLES:
            keep = np.sort(np.random.default_rng(0).choice(len(ids), MAX_EXAMPLES, replace=False))
            ids, vectors, labels = [ids[i] for i in keep], vectors[keep], [labels[i] for i in keep]
        if len(ids) < MIN_EXAMPLES:
            return None
        mean, scale = vectors.mean(axis=0), vectors.std(axis=0) + 1e-6
        standardised = (vectors - mean) / scale
        kept_back = np.array([_kept_back(i) for i in ids])
        heads = {}
        for name in FIELDS:
            rows = [n for n, found in enumerate(labels) if name in found]
            counts = Counter(labels[n][name] for n in rows)
            rows = [n for n in rows if counts[labels[n][name]] >= MIN_PER_VALUE]
            values = sorted({labels[n][name] for n in rows})
            if len(rows) < MIN_EXAMPLES or len(values) < 2:
                continue
            x, y = standardised[rows], np.array([values.index(labels[n][name]) for n in rows])
            back = kept_back[rows]
            fit = LogisticRegression(C=REGULARISATION, max_iter=300)
            if back.any() and (~back).any() and len(set(y[~back])) == len(values):
                fit.fit(x[~back], y[~back])
                temperature, accuracy, coverage = _calibrate(fit, x[back], y[back], min_confidence)
            else:  # too few to keep a part back: no calibration, and no accuracy to report
                temperature, accuracy, coverage = 1.0, float("nan"), float("nan")
            fit = LogisticRegression(C=REGULARISATION, max_iter=300).fit(x, y)
            heads[name] = Head(name, values, fit.coef_.astype(np.float32), fit.intercept_.astype(np.float32),
                               temperature, accuracy, coverage, len(rows))  # fmt: skip
        if not heads:
            return None
        _, peak = tracemalloc.get_traced_memory()
        return Heads(
            encoder, items if items is not None else len(ids), mean, scale, _novelty(vectors), min_confidence, heads,
            round(time.perf_counter() - started, 2), round(peak / 2**20, 1),
        )  # fmt: skip
    finally:
        tracemalloc.stop()


def _calibrate(fit, x: np.ndarray, y: np.ndarray, min_confidence: float) -> tuple[float, float, float]:
    """The temperature that makes the kept-back part's probabilities fit best (least log loss), and
    the accuracy and coverage there at the confidence threshold."""
    logits = fit.decision_function(x)
    if logits.ndim == 1:
        logits = np.stack([-logits, logits], axis=1)
    best, best_loss = 1.0, float("inf")
    for t in TEMPERATURES:
        scaled = logits / t
        scaled -= scaled.max(axis=1, keepdims=True)
        log_p = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
        loss = -float(log_p[np.arange(len(y)), y].mean())
        if loss < best_loss:
            best, best_loss = float(t), loss
    scaled = logits / best
    p = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    named = p.max(axis=1) >= min_confidence
    right = p.argmax(axis=1) == y
    return best, round(float(right.mean()), 3), round(float(named.mean()), 3)


def _novelty(vectors: np.ndarray) -> float:
    """The 1st percentile of catalog items' similarity to their nearest other item."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    rng = np.random.default_rng(1)
    sample = rng.choice(len(unit), min(NOVELTY_SAMPLE, len(unit)), replace=False)
    similarity = unit[sample] @ unit.T
    similarity[np.arange(len(sample)), sample] = -1.0
    return round(NOVELTY_MARGIN * float(np.percentile(similarity.max(axis=1), NOVELTY_PERCENTILE)), 4)
