"""What a search query asks for: its product type and attributes, its words, and its misspellings.

:func:`parse_query` reads a cleaned query into a :class:`ParsedQuery`:

- the attributes the vocabulary names (category, colours, materials, pattern, style, occasion,
  season), read after misspelt words are put right: a word that neither the vocabulary nor the
  catalog's text holds is taken for the vocabulary word one edit away (two for long words), so
  "dreses" is a dress and "trowsers" are trousers;
- the words the lexical index compares (stemmed, stop words and filler left out), and which of
  them some item's text holds.

The category is the query's product type: the search puts items of that type first. As in a
product's own type (:mod:`vlm4rec_agent.kinds`), the type is the last one named before the query
goes on about something else: "a table lamp for the desk" asks for a lamp, "lamp shade" for a shade.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from ..grounding.schema import LIST_FIELDS, Attributes
from ..grounding.vocabulary import Vocabulary, load_vocabulary
from ..kinds import QUERY_BREAK
from ..store.lexical_index import LexicalIndex, Term

_WORD = re.compile(r"[^\W\d_]+")


@dataclass
class ParsedQuery:
    text: str
    attributes: Attributes
    terms: list[Term] = field(default_factory=list)
    known_terms: list[Term] = field(default_factory=list)  # words some item's text holds
    corrections: dict[str, str] = field(default_factory=dict)  # misspelt word -> the vocabulary word
    corrected: str = ""  # the text with its misspelt words put right
    categories: list[str] = field(default_factory=list)  # every category the query names, the type's first

    @property
    def category(self) -> str | None:
        return self.attributes.category

    @property
    def other_attributes(self) -> list[tuple[str, str]]:
        """(field, value) of the attributes the query names besides its type."""
        return [(f, v) for f in LIST_FIELDS for v in getattr(self.attributes, f)]

    @property
    def names_anything(self) -> bool:
        """Whether the query names something a catalog can hold: a vocabulary value or a word of its text."""
        return bool(self.known_terms) or bool(self.attributes.pairs())


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a swap of two letters is one edit), or ``limit + 1`` when over it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] | None = None
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if previous2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


@lru_cache(maxsize=1)
def _spelling_index() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """The vocabulary's words and their plurals (form -> the word), and every form by what is left
    of it with one or two letters deleted (symmetric-delete spelling correction: a misspelt word
    and its form share a deletion within the edit limit, so only those few are compared)."""
    base: dict[str, str] = {}
    for word in sorted(load_vocabulary().words()):
        for form in (word, word + "s", word + "es" if word.endswith(("s", "x", "ch", "sh")) else word):
            base.setdefault(form, word)
    by_deletion: dict[str, set[str]] = {}
    for form in base:
        for key in _deletions(form, 2 if len(form) >= 6 else 1):
            by_deletion.setdefault(key, set()).add(form)
    return base, {key: tuple(sorted(forms)) for key, forms in by_deletion.items()}


def _deletions(word: str, depth: int) -> set[str]:
    found, frontier = {word}, {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


@lru_cache(maxsize=4096)
def correct_word(word: str) -> str | None:
    """The vocabulary word a misspelt ``word`` stands for (one edit away, two for long words), or
    None: a word of the vocabulary, too short to tell, or as close to two words as to one."""
    if len(word) < 4:
        return None
    base, by_deletion = _spelling_index()
    if word in base:
        return None
    limit = 2 if len(word) >= 8 else 1
    candidates = {form for key in _deletions(word, limit) for form in by_deletion.get(key, ())}
    closest: set[str] = set()
    best = limit + 1
    for form in sorted(candidates):
        distance = edit_distance(word, form, limit)
        if distance < best:
            closest, best = {base[form]}, distance
        elif distance == best:
            closest.add(base[form])
    return next(iter(closest)) if best <= limit and len(closest) == 1 else None


def parse_query(text: str, lexical: LexicalIndex | None = None, vocabulary: Vocabulary | None = None) -> ParsedQuery:
    vocabulary = vocabulary or load_vocabulary()
    terms = lexical.terms(text) if lexical is not None else []
    known = lexical.known(terms) if lexical is not None else []
    known_words = {t.word for t in known}
    vocabulary_forms, _ = _spelling_index()
    corrections: dict[str, str] = {}
    for word in {w.lower() for w in _WORD.findall(text)}:
        if word in vocabulary_forms or word in known_words:
            continue
        fixed = correct_word(word)
        if fixed is not None:
            corrections[word] = fixed
    corrected = text
    for wrong, right in corrections.items():
        corrected = re.sub(rf"(?<![\w-]){re.escape(wrong)}(?![\w-])", right, corrected, flags=re.IGNORECASE)
    if corrections and lexical is not None:  # the put-right words count as words of the query too
        terms += [t for t in lexical.terms(" ".join(corrections.values())) if t not in terms]
        known = lexical.known(terms)
    attributes = vocabulary.parse(corrected)
    attributes.category = query_category(corrected, vocabulary)
    named = vocabulary.find("category", corrected)
    return ParsedQuery(
        text=text,
        attributes=attributes,
        terms=terms,
        known_terms=known,
        corrections=corrections,
        corrected=corrected,
        categories=[c for c in [attributes.category, *named] if c] if attributes.category else named,
    )


def query_category(text: str, vocabulary: Vocabulary) -> str | None:
    """The category a query asks for: the last one named before its first "for", "with", "in"...
    (the head of its noun phrase), else the first one named anywhere."""
    head = vocabulary.find("category", QUERY_BREAK.split(text, maxsplit=1)[0])
    if head:
        return head[-1]
    anywhere = vocabulary.find("category", text)
    return anywhere[0] if anywhere else None
