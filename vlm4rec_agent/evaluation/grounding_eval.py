"""How well a grounder names what a photo shows: per-attribute accuracy and coverage against labels.

``vlm4rec eval --task grounding --labels photos.csv``. The CSV has an ``image`` column (a path,
relative to the file) and one column per labelled attribute: ``category`` (or ``label``),
``colors``/``color``, ``materials``/``material``, ``pattern``, ``style``; values are read with
the vocabulary, so "Pants" and "trousers" are the same category. Every photo is grounded from
the photo alone (no text: what a shopper's upload gives).

Per attribute: *accuracy* = photos whose value is right / labelled photos (a photo the grounder
names nothing for counts as wrong), *coverage* = photos named / labelled photos, *precision* =
right / named. For a list attribute the grounder's first (most prominent) value is the one
judged. Intervals are bootstrap 95% over photos.

Methods: ``basic`` (the offline grounder alone); ``learned`` (the basic grounder taught by
heads, :mod:`vlm4rec_agent.grounding.learned`, learned from photos it is not judged on: those of
the tune part when the check part is judged, else 5-fold cross-fitting, each photo judged by heads
learned from the other four fifths, its labels standing in for the catalog text); and the
configured grounder when it is not the basic one (a VLM).
"""

from __future__ import annotations

import csv
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError, NotFoundError
from ..grounding.basic import BasicGrounder
from ..grounding.learned import LearnedGrounder
from ..grounding.learned_heads import FIELDS, train_heads
from ..grounding.protocol import Grounder, GroundingFailure, GroundingInput, checked
from ..grounding.schema import Attributes
from ..grounding.vocabulary import Vocabulary, load_vocabulary
from ..image_encoding import EfficientNetImageEncoder
from ..images import open_image
from .splits import in_check_part
from .stats import bootstrap

COLUMNS = {
    "category": ("category", "label"),
    "colors": ("colors", "color", "colours", "colour"),
    "materials": ("materials", "material"),
    "pattern": ("pattern",),
    "style": ("style",),
}
FOLDS = 5
BATCH = 16


@dataclass
class LabelledPhoto:
    id: str
    image: Path
    truth: dict[str, set[str]]  # attribute -> the right values


@dataclass
class GroundingRun:
    method: str
    photos: int
    seconds: float
    per_field: dict[str, dict] = field(default_factory=dict)


def read_labels(path: str | Path, vocabulary: Vocabulary | None = None) -> list[LabelledPhoto]:
    vocabulary = vocabulary or load_vocabulary()
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"labels file not found: {path}", "give a CSV with an image column and label columns")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = {name.strip().lower(): name for name in reader.fieldnames or []}
        image_column = next((header[c] for c in ("image", "image_path", "path", "file") if c in header), None)
        columns = {f: header[c] for f, names in COLUMNS.items() for c in names if c in header}
        columns = {f: columns[f] for f in COLUMNS if f in columns}
        if image_column is None or not columns:
            raise InvalidInputError(
                f"{path.name} needs an image column and at least one label column (has: {', '.join(header) or 'none'})",
                "name them image and category (or label), colors, materials, pattern, style",
            )
        photos = []
        for n, row in enumerate(reader, start=2):
            truth = {}
            for field_name, column in columns.items():
                parsed = vocabulary.parse(row.get(column) or "")
                values = (
                    [parsed.category] if field_name == "category" and parsed.category else getattr(parsed, field_name)
                )
                if values and field_name != "category":
                    values = list(values)
                if values:
                    truth[field_name] = set(values)
            if truth and row.get(image_column):
                photos.append(LabelledPhoto(row.get("id") or f"row-{n}", path.parent / row[image_column], truth))
    if not photos:
        raise InvalidInputError(f"{path.name} has no row with a photo and a label the vocabulary knows")
    return photos


def part_of(photos: list[LabelledPhoto], part: str) -> list[LabelledPhoto]:
    if part == "all":
        return photos
    return [p for p in photos if in_check_part(p.id) == (part == "check")]


def judge(
    method: str, photos: Sequence[LabelledPhoto], found: Sequence[Attributes | None], seconds: float
) -> GroundingRun:
    run = GroundingRun(method, len(photos), round(seconds, 2))
    for name in FIELDS:
        labelled = [(p, a) for p, a in zip(photos, found) if name in p.truth]
        if not labelled:
            continue
        right, named = [], []
        for photo, attributes in labelled:
            value = _first(attributes, name) if attributes is not None else None
            named.append(value is not None)
            right.append(value is not None and value in photo.truth[name])
        accuracy = bootstrap(np.array(right, float))
        run.per_field[name] = {
            "labelled": len(labelled),
            "accuracy": round(accuracy.mean, 3),
            "accuracy_ci95": [round(accuracy.low, 3), round(accuracy.high, 3)],
            "coverage": round(float(np.mean(named)), 3),
            "precision": round(float(np.sum(right) / max(np.sum(named), 1)), 3),
        }
    return run


def _first(attributes: Attributes, name: str) -> str | None:
    value = getattr(attributes, name)
    return (value[0] if value else None) if isinstance(value, list) else value


def ground_all(grounder: Grounder, photos: Sequence[LabelledPhoto], max_pixels: int) -> tuple[list, float]:
    started, found = time.perf_counter(), []
    for start in range(0, len(photos), BATCH):
        inputs = [GroundingInput(image=open_image(p.image, max_pixels)) for p in photos[start : start + BATCH]]
        for outcome in checked(grounder, inputs, grounder.ground(inputs)):
            found.append(None if isinstance(outcome, GroundingFailure) else outcome.attributes)
    return found, time.perf_counter() - started


def evaluate_learned(
    photos: list[LabelledPhoto], judged: list[LabelledPhoto], min_confidence: float, max_pixels: int
) -> tuple[list, float, dict]:
    """Ground ``judged`` with the basic grounder taught by heads learned from photos not judged."""
    encoder = EfficientNetImageEncoder()
    basic = BasicGrounder()
    vectors = {}
    for start in range(0, len(photos), BATCH):
        batch = photos[start : start + BATCH]
        for photo, vector in zip(batch, encoder.encode([open_image(p.image, max_pixels) for p in batch])):
            vectors[photo.id] = vector
    judged_ids = {p.id for p in judged}
    if len(judged_ids) == len(photos):  # all judged: cross-fitting
        folds = [[p for p in photos if _fold(p.id) == f] for f in range(FOLDS)]
        plan = [([p for p in photos if _fold(p.id) != f], fold) for f, fold in enumerate(folds)]
    else:
        plan = [([p for p in photos if p.id not in judged_ids], judged)]
    found: dict[str, Attributes | None] = {}
    started, trained = time.perf_counter(), {}
    for teachers, pupils in plan:
        labels = [{k: sorted(v)[0] for k, v in p.truth.items()} for p in teachers]
        teacher_vectors = np.stack([vectors[p.id] for p in teachers])
        heads = train_heads([p.id for p in teachers], teacher_vectors, labels, encoder.name, min_confidence)
        if heads is None:
            raise InvalidInputError("too few labelled photos to learn heads from", "label at least 40 photos")
        trained = {"teachers": len(teachers), "seconds": heads.seconds, "peak_mb": heads.peak_mb}

        def nearest(v: np.ndarray, teacher_vectors=teacher_vectors) -> list[float]:
            return list((v @ teacher_vectors.T).max(axis=1))

        grounder = LearnedGrounder(basic, lambda heads=heads: heads, lambda: encoder, nearest)
        attributes, _ = ground_all(grounder, pupils, max_pixels)
        found.update({p.id: a for p, a in zip(pupils, attributes)})
    return [found[p.id] for p in judged], time.perf_counter() - started, trained


def _fold(key: str) -> int:
    return int(hashlib.sha256(f"fold:{key}".encode()).hexdigest()[:8], 16) % FOLDS


def markdown(runs: list[GroundingRun], title: str) -> str:
    lines = [f"### {title}", "", "| attribute | method | accuracy (95% CI) | coverage | precision | photos |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for name in FIELDS:
        for run in runs:
            row = run.per_field.get(name)
            if row:
                low, high = row["accuracy_ci95"]
                lines.append(f"| {name} | {run.method} | {row['accuracy']:.3f} ({low:.3f}–{high:.3f}) | "
                             f"{row['coverage']:.2f} | {row['precision']:.3f} | {row['labelled']} |")  # fmt: skip
    lines += ["", "| method | seconds | ms per photo |", "|---|---|---|"]
    lines += [f"| {r.method} | {r.seconds:.1f} | {1000 * r.seconds / max(r.photos, 1):.0f} |" for r in runs]
    return "\n".join(lines) + "\n"
