"""The shopping vocabulary: categories, colours, materials, styles, patterns, occasions, seasons.

It is data (``data/vocabulary.toml``) plus one matcher: :meth:`Vocabulary.parse` reads free text
(an item's own text, or a shopper's query) into :class:`Attributes` by finding the vocabulary's
phrases as whole words, longest phrase first, in the order they occur.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .schema import Attributes

_SECTIONS = {
    "colors": "colors",
    "materials": "materials",
    "styles": "style",
    "patterns": "pattern",
    "occasions": "occasion",
    "seasons": "season",
}


@dataclass(frozen=True)
class Category:
    name: str
    group: str
    keywords: tuple[str, ...]
    imagenet: tuple[str, ...]
    usage: tuple[str, ...]
    season: tuple[str, ...]


def _normalize_text(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u2019", "'")).lower()


class PhraseMatcher:
    """Finds canonical values named by any of their phrases, as whole words, longest first."""

    def __init__(self, phrases: dict[str, list[str] | tuple[str, ...]]):
        self._canonical: dict[str, str] = {}
        for canonical, words in phrases.items():
            for phrase in (canonical, *words):
                self._canonical.setdefault(_normalize_text(phrase).strip(), canonical)
        alternatives = sorted(self._canonical, key=len, reverse=True)
        body = "|".join(re.escape(p) for p in alternatives)
        # A hyphen counts as part of a word: "t-shirt" must not also match "shirt". A plain
        # plural ending is allowed ("dresses", "lamps"); irregular plurals are phrases of their own.
        self._pattern = re.compile(rf"(?<![\w-])(?P<phrase>{body})(?:es|s)?(?![\w-])")

    @property
    def phrases(self) -> list[str]:
        """Every phrase that names a value (canonical names and their keywords), normalised."""
        return list(self._canonical)

    def find(self, text: str | None) -> list[str]:
        """Canonical values found in ``text``, by first occurrence, without duplicates."""
        if not text:
            return []
        found: list[str] = []
        for match in self._pattern.finditer(_normalize_text(text)):
            canonical = self._canonical[match.group("phrase")]
            if canonical not in found:
                found.append(canonical)
        return found


class Vocabulary:
    def __init__(self, data: dict):
        self.version: int = data["version"]
        self.categories: dict[str, Category] = {
            name: Category(
                name=name,
                group=spec.get("group", ""),
                keywords=tuple(spec.get("keywords", ())),
                imagenet=tuple(spec.get("imagenet", ())),
                usage=tuple(spec.get("usage", ())),
                season=tuple(spec.get("season", ())),
            )
            for name, spec in data["categories"].items()
        }
        self.color_rgb: dict[str, list[tuple[int, int, int]]] = {
            name: [tuple(rgb) for rgb in spec["rgb"]] for name, spec in data["colors"].items() if "rgb" in spec
        }
        self._category_matcher = PhraseMatcher({c.name: c.keywords for c in self.categories.values()})
        self._matchers: dict[str, PhraseMatcher] = {}
        self._words: frozenset[str] | None = None
        for section, field in _SECTIONS.items():
            table = data[section]
            phrases = {name: spec["keywords"] if isinstance(spec, dict) else spec for name, spec in table.items()}
            self._matchers[field] = PhraseMatcher(phrases)

    def find(self, field: str, text: str | None) -> list[str]:
        """Values of one attribute field (``colors``, ``materials``, ``style``...) named in text."""
        if field == "category":
            return self._category_matcher.find(text)
        return self._matchers[field].find(text)

    def words(self) -> frozenset[str]:
        """Every single word of every phrase of the vocabulary (what a misspelt query word is held against)."""
        if self._words is None:
            matchers = [self._category_matcher, *self._matchers.values()]
            found = {w for m in matchers for phrase in m.phrases for w in re.findall(r"[a-z]+", phrase) if len(w) >= 3}
            self._words = frozenset(found)
        return self._words

    def parse(self, text: str | None) -> Attributes:
        """Read the attributes that free text names (first category named wins)."""
        categories = self.find("category", text)
        return Attributes(
            category=categories[0] if categories else None,
            **{field: self.find(field, text) for field in _SECTIONS.values()},
        )


@lru_cache(maxsize=1)
def load_vocabulary() -> Vocabulary:
    """The packaged vocabulary (parsed once per process)."""
    raw = resources.files("vlm4rec_agent.grounding").joinpath("data/vocabulary.toml").read_text("utf-8")
    return Vocabulary(tomllib.loads(raw))
