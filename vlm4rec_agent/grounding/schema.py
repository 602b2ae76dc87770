"""Typed output of grounding: the attributes a shopper chooses by, and the record around them.

Every grounder, from the basic offline one to a large VLM, returns a :class:`GroundingRecord`.
Values are normalised on the way in (trimmed, lower-case, duplicates dropped, a comma-separated
string accepted for a list) so that the rest of the code can compare them without caring where
they came from.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The attribute fields that explanations may cite, in the order they are worth citing.
LIST_FIELDS = ("style", "materials", "pattern", "colors", "occasion", "season")
CITABLE_FIELDS = ("category", *LIST_FIELDS)
FIELD_LABELS = {
    "category": "category",
    "colors": "colour",
    "materials": "material",
    "style": "style",
    "pattern": "pattern",
    "occasion": "occasion",
    "season": "season",
}
MAX_VALUES_PER_FIELD = 8
MAX_VALUE_LENGTH = 60

_SPACES = re.compile(r"\s+")


def normalize_value(value: Any) -> str:
    """Lower-case, trimmed, single-spaced text of one attribute value ('' when empty)."""
    if value is None:
        return ""
    text = _SPACES.sub(" ", str(value)).strip().strip(".;,").strip().lower()
    return text[:MAX_VALUE_LENGTH]


class Attributes(BaseModel):
    """What a grounder says about one product image, in the terms shoppers choose by."""

    model_config = ConfigDict(extra="ignore")

    category: str | None = Field(None, description="Product category, e.g. 'dress', 'table lamp'.")
    colors: list[str] = Field(default_factory=list, description="Main colours, most prominent first.")
    materials: list[str] = Field(default_factory=list, description="Materials or fabrics, e.g. 'linen', 'oak'.")
    style: list[str] = Field(default_factory=list, description="Style words, e.g. 'scandinavian', 'minimalist'.")
    pattern: list[str] = Field(default_factory=list, description="Pattern, e.g. 'solid', 'striped', 'floral'.")
    occasion: list[str] = Field(default_factory=list, description="Occasion or usage context, e.g. 'beach', 'bedroom'.")
    season: list[str] = Field(default_factory=list, description="Seasons it suits, e.g. 'summer'.")
    description: str = Field("", description="A short preference-oriented description in prose.")

    @field_validator("category", mode="before")
    @classmethod
    def _one_value(cls, value: Any) -> str | None:
        if isinstance(value, (list, tuple)):
            value = next((v for v in value if normalize_value(v)), None)
        return normalize_value(value) or None

    @field_validator(*LIST_FIELDS, mode="before")
    @classmethod
    def _many_values(cls, value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            value = value.split(",")
        elif not isinstance(value, (list, tuple, set)):
            value = [value]
        seen: list[str] = []
        for item in value:
            text = normalize_value(item)
            if text and text not in seen:
                seen.append(text)
        return seen[:MAX_VALUES_PER_FIELD]

    @field_validator("description", mode="before")
    @classmethod
    def _prose(cls, value: Any) -> str:
        return "" if value is None else _SPACES.sub(" ", str(value)).strip()

    def values(self, field: str) -> list[str]:
        """The values of one citable field as a list (the category as a one-element list)."""
        if field == "category":
            return [self.category] if self.category else []
        return list(getattr(self, field))

    def pairs(self) -> list[tuple[str, str]]:
        """Every (field, value) pair that an explanation could cite."""
        return [(field, value) for field in CITABLE_FIELDS for value in self.values(field)]

    def is_empty(self) -> bool:
        return not self.pairs() and not self.description


GroundingStatus = Literal["ok", "partial", "unparsed", "fallback"]


class GroundingRecord(BaseModel):
    """Attributes plus where they came from: which grounder, model and prompt version made them.

    ``status`` is ``ok`` for a complete answer, ``partial`` when some fields could not be read,
    ``unparsed`` when nothing structured could be read (the raw text is kept as description),
    and ``fallback`` when a configured VLM was unavailable and the basic grounder stood in.
    ``notice`` is a line meant for people (shown wherever the record is shown).
    """

    attributes: Attributes
    grounder: str
    model_id: str
    prompt_version: str
    status: GroundingStatus = "ok"
    notice: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    raw_output: str | None = None

    @property
    def source(self) -> str:
        """One line naming the grounder, model and prompt version."""
        return f"{self.grounder} grounder ({self.model_id}, prompt {self.prompt_version})"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def distinct_colours(colours: list[str], limit: int = 2) -> list[str]:
    """The first colours that are not shades of one already chosen ('light grey' covers 'grey')."""
    chosen: list[str] = []
    for colour in colours:
        words = set(colour.split())
        if not any(words & set(c.split()) for c in chosen):
            chosen.append(colour)
    return chosen[:limit]


def describe_attributes(attributes: Attributes) -> str:
    """A short preference-oriented description assembled from attributes (no invented facts)."""
    head = " and ".join(distinct_colours(attributes.colors)) + " " + (attributes.category or "item")
    head = head.strip()
    article = "An" if head[0] in "aeiou" else "A"
    sentence = f"{article} {head}"
    if attributes.materials:
        sentence += f" in {_join(attributes.materials)}"
    if attributes.pattern:
        sentence += f", {_join(attributes.pattern)}"
    parts = [sentence + "."]
    for label, values in (
        ("Style", attributes.style),
        ("Occasion", attributes.occasion),
        ("Season", attributes.season),
    ):
        if values:
            parts.append(f"{label}: {_join(values)}.")
    return " ".join(parts)
