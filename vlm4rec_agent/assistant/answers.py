"""How the offline assistant words its answers: result lists that tell results apart, a "why"
that says each thing once, and a reading put as a question.

Catalog and VLM text is data: every piece of it goes through :func:`as_markdown`.
"""

from __future__ import annotations

from collections import Counter

from ..grounding.schema import CITABLE_FIELDS, FIELD_LABELS
from ..rendering import as_markdown, facts_text
from ..views import ResultView
from .slots import LAST, SELECTED
from .understanding import Intent

TELLING = 3  # attribute values a result line names, at most
# The order in which attributes tell items apart to a shopper's eye: what it is, then how it looks.
_TELLING_FIELDS = ("category", "colors", "pattern", "materials", "style", "occasion", "season")


def name(item: ResultView) -> str:
    """An item's title (or id) as plain text: catalog text is data, never Markdown to render."""
    return as_markdown(item.label)


def _values(result: ResultView) -> list[tuple[str, str]]:
    a = result.attributes
    return [(f, v) for f in _TELLING_FIELDS for v in a.values(f)]


def shared_values(results: list[ResultView]) -> list[tuple[str, str]]:
    """Attribute values every shown result has (what the list has in common, said once)."""
    if len(results) < 2:
        return []
    counts = Counter(pair for r in results for pair in dict.fromkeys(_values(r)))
    return [pair for pair, n in counts.items() if n == len(results)]


def telling(result: ResultView, shared: list[tuple[str, str]], title: str) -> list[str]:
    """A result's attribute values that set it apart from the others shown (not shared by all,
    not already in its title), most telling field first."""
    lowered = f" {title.lower()} "
    picked = [v for pair in _values(result) if pair not in shared for v in [pair[1]] if f" {v.lower()} " not in lowered]
    return list(dict.fromkeys(picked))[:TELLING]


def listing(results: list[ResultView]) -> str:
    """Numbered lines, one per result: its title, then what distinguishes it; then what they share."""
    shared = shared_values(results)
    lines = []
    for i, r in enumerate(results, start=1):
        marks = telling(r, shared, r.label)
        off = " (not what you named: shown as the closest)" if r.fits is False else ""
        detail = f" — {as_markdown(', '.join(marks))}" if marks else ""
        lines.append(f"{i}. **{name(r)}**{detail}{off}")
    if shared:
        common = ", ".join(as_markdown(v) for _, v in shared[:4])
        lines.append(f"\nAll of them: {common}.")  # a paragraph of its own, not part of the last item
    return "\n".join(lines)


def why(index: int, result: ResultView, against_likes: str = "") -> str:
    """Why a result is shown: its explanation and score, the grounded attributes the explanation
    did not already cite, and how it relates to the shopper's likes when that says something new."""
    lines = [f"#{index + 1} *{name(result)}* (score {result.score:.2f}): {as_markdown(result.explanation)}"]
    said = result.explanation.lower()
    rest = [
        (FIELD_LABELS[f], [v for v in result.attributes.values(f) if v.lower() not in said]) for f in CITABLE_FIELDS
    ]
    rest = [(label, values) for label, values in rest if values]
    if rest:
        lines.append("Also grounded from its photo and text: " + "; ".join(
            f"{label}: {as_markdown(', '.join(values))}" for label, values in rest
        ) + ".")  # fmt: skip
    if against_likes and against_likes.strip().rstrip(".") not in result.explanation:  # said already
        lines.append("Against your likes: " + as_markdown(against_likes))
    if result.attributes.description:
        lines.append(f"*{as_markdown(result.attributes.description)}*")
    return "\n".join(lines)


def attribute_line(result: ResultView) -> str:
    return facts_text(result.attributes, as_markdown)


def _ref_words(refs: list[int]) -> str:
    words = []
    for ref in refs:
        if ref == SELECTED:
            words.append("this one")
        elif ref == LAST:
            words.append("the last one")
        elif ref < 0:
            words.append(f"the {-ref}th from last")
        else:
            words.append(f"#{ref + 1}")
    return " and ".join(words)


def reading(intent: Intent) -> str:
    """A reading of a message put as what the assistant would do ("like #2", "search for “rugs”")."""
    kind, refs = intent.kind, _ref_words(intent.refs)
    if kind == "search":
        return f"search for “{as_markdown(intent.query)}”"
    if kind == "refine":
        asked = [*intent.include, *(f"not {e}" for e in intent.exclude)]
        return f"narrow these results to {as_markdown(', '.join(asked)) or 'what you said'}"
    return {
        "like": f"like {refs}",
        "dislike": f"note that you dislike {refs}",
        "why": f"explain why {refs} was chosen",
        "similar": f"find more like {refs}",
        "recommend": "recommend items from your likes",
        "profile": "show your profile",
        "reset": "start over (your ratings are kept)",
        "reset_profile": "forget all your ratings",
        "help": "say what I can do",
        "greet": "say hello",
        "undo": "undo your last rating change",
        "confirm": "go ahead",
        "cancel": "leave things as they are",
    }.get(kind, kind.replace("_", " "))
