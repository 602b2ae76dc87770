"""The text that is embedded for an item: one function, so every path embeds the same thing."""

from __future__ import annotations

from .grounding.schema import FIELD_LABELS, Attributes

# Bump when the layout below changes: stored vectors built with another layout are rebuilt.
EMBEDDING_TEXT_VERSION = 1
_ORDER = ("category", "colors", "materials", "style", "pattern", "occasion", "season")


def build_embedding_text(attributes: Attributes, item_text: str | None = None, include_item_text: bool = True) -> str:
    """Build the text whose vector represents an item (or an image in a query).

    Layout, one part per line, empty parts left out::

        <description>
        category: dress. colour: blue, white. material: linen. style: casual. ... season: summer.
        <the item's own text: title, type, description...>   (when include_item_text)

    The grounded description comes first because it is what VLM4Rec embeds; the attributes
    repeat its key facts in a fixed form; the item's own text comes last, so that a long
    catalog description is what the encoder's length limit cuts, never the grounding.
    """
    lines = []
    if attributes.description:
        lines.append(attributes.description)
    facts = [f"{FIELD_LABELS[f]}: {', '.join(attributes.values(f))}" for f in _ORDER if attributes.values(f)]
    if facts:
        lines.append(". ".join(facts) + ".")
    if include_item_text and item_text and item_text.strip():
        lines.append(item_text.strip())
    return "\n".join(lines)
