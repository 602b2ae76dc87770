"""Product types as catalogs write them ("Pendant lamp, 3-armed", "Wash-stand with 2 drawers"): their
head, and the phrases a shopper would name them by.

English puts the noun that says what a thing is last in its first phrase: a "table lamp" is a
lamp, a "coffee table" a table, a "lamp shade" a shade. So a type's *head* is its words up to the
first comma or joining word ("with", "for", "and", "+"...), singular, and a shopper names it by
any ending of that head: "Pendant lamp" answers to "pendant lamp" and to "lamp", never to
"pendant" alone, and "Table lamp base" answers to "base", not to "lamp".
"""

from __future__ import annotations

import re
from functools import lru_cache

_BREAK = re.compile(r",|\+|\b(?:with|w|for|and|in|on|incl|including|set of)\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
MAX_SUFFIX_WORDS = 3


def singular(word: str) -> str:
    """A plain English singular, good enough for product nouns (lamps, boxes, dresses, shelves)."""
    w = word.lower()
    if len(w) > 4 and w.endswith("ves") and w[:-3] + "f" in ("shelf", "half", "leaf", "knife", "wolf", "scarf"):
        return w[:-3] + "f"
    if len(w) > 4 and w.endswith(("sses", "xes", "ches", "shes", "zes")):
        return w[:-2]
    if len(w) > 3 and w.endswith("ies") and w[-4] not in "aeiou":
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "os")):
        return w[:-1]
    return w


def words(text: str) -> list[str]:
    """Lower-case singular words, hyphenated ones kept whole ("t-shirt", "wash-stand")."""
    return [singular(w) for w in _WORD.findall(text or "")]


def head(kind: str) -> str:
    """The part of a type that says what the thing is: ``"Pendant lamp, 3-armed"`` -> ``"pendant lamp"``."""
    first = _BREAK.split(kind or "", maxsplit=1)[0]
    return " ".join(w for w in words(first) if not w.isdigit())


def suffixes(kind: str) -> list[str]:
    """The phrases that name a type, most specific first: ``"Pendant lamp"`` -> ``["pendant lamp", "lamp"]``.

    An ending that starts with a joining or one-letter word ("of drawers", "s armchair") names nothing.
    """
    parts = head(kind).split()
    endings = [parts[i:] for i in range(max(0, len(parts) - MAX_SUFFIX_WORDS), len(parts))]
    return [" ".join(e) for e in endings if len(e[0]) > 1 and e[0] not in _JOINING]


_JOINING = {"of", "the", "a", "an", "to", "at", "by"}
# Words after which a query goes on about something else: "a lamp *for* the kitchen".
QUERY_BREAK = re.compile(r"\b(?:for|with|in|to|on|under|near|that|which|from|without|like)\b", re.IGNORECASE)


def named_type(query: str, phrases: frozenset[str]) -> str | None:
    """The type a query names, among ``phrases`` (the endings of a catalog's types): the longest
    run of its words that is one, preferring the words before any "for", "with", "in"... and, among
    runs as long, the last (the head of the noun phrase). Hyphens do not matter: "sofa bed" names
    "sofa-bed" and "t-shirt" names "t-shirt", but "shirt" does not name "t-shirt"."""
    spelled = _spellings(phrases)
    first = QUERY_BREAK.split(query or "", maxsplit=1)[0]
    for text in (first, query):
        found = _longest(" ".join(words(text)).replace("-", " ").split(), spelled)
        if found:
            return found
    return None


@lru_cache(maxsize=8)
def _spellings(phrases: frozenset[str]) -> dict[str, str]:
    """Each phrase by its words without hyphens ("sofa bed" -> "sofa-bed")."""
    return {phrase.replace("-", " "): phrase for phrase in sorted(phrases)}


@lru_cache(maxsize=8)
def phrase_words(phrases: frozenset[str]) -> frozenset[str]:
    """Every word of the phrases, hyphenated ones whole and in parts."""
    found: set[str] = set()
    for phrase in phrases:
        for word in phrase.split():
            found.add(word)
            found.update(word.split("-"))
    return frozenset(found)


def _longest(tokens: list[str], phrases: dict[str, str]) -> str | None:
    for size in range(min(2 * MAX_SUFFIX_WORDS, len(tokens)), 0, -1):
        for start in range(len(tokens) - size, -1, -1):
            phrase = phrases.get(" ".join(tokens[start : start + size]))
            if phrase is not None:
                return phrase
    return None
