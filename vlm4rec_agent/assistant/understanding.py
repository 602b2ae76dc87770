"""What a shopper's message asks for, read without a language model.

:func:`understand` maps one message (and whether a photo came with it) to an :class:`Intent`:
a new search, a refinement of the current one ("in blue", "not leather"), a like or dislike of
a shown result ("I like #3", "not the second one"), "why this one?", "more like the second one",
recommendations, the profile, starting over, or a photo to match ("find something like this",
"what would go with this?"). It is deterministic: the same words always mean the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from ..grounding.vocabulary import load_vocabulary

Kind = Literal[
    "search", "refine", "like", "dislike", "why", "similar", "recommend", "profile",
    "reset", "reset_profile", "help", "greet", "photo_similar", "photo_complement",
]  # fmt: skip

# A reference to a shown result: 0-based index, LAST for "the last one", SELECTED for "this one".
LAST = -1
SELECTED = -2
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_NUMBER_REF = re.compile(r"(?:#|\bnumber\s+|\bno\.?\s*|\bitem\s+|\boption\s+)(\d{1,2})\b|\b(\d{1,2})(?:st|nd|rd|th)?\b")
_WORD_REF = re.compile(r"\b(the\s+)?(" + "|".join(_ORDINALS) + r"|last)(\s+one)?\b")
_THIS_REF = re.compile(r"\b(this|that|it|this one|that one)\b")

_RESET_PROFILE = re.compile(
    r"\b(reset|clear|forget|wipe|delete|erase)\b.*\b(profile|likes|dislikes|ratings|everything i (liked|rated))\b"
)
_RESET = re.compile(
    r"^\s*(start (over|again)|reset|clear( all| everything)?|new search|forget (it|that)|never ?mind|restart)\b"
)
_HELP = re.compile(r"^\s*(help|\?+|what can you do|how (does|do) (this|you) work)")
_GREET = re.compile(r"^\s*(hi|hello|hey|hiya|good (morning|afternoon|evening))\b[\s!.,]*(there)?[\s!.]*$")
_PROFILE = re.compile(r"\b(my profile|what (do|did) i like|my likes|show (me )?my (likes|profile|taste))\b")
_WHY = re.compile(r"\b(why|explain|what makes|how come)\b")
_SIMILAR = re.compile(r"\b(more like|similar to|something like|others like|same as|alternatives? to)\b")
_DISLIKE = re.compile(
    r"\b(don'?t|do not|doesn'?t)\s+(like|love|want)\b|\b(dislike|hate|not for me|not a fan of|no to)\b|👎"
)
_LIKE = re.compile(r"\b(like|love|adore|want|fancy|prefer|favou?rite|take)\b|[♥❤👍]")
_RECOMMEND = re.compile(r"\b(recommend\w*|suggest\w*|for me|surprise me|what (should|would|else)|picks?|ideas?)\b")
_COMPLEMENT = re.compile(
    r"\b(go(es)? with|match(es|ing)?|pair(s|ed)? with|wear (it |this )?with|complete the look|combine|complement|style (it|this))\b"
)
_EXCLUDE = re.compile(
    r"\b(?:not|no|without|avoid|except|excluding|but not|nothing in|none in)\s+([a-z][a-z' -]*?)(?=$|[,.;!?]|\s+(?:and|or|but|please)\b)"
)
_REFINE_LEAD = re.compile(
    r"^\s*(?:in|only|just|make (?:it|them)|something in|preferably|maybe|rather|how about|what about|any in|ones? in)\s+"
)
_POLITE = re.compile(r"\b(please|thanks|thank you|ok|okay)\b")
_FILLER = re.compile(
    r"^\s*(?:(?:can|could) you\s+)?(?:please\s+)?(?:show me|find me|find|search for|look for|i'?m looking for|i am looking for|"
    r"looking for|i want|i need|i'?d like|i (?:really )?(?:like|love)|do you have|have you got|get me|give me|any)\s+",
    re.I,
)


@dataclass
class Intent:
    kind: Kind
    query: str = ""  # the search text, for "search"
    refs: list[int] = field(default_factory=list)  # referenced results (0-based, or LAST / SELECTED)
    include: list[str] = field(default_factory=list)  # words a refinement asks for ("blue")
    exclude: list[str] = field(default_factory=list)  # words to steer away from ("leather")


def references(text: str) -> list[int]:
    """Results a message points at, in order: '#3' -> 2, 'the second one' -> 1, 'last' -> LAST, 'this' -> SELECTED."""
    found: list[tuple[int, int]] = []
    for match in _NUMBER_REF.finditer(text):
        number = int(match.group(1) or match.group(2))
        if number >= 1:
            found.append((match.start(), number - 1))
    for match in _WORD_REF.finditer(text):
        word = match.group(2)
        # "one" alone is only a reference in "this one"/"the one"; "like one" is too vague
        if word == "one" and not match.group(1):
            continue
        found.append((match.start(), LAST if word == "last" else _ORDINALS[word] - 1))
    if not found and _THIS_REF.search(text):
        found.append((0, SELECTED))
    return list(dict.fromkeys(ref for _, ref in sorted(found)))


def _exclusions(text: str) -> tuple[str, list[str]]:
    """Split 'linen dresses, not leather' into ('linen dresses', ['leather'])."""
    excluded = [m.group(1).strip() for m in _EXCLUDE.finditer(text)]
    remaining = _EXCLUDE.sub(" ", text)
    return re.sub(r"\s+", " ", remaining).strip(" ,.;"), [e for e in excluded if e]


def _is_refinement(text: str, words: list[str]) -> bool:
    """A short follow-up naming attributes but no new kind of product ("in blue", "cotton ones")."""
    vocab = load_vocabulary()
    if vocab.find("category", text):
        return False
    if _REFINE_LEAD.match(text):
        return True
    named = sum(len(vocab.find(f, text)) for f in ("colors", "materials", "pattern", "style", "season", "occasion"))
    return len(words) <= 4 and named > 0


def understand(message: str, has_results: bool = False, has_query: bool = False, has_photo: bool = False) -> Intent:
    text = " ".join((message or "").lower().replace("’", "'").split())
    if has_photo:
        return Intent("photo_complement" if _COMPLEMENT.search(text) else "photo_similar")
    if not text:
        return Intent("help")
    if _RESET_PROFILE.search(text):
        return Intent("reset_profile")
    if _RESET.match(text):
        return Intent("reset")
    if _GREET.match(text):
        return Intent("greet")
    if _HELP.match(text):
        return Intent("help")
    if _PROFILE.search(text):
        return Intent("profile")
    refs = [r for r in references(text) if has_results or r != SELECTED]
    if refs or (has_results and _THIS_REF.search(text)):
        refs = refs or [SELECTED]
        if _WHY.search(text):
            return Intent("why", refs=refs)
        if _SIMILAR.search(text):
            return Intent("similar", refs=refs)
        if _DISLIKE.search(text):
            return Intent("dislike", refs=refs)
        if _LIKE.search(text):
            return Intent("like", refs=refs)
    if has_results and _WHY.search(text):
        return Intent("why", refs=[SELECTED])
    if _RECOMMEND.search(text) and not load_vocabulary().find("category", text):
        return Intent("recommend")
    remaining, excluded = _exclusions(text)
    remaining = _POLITE.sub(" ", remaining).strip(" ,.!")
    words = remaining.split()
    if has_query and (not remaining or _is_refinement(remaining, words)):
        include = _REFINE_LEAD.sub("", remaining).strip()
        include = re.sub(r"\b(ones?|please|instead|too)\b", "", include).strip(" ,.")
        return Intent("refine", include=[include] if include else [], exclude=excluded)
    query = _FILLER.sub("", remaining).strip(" ?.!")
    return Intent("search", query=query or remaining, exclude=excluded)
