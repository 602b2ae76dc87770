"""What kind of request a message is, learned from examples: the offline assistant's classifier.

The examples are package data, versioned like the prompts (``data/intents.v1.txt``). Each
message is read three ways: its meaning (the catalog's sentence encoder, all-MiniLM-L6-v2 by
default, already loaded for search), its words and letters (TF-IDF of word pairs and of letter
runs, which survive typos), and a few facts the exact rules see (does it point at a result, ask a
question, negate, name a product type). A multinomial logistic regression (scikit-learn) weighs
them. It is fitted when first needed, in well under a second once the examples' vectors are
cached (``HOME/cache/intents``); the same message always gets the same answer.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..encoding import TextEncoder
from . import slots

INTENTS_FILE = "intents.v1.txt"
INTENTS = (
    "search", "refine", "like", "dislike", "why", "similar", "recommend", "profile", "reset",
    "reset_profile", "help", "greet", "photo_similar", "photo_complement", "confirm", "cancel", "undo",
)  # fmt: skip
MEANING_WEIGHT = 1.0  # how much the sentence vector counts beside the words (both are unit-length)
FACTS_WEIGHT = 0.5
STRENGTH = 8.0  # logistic regression's C: the examples are clean, so they are fitted closely


@dataclass(frozen=True)
class Examples:
    texts: tuple[str, ...]
    intents: tuple[str, ...]
    version: str  # the file's name and content hash: what a cache of its vectors is keyed by

    @classmethod
    def load(cls, name: str = INTENTS_FILE) -> Examples:
        text = resources.files("vlm4rec_agent.assistant").joinpath("data", name).read_text("utf-8")
        return cls.parse(text, name)

    @classmethod
    def parse(cls, text: str, name: str = "examples") -> Examples:
        texts, intents, intent = [], [], None
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("# ") or line == "#":
                continue
            if header := re.fullmatch(r"\[(\w+)\]", line):
                intent = header.group(1)
                if intent not in INTENTS:
                    raise ValueError(f"{name}:{number}: unknown intent [{intent}]; known: {', '.join(INTENTS)}")
                continue
            if intent is None:
                raise ValueError(f"{name}:{number}: an example before any [intent] header")
            texts.append(line)
            intents.append(intent)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        return cls(tuple(texts), tuple(intents), f"{name}:{digest}")


def classifier_text(message: str) -> str:
    """The form the classifier reads: normalised, digits as 0 (which number is the rules' business)."""
    return re.sub(r"\d", "0", slots.normalise(message))


def facts(text: str) -> np.ndarray:
    """What the exact rules see in a (normalised) message, as 0/1 features."""
    refs = slots.references(text)
    return np.array(
        [
            any(r != slots.SELECTED for r in refs),
            slots.SELECTED in refs,
            slots.is_question(text),
            slots.has_negation(text),
            slots.names_category(text),
            bool(slots.attribute_terms(text)),
            len(text.split()) <= 2,
        ],
        dtype=np.float32,
    )


class IntentModel:
    """Probabilities of each intent for a message (see the module's docstring)."""

    def __init__(self, encoder: TextEncoder, examples: Examples | None = None, cache_dir: Path | None = None):
        self.encoder = encoder
        self.examples = examples or Examples.load()
        self.cache_dir = cache_dir
        self._fitted = None
        self._lock = threading.Lock()

    @property
    def intents(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self._fit().classes_)

    def probabilities(self, message: str) -> dict[str, float]:
        classifier, text = self._fit(), classifier_text(message)
        row = self._features([text], self._encode([text]))
        return dict(zip((str(c) for c in classifier.classes_), classifier.predict_proba(row)[0].tolist(), strict=True))

    def _encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.encoder.encode(texts), dtype=np.float32)

    def _example_vectors(self, texts: list[str]) -> np.ndarray:
        key = hashlib.sha256(f"{self.examples.version}|{self.encoder.name}".encode()).hexdigest()[:24]
        path = self.cache_dir / f"{key}.npy" if self.cache_dir else None
        if path is not None and path.exists():
            try:
                vectors = np.load(path)
                if vectors.shape == (len(texts), self.encoder.dim):
                    return vectors
            except (OSError, ValueError):
                pass  # a damaged cache file is made again
        vectors = self._encode(texts)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_suffix(f".{threading.get_ident()}.part.npy")
                np.save(partial, vectors)
                partial.replace(path)
            except OSError:
                pass  # a read-only home only costs the encoding next time
        return vectors

    def _features(self, texts: list[str], vectors: np.ndarray):
        from scipy import sparse

        words, letters = self._vectorisers
        rows = np.stack([facts(t) for t in texts])
        return sparse.hstack(
            [
                sparse.csr_matrix(vectors * MEANING_WEIGHT),
                words.transform(texts),
                letters.transform(texts),
                sparse.csr_matrix(rows * FACTS_WEIGHT),
            ]
        ).tocsr()

    def _fit(self):
        if self._fitted is not None:
            return self._fitted
        with self._lock:
            if self._fitted is None:
                from sklearn.feature_extraction.text import TfidfVectorizer
                from sklearn.linear_model import LogisticRegression

                texts = [classifier_text(t) for t in self.examples.texts]
                words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"[\w'#]+|[^\w\s]")
                letters = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
                words.fit(texts)
                letters.fit(texts)
                self._vectorisers = (words, letters)
                features = self._features(texts, self._example_vectors(texts))
                classifier = LogisticRegression(C=STRENGTH, max_iter=3000, class_weight="balanced")
                classifier.fit(features, list(self.examples.intents))
                self._fitted = classifier
        return self._fitted
