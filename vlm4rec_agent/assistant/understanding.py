"""What a shopper's message asks for, read without a language model.

:class:`Understanding` maps one message, in its :class:`Context` (results on screen, a photo
attached, a question waiting for yes or no), to an :class:`Intent`. The kind of request comes from
the learned classifier (:mod:`.intent_model`); its details (which result, which colour, what to
search for) from exact rules (:mod:`.slots`). Two rules stand above the classifier, because their
mistakes cost a shopper something:

- nothing that forgets ratings is read into a negation ("don't reset my profile, show me
  dresses" is a search for dresses), a question ("how do I reset my profile?" is help) or a quote;
- when the classifier is unsure between two different actions, the assistant asks instead of acting.

It is deterministic: the same words in the same context always mean the same thing.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..encoding import TextEncoder
from . import slots
from .intent_model import Examples, IntentModel
from .slots import LAST, SELECTED

__all__ = ["LAST", "SELECTED", "Context", "Intent", "Understanding", "understanding_for"]

PHOTO_INTENTS = ("photo_similar", "photo_complement")
REFERRING = ("like", "dislike", "why", "similar")
FORGETTING = ("reset_profile", "reset")  # readings that clear something, checked for negations and questions
# a second request in one message: what may be chained, how sure the classifier must be of it, and
# what parts a message: "; ", ". ", ", then", ", now", " and then"
CHAINABLE = ("search", "refine", "like", "dislike", "why", "similar", "recommend", "profile")
CHAINED = 0.6
_THEN = re.compile(r"\s*(?:[;.!?]+\s+|,\s*(?:and\s+)?(?:then|now|also)\b\s*|\s+(?:and then|and now|then)\s+)")
CONFIDENT = 0.35  # below this, or close to a different second reading, the assistant asks
CLOSE = 0.08
_CLEARING = re.compile(
    r"\b(reset\w*|clear\w*|wip(e|ing)|delet\w*|eras\w*|forget\w*|remov\w*|empty\w*|get rid|start\w* (over|again|afresh)|restart\w*)\b"
)
_READABLE = re.compile(r"[a-z0-9?]")
_LIKING_MARKS = ("👍", "❤", "😍", "🔥", "💯", "♥", "👌", "🥰")
_DISLIKING_MARKS = ("👎", "🤮", "🤢", "😬", "❌", "🙅")
_LIKING = re.compile(r"\b(like|love|want|fancy|keen|care for|favou?rite|keep|take)\b")


@dataclass(frozen=True)
class Context:
    """The conversation as a message finds it."""

    results: int = 0  # results on screen
    source: str | None = None  # what showed them: search, photo, recommend, similar
    query: str = ""  # the current text search
    photo: bool = False  # a photo came with this message
    pending: str | None = None  # a question waiting for yes or no ("reset_profile")


@dataclass
class Intent:
    kind: str
    query: str = ""  # the search text, for "search"
    refs: list[int] = field(default_factory=list)  # referenced results (0-based, from the end when < 0, or SELECTED)
    include: list[str] = field(default_factory=list)  # what a refinement asks for ("blue", "cheaper looking")
    exclude: list[str] = field(default_factory=list)  # words to steer away from ("leather")
    confidence: float = 1.0
    # when unsure: the readings to choose from, most likely first; kind is then "clarify"
    readings: list[Intent] = field(default_factory=list)
    note: str = ""  # why a reading was set aside ("a question, so nothing was reset")
    text: str = ""  # the message as read (normalised)
    then: Intent | None = None  # a second request in the same message, done after this one


class Understanding:
    """Reads messages (see the module's docstring)."""

    def __init__(self, model: IntentModel):
        self.model = model

    def read(self, message: str, context: Context = Context()) -> Intent:
        intent = self._read(slots.normalise(message), context)
        intent.text = slots.normalise(message)
        return intent

    def _read(self, text: str, context: Context) -> Intent:
        if context.photo:
            return self._photo(text)
        if not text:
            return Intent("help")
        if not _READABLE.search(text):  # emoji, or a script the English encoder cannot read
            return self._unreadable(text, context)
        kept, note = self._without_negated_clearing(text)
        if not kept:
            return Intent("cancel", note=note)
        chained = self._chained(kept, context, note)
        if chained is not None:
            return chained
        probabilities = self.model.probabilities(kept)
        ranked = sorted(probabilities, key=probabilities.get, reverse=True)
        kind, confidence = ranked[0], probabilities[ranked[0]]
        if kind in FORGETTING and (slots.is_question(kept) or any(_CLEARING.search(q) for q in slots.quoted(kept))):
            return Intent("help", confidence=confidence, note="a question about clearing, so nothing is cleared")
        if kind in PHOTO_INTENTS:  # no photo came: "something like this" points at the screen, or needs one
            kind = "similar" if context.results else kind
        second = next((k for k in ranked[1:] if _differs(k, kind, context)), None)
        unsure = confidence < CONFIDENT or (second is not None and confidence - probabilities[second] < CLOSE)
        if unsure and second is not None and not (kind in ("confirm", "cancel") and context.pending):
            readings = [self.slots(k, kept, context, probabilities[k]) for k in (kind, second)]
            return Intent("clarify", confidence=confidence, readings=readings, note=note)
        return self.slots(kind, kept, context, confidence, note)

    def _chained(self, text: str, context: Context, note: str) -> Intent | None:
        """Two requests in one message ("I like #2, then show me blue ones"): each clause read on its
        own, the first done first and the second riding along as ``then``; only when the classifier
        is sure of both, the first is an action, and the second acts on what the first shows
        (never a clearing). None when the message is one request."""
        parts = [p for p in _THEN.split(text) if p and p.strip(" ,.!?")]
        if len(parts) != 2 or min(len(p.split()) for p in parts) < 2:
            return None
        first, second = (self.model.probabilities(p) for p in parts)
        kind, after = max(first, key=first.get), max(second, key=second.get)
        if first[kind] < CHAINED or second[after] < CHAINED or kind not in CHAINABLE or after not in CHAINABLE:
            return None
        if after == kind or (kind == "search" and after == "refine"):
            return None  # "dresses, not leather" is one search that avoids leather
        intent = self.slots(kind, parts[0], context, first[kind], note)
        shown = Context(results=max(context.results, 1), source=context.source or "search", query=context.query)
        intent.then = self.slots(after, parts[1], shown, second[after])
        return intent

    def slots(self, kind: str, text: str, context: Context, confidence: float = 1.0, note: str = "") -> Intent:
        """The intent ``kind`` with the details ``text`` gives it."""
        if kind == "refine" and not (context.results or context.query) and not slots.names_category(text):
            _, excluded = slots.exclusions(text)  # nothing to narrow: "in blue" is a search for blue things
            query = " ".join(slots.wanted(text)) or slots.search_text(text)[0]
            return Intent("search", query=query, exclude=excluded, confidence=confidence, note=note)
        if kind == "refine" and slots.names_category(text):
            kind = "search"  # a new kind of product ("any dresses in blue?")
        if kind == "like" and slots.negated(text, _LIKING):
            kind = "dislike"  # "I don't like #3", "not keen on the last one"
        if kind in REFERRING:
            refs = slots.references(text)
            if not context.results:
                refs = [r for r in refs if r != SELECTED]
            return Intent(kind, refs=refs or [SELECTED], confidence=confidence, note=note)
        if kind == "refine":
            _, excluded = slots.exclusions(text)
            return Intent(kind, include=slots.wanted(text), exclude=excluded, confidence=confidence, note=note)
        if kind == "search":
            query, excluded = slots.search_text(text)
            return Intent(kind, query=query, exclude=excluded, confidence=confidence, note=note)
        return Intent(kind, confidence=confidence, note=note)

    def _unreadable(self, text: str, context: Context) -> Intent:
        """A message with no letters the classifier reads: a thumb or a heart rates what is on
        screen; anything else is searched for, and the search says when nothing fits."""
        if context.results and any(mark in text for mark in _LIKING_MARKS):
            return Intent("like", refs=[SELECTED])
        if context.results and any(mark in text for mark in _DISLIKING_MARKS):
            return Intent("dislike", refs=[SELECTED])
        return Intent("search", query=text)

    def _photo(self, text: str) -> Intent:
        if not text:
            return Intent("photo_similar")
        probabilities = self.model.probabilities(text)
        kind = max(PHOTO_INTENTS, key=probabilities.get)
        total = sum(probabilities[k] for k in PHOTO_INTENTS)
        include = slots.attribute_terms(slots.exclusions(text)[0]) if kind == "photo_similar" else []
        return Intent(kind, include=include, exclude=slots.exclusions(text)[1], confidence=probabilities[kind] / total)

    @staticmethod
    def _without_negated_clearing(text: str) -> tuple[str, str]:
        """The message without clauses that negate clearing ("don't reset my profile, show me dresses" -> "show me dresses")."""
        negating = [part for part in slots.clauses(text) if slots.negated(part, _CLEARING)]
        if not negating:
            return text, ""
        kept = ", ".join(part for part in slots.clauses(text) if part not in negating)
        return kept, f"you said “{negating[0]}”, so nothing is cleared"


def _differs(other: str, kind: str, context: Context) -> bool:
    """Whether two readings would do different things here (a refine and a search of the same words
    with nothing on screen are one action)."""
    if other == kind or other in PHOTO_INTENTS:
        return False
    if {other, kind} == {"refine", "search"} and not (context.results or context.query):
        return False
    if {other, kind} <= {"greet", "help"}:
        return False
    return not ({other, kind} <= {"confirm", "cancel"} and not context.pending)


_SHARED: dict[tuple[int, str], Understanding] = {}
_SHARED_LOCK = threading.Lock()


def understanding_for(encoder: TextEncoder, cache_dir: Path | None = None) -> Understanding:
    """One fitted classifier per encoder in a process (every conversation and assistant shares it)."""
    examples = Examples.load()
    key = (id(encoder), examples.version)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = Understanding(IntentModel(encoder, examples, cache_dir))
        return _SHARED[key]
