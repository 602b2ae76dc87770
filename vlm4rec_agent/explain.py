"""Explanations that cite generated attributes.

A :class:`Reason` names an attribute value stored on the result (``value``) and the value it
matched on the other side (``matched_value``): in the query, in items the shopper liked, or in
the item a "similar" search started from. Both values always exist where they are said to
exist; nothing is cited that the grounder did not produce.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field

from .grounding.schema import CITABLE_FIELDS, FIELD_LABELS, Attributes
from .items import StoredItem
from .kinds import head

MAX_REASONS = 3
# Order in which shared attributes are worth citing to a shopper: taste before logistics.
_PRIORITY = ("style", "materials", "pattern", "category", "colors", "occasion", "season")

Source = Literal["query", "liked", "item"]


class Reason(BaseModel):
    field: str
    value: str
    matched_value: str
    source: Source
    item_ids: list[str] = Field(default_factory=list)

    @property
    def cited(self) -> str:
        label = f"{FIELD_LABELS[self.field]}: {self.value}"
        if self.matched_value != self.value:
            label += f" (~{self.matched_value})"
        return label


class WordMatch(BaseModel):
    """A word of the query found in the item's own text: ``word`` as the shopper wrote it, ``found``
    as the item has it (another form, or the word a misspelling was taken for), and where."""

    word: str
    found: str
    where: Literal["name", "text"]


class Together(BaseModel):
    """Evidence from other shoppers: ``count`` baskets of ``source`` (``shoppers``' likes, or an
    imported set of rooms or outfits, one of which is a ``noun``) hold the result with ``item_id``,
    an item the shopper liked."""

    item_id: str
    label: str
    count: int
    source: str
    noun: str

    @property
    def phrase(self) -> str:
        if self.noun == "shopper":
            return f"liked together with {self.label} by {self.count} shopper{'s' if self.count != 1 else ''}"
        return f"in {self.count} {_plural(self.noun, self.count)} with {self.label}"


def _plural(noun: str, count: int) -> str:
    if count == 1:
        return noun
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


class Explanation(BaseModel):
    text: str
    reasons: list[Reason] = Field(default_factory=list)
    words: list[WordMatch] = Field(default_factory=list)
    together: list[Together] = Field(default_factory=list)


@lru_cache(maxsize=65536)
def _words(value: str) -> str:
    text = re.sub(r"[\s_/-]+", " ", value.lower()).strip()
    return " ".join(_singular(w) for w in text.split())


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _contains(longer: str, shorter: str) -> bool:
    return len(shorter) >= 3 and re.search(rf"(?<!\w){re.escape(shorter)}(?!\w)", longer) is not None


@lru_cache(maxsize=65536)
def values_match(a: str, b: str) -> bool:
    """Same value, or one names the other as whole words ('grey' ~ 'dark grey', 'dresses' ~ 'dress')."""
    a, b = _words(a), _words(b)
    return a == b or _contains(a, b) or _contains(b, a)


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _names(items: Sequence[StoredItem], limit: int = 2) -> str:
    labels = [i.label for i in items[:limit]]
    more = len(items) - limit
    return ", ".join(labels) + (f" and {more} more" if more > 0 else "")


def query_reasons(result: Attributes, query: Attributes, query_text: str = "") -> list[Reason]:
    """Attributes of the result that the query names, by vocabulary or literally in its text."""
    text = _words(query_text)
    reasons: list[Reason] = []
    for field in CITABLE_FIELDS:
        for value in result.values(field):
            matched = next((q for q in query.values(field) if values_match(value, q)), None)
            if matched is None and text and _contains(text, _words(value)):
                matched = value
            if matched is not None:
                reasons.append(Reason(field=field, value=value, matched_value=matched, source="query"))
                break
    return reasons[:MAX_REASONS]


class ValueTable:
    """Items' citable values, read once for a page of explanations against the same items: each
    item's values by field, and per field each distinct value with the items holding it."""

    def __init__(self, items: Sequence[StoredItem]):
        self.position = {item.id: n for n, item in enumerate(items)}
        self.values = {item.id: {f: item.attributes.values(f) for f in CITABLE_FIELDS} for item in items}
        self.holders: dict[str, dict[str, list[str]]] = {field: {} for field in CITABLE_FIELDS}
        for item_id, fields in self.values.items():
            for field, values in fields.items():
                for value in values:
                    self.holders[field].setdefault(value, []).append(item_id)


def shared_reasons(
    result: Attributes, others: Sequence[StoredItem], source: Source, table: ValueTable | None = None
) -> list[Reason]:
    """Attribute values the result shares with other items, most widely shared first (``table``:
    the others' :class:`ValueTable`, when many results are explained against the same items)."""
    table = table if table is not None else ValueTable(others)
    wanted = [(field, value) for field in CITABLE_FIELDS for value in result.values(field)]
    found: list[tuple[tuple[int, int], Reason]] = []
    for place, (field, value) in enumerate(wanted):
        holders: set[str] = set()
        for theirs, ids in table.holders[field].items():
            if values_match(value, theirs):
                holders.update(ids)
        if not holders:
            continue
        ordered = sorted(holders, key=table.position.__getitem__)
        matched = next(v for v in table.values[ordered[0]][field] if values_match(value, v))
        reason = Reason(field=field, value=value, matched_value=matched, source=source, item_ids=ordered)
        found.append(((table.position[ordered[0]], place), reason))
    # In the order the items were met, then the result's values: which of equals is cited stays put.
    found = {key: reason for key, reason in sorted(found, key=lambda pair: pair[0])}
    ranked = sorted(found.values(), key=lambda r: (-len(r.item_ids), _PRIORITY.index(r.field)))
    # One value per field keeps the explanation short and varied.
    chosen, fields = [], set()
    for reason in ranked:
        if reason.field not in fields:
            chosen.append(reason)
            fields.add(reason.field)
    return chosen[:MAX_REASONS]


def _word_phrase(match: WordMatch) -> str:
    seen = f"'{match.found}'" if match.found == match.word else f"'{match.found}' (for '{match.word}')"
    return f"{seen} in the {match.where}"


def explain_hit(
    result: StoredItem,
    query: Attributes,
    query_text: str,
    similarity: float,
    words: Sequence[WordMatch] = (),
    wanted_type: str | None = None,
    fits: bool | None = None,
) -> Explanation:
    """Why a search found an item: the attributes and the exact words it shares with the query, and,
    when the query named a type the item is not, that it stands in for missing items of that type."""
    reasons = query_reasons(result.attributes, query, query_text)
    if fits is False and wanted_type:
        reasons = [r for r in reasons if r.field != "category"]
    on = _join([r.cited for r in reasons]) if reasons else ""
    found = _join([_word_phrase(w) for w in words[:MAX_REASONS]]) if words else ""
    if on and found:
        text = f"Matches your search on {on}, and {found}."
    elif on:
        text = f"Matches your search on {on}."
    elif found:
        text = f"Matches {found}."
    else:
        text = f"Close in meaning to your search (similarity {similarity:.2f}); no attribute named in it."
    if fits is False and wanted_type:
        kind = head(result.kind) or result.attributes.category or "an item of another type"
        text = f"Not a {wanted_type} but {_article(kind)}: too few {wanted_type} items match. {text}"
    return Explanation(text=text, reasons=reasons, words=list(words))


def _article(noun: str) -> str:
    return noun if noun.startswith("an item") else f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def explain_search(result: StoredItem, query: Attributes, query_text: str, similarity: float) -> Explanation:
    reasons = query_reasons(result.attributes, query, query_text)
    if reasons:
        return Explanation(text=f"Matches your search on {_join([r.cited for r in reasons])}.", reasons=reasons)
    return Explanation(text=f"Close in meaning to your search (similarity {similarity:.2f}); no attribute named in it.")


def explain_profile(
    result: StoredItem,
    liked: Sequence[StoredItem],
    nearest: StoredItem | None,
    similarity: float,
    together: Sequence[Together] = (),
    table: ValueTable | None = None,
) -> Explanation:
    """Why a recommendation: the attributes it shares with liked items, and how many shoppers (or
    rooms, outfits) hold it with one of them."""
    reasons = shared_reasons(result.attributes, liked, "liked", table)
    others = ""
    if together:
        phrases = [t.phrase for t in together]
        others = phrases[0][0].upper() + _join(phrases)[1:] + "."
    if reasons:
        involved = [i for i in liked if any(i.id in r.item_ids for r in reasons)]
        count = len(involved)
        noun = "item" if count == 1 else "items"
        text = f"Shares {_join([r.cited for r in reasons])} with {count} {noun} you liked ({_names(involved)})."
    elif others:
        text = ""
    elif nearest is not None:
        text = f"Close to {nearest.label}, which you liked (similarity {similarity:.2f})."
    else:
        text = "Close to the items you liked."
    text = f"{text} {others}".strip()
    return Explanation(text=text, reasons=reasons, together=list(together))


def explain_similar(result: StoredItem, source: StoredItem | Attributes, similarity: float) -> Explanation:
    """Why a result resembles the item (or grounded photo) a "similar" search started from."""
    if isinstance(source, StoredItem):
        reasons = shared_reasons(result.attributes, [source], "item")
        whom = source.label
    else:
        reasons = query_reasons(result.attributes, source)
        whom = "your photo"
    if reasons:
        return Explanation(text=f"Shares {_join([r.cited for r in reasons])} with {whom}.", reasons=reasons)
    return Explanation(text=f"Looks close to {whom} (similarity {similarity:.2f}); no attribute in common.")


def explain_photo(result: StoredItem, photo: Attributes, visual: float | None) -> Explanation:
    """Why a result resembles a shopper's photo: how alike the pictures are, and the attributes shared."""
    words = explain_similar(result, photo, visual or 0.0)
    if visual is None:
        return words
    looks = f"Looks {'almost the same as' if visual >= 0.95 else 'like'} your photo (picture similarity {visual:.2f})"
    if words.reasons:
        return Explanation(text=f"{looks}; {words.text[0].lower()}{words.text[1:]}", reasons=words.reasons)
    return Explanation(text=f"{looks}.")


def combine(first: Explanation, second: Explanation) -> Explanation:
    """Join a search explanation and a profile explanation for a personalised search."""
    if not second.reasons:
        return first
    return Explanation(text=f"{first.text} {second.text}", reasons=first.reasons + second.reasons)
