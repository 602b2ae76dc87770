"""How well the offline assistant reads shoppers' messages, on a labelled set.

A labelled set is JSON lines, one message each, with the conversation's state before it::

    {"id": "t001", "message": "keep number 5",
     "context": {"results": 6, "source": "search", "query": "summer dresses", "photo": false, "pending": null},
     "intent": "like", "slots": {"refs": [5]}}

``slots`` holds what applies: ``refs`` (1-based, ``"last"``, ``"this"``), ``include``,
``exclude`` and ``query``. :func:`score` reports intent accuracy (overall with a bootstrap 95% interval,
and per intent), slot accuracy on the messages whose intent was read right, the confusions, how
often the assistant asked instead of acting, and the destructive readings: a clearing intent read
into a message that does not ask for one (a negation, a question).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..assistant.slots import LAST, SELECTED, attribute_terms
from ..assistant.understanding import FORGETTING, Context, Intent, Understanding
from .stats import Estimate, bootstrap

_STOP = {"a", "an", "the", "some", "any", "for", "of", "in", "with", "me", "my", "to", "and", "please", "that's"}


@dataclass(frozen=True)
class Labelled:
    id: str
    message: str
    context: Context
    intent: str
    slots: dict

    @classmethod
    def of(cls, row: dict) -> Labelled:
        c = row["context"]
        context = Context(
            results=int(c.get("results") or 0),
            source=c.get("source"),
            query=c.get("query") or "",
            photo=bool(c.get("photo")),
            pending=c.get("pending"),
        )
        return cls(row["id"], row["message"], context, row["intent"], row.get("slots") or {})


def read_labelled(path: str | Path) -> list[Labelled]:
    rows = []
    for number, line in enumerate(Path(path).read_text("utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rows.append(Labelled.of(json.loads(line)))
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{path}:{number}: not a labelled message ({error})") from None
    return rows


@dataclass
class UnderstandingScore:
    n: int
    correct: int
    per_intent: dict[str, tuple[int, int]]  # intent -> (right, of)
    slots_checked: int
    slots_right: int
    asked: int  # read as "clarify": the assistant asked instead of acting
    destructive: list[str]  # ids of messages read as clearing that did not ask for it
    confusions: Counter = field(default_factory=Counter)  # (expected, read) -> count
    wrong: list[tuple[str, str, str, str]] = field(default_factory=list)  # id, message, expected, read
    slot_misses: list[tuple[str, str, str]] = field(default_factory=list)  # id, message, what differed
    ms: list[float] = field(default_factory=list)  # milliseconds per message read
    outcomes: list[int] = field(default_factory=list)  # 1 where the intent was read right, in order

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def estimate(self) -> Estimate:
        """Intent accuracy with a bootstrap 95% interval over the messages."""
        return bootstrap(np.array(self.outcomes))

    @property
    def slot_accuracy(self) -> float:
        return self.slots_right / self.slots_checked if self.slots_checked else 1.0


def _ref(value) -> int:
    if value == "last":
        return LAST
    if value == "this":
        return SELECTED
    return int(value) - 1


def _canonical(term: str) -> str:
    """One attribute word as the vocabulary names it ("grey" and "gray" alike), else as written."""
    found = attribute_terms(term) if len(term.split()) == 1 else []
    return found[0] if found else term.strip().lower()


def _content(text: str) -> set[str]:
    words = re.findall(r"[\w'-]+", text.lower())
    return {w.rstrip("s") for w in words if w not in _STOP}


def slot_differences(expected: dict, read: Intent) -> list[str]:
    """What the reading got wrong of the labelled slots (empty: all right)."""
    wrong = []
    if "refs" in expected and [_ref(r) for r in expected["refs"]] != read.refs:
        wrong.append(f"refs {expected['refs']} read as {read.refs}")
    for name in ("include", "exclude"):
        if name in expected and {_canonical(t) for t in expected[name]} != {_canonical(t) for t in getattr(read, name)}:
            wrong.append(f"{name} {expected[name]} read as {getattr(read, name)}")
    if "query" in expected and _content(expected["query"]) != _content(read.query):
        wrong.append(f"query {expected['query']!r} read as {read.query!r}")
    return wrong


def score(understanding: Understanding, labelled: list[Labelled]) -> UnderstandingScore:
    result = UnderstandingScore(0, 0, {}, 0, 0, 0, [])
    per: dict[str, list[int]] = {}
    for row in labelled:
        start = time.perf_counter()
        read = understanding.read(row.message, row.context)
        result.ms.append(1000 * (time.perf_counter() - start))
        result.n += 1
        tally = per.setdefault(row.intent, [0, 0])
        tally[1] += 1
        if read.kind == "clarify":
            result.asked += 1
        if read.kind in FORGETTING and row.intent not in FORGETTING:
            result.destructive.append(row.id)
        result.outcomes.append(int(read.kind == row.intent))
        if read.kind != row.intent:
            result.confusions[(row.intent, read.kind)] += 1
            result.wrong.append((row.id, row.message, row.intent, read.kind))
            continue
        result.correct += 1
        tally[0] += 1
        if row.slots:
            result.slots_checked += 1
            differences = slot_differences(row.slots, read)
            if differences:
                result.slot_misses.append((row.id, row.message, "; ".join(differences)))
            else:
                result.slots_right += 1
    result.per_intent = {intent: (right, of) for intent, (right, of) in sorted(per.items())}
    return result
