"""Read a VLM's answer into attributes, keeping whatever is valid.

Models wrap JSON in code fences, add a sentence after it, use single quotes or trailing commas,
rename keys (``colour``, ``material``), and stop mid-object when they run out of tokens. This
module finds the object, repairs what it safely can, validates field by field with the typed
schema and reports what it could not use. When no object can be read at all, the answer's text
becomes the description, the vocabulary picks out what attributes it names, and the status says
``unparsed``. It never raises on model output.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from .schema import Attributes, describe_attributes
from .vocabulary import Vocabulary

FIELDS = ("category", "colors", "materials", "style", "pattern", "occasion", "season", "description")
ALIASES = {
    "category": ("category", "product_type", "type", "product", "item", "product_category"),
    "colors": ("colors", "colours", "color", "colour", "main_colors", "main_colours"),
    "materials": ("materials", "material", "fabric", "fabrics"),
    "style": ("style", "styles"),
    "pattern": ("pattern", "patterns"),
    "occasion": ("occasion", "occasions", "usage", "usage_context", "use", "context", "room", "rooms"),
    "season": ("season", "seasons"),
    "description": ("description", "summary", "desc"),
}
MAX_RAW_DESCRIPTION = 1500
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)(?:```|$)", re.S)


@dataclass
class ParsedAnswer:
    attributes: Attributes
    status: Literal["ok", "partial", "unparsed"]
    problems: list[str] = field(default_factory=list)


@dataclass
class _Scan:
    spans: list[tuple[int, int]]  # top-level {...} spans; a last one left open ends at len(text)
    closers: list[str]  # brackets still open at the end, innermost last
    open_string: int | None  # where a string that never ended starts


def _scan(text: str, prose: bool) -> _Scan:
    """Walk the text once, skipping string literals (with escapes), tracking brackets.

    With ``prose``, quotes count only inside brackets: an apostrophe in the sentence before an
    object ("Here's the JSON") must not be taken for the start of a string.
    """
    spans, closers, quote, escaped, string_start, object_start = [], [], None, False, 0, 0
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'" and (closers or not prose):
            quote, string_start = ch, i
        elif ch in "{[":
            if not closers and ch == "{":
                object_start = i
            closers.append("}" if ch == "{" else "]")
        elif ch in "}]" and closers:
            closers.pop()
            if not closers and ch == "}":
                spans.append((object_start, i + 1))
    if closers and text[object_start] == "{":
        spans.append((object_start, len(text)))
    return _Scan(spans, closers, string_start if quote else None)


def _objects(text: str) -> list[str]:
    """Every top-level {...} span in the text; a last one left open is returned up to the end."""
    return [text[start:end] for start, end in _scan(text, prose=True).spans]


def _close(fragment: str) -> str:
    """Close an object that was cut off: drop a half-written string or key, close the brackets."""
    scan = _scan(fragment, prose=False)
    text = fragment if scan.open_string is None else fragment[: scan.open_string]  # a half value is no evidence
    text = re.sub(r",?\s*[\"'][^\"']*[\"']\s*:\s*$", "", text.rstrip())  # a key whose value never came
    text = re.sub(r"[,:]\s*$", "", text.rstrip())
    return text + "".join(reversed(scan.closers))


def _load(candidate: str) -> dict | None:
    attempts = [candidate, re.sub(r",\s*([}\]])", r"\1", candidate)]
    attempts.append(_close(attempts[-1]))
    for text in attempts:
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            try:  # single quotes and Python literals
                python = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", re.sub(r"\bnull\b", "None", text)))
                value = ast.literal_eval(python)
            except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
                continue
        if isinstance(value, dict):
            return value
    return None


def find_object(raw: str) -> dict | None:
    """The first JSON-like object in a model's answer, repaired if it can be."""
    candidates = [m.group(1) for m in _FENCE.finditer(raw)] + [raw]
    for candidate in candidates:
        for span in _objects(candidate):
            found = _load(span)
            if found is not None:
                return found
    return None


def _field_value(data: dict[str, Any], name: str) -> tuple[bool, Any]:
    lowered = {str(k).strip().lower().replace(" ", "_"): v for k, v in data.items()}
    for alias in ALIASES[name]:
        if alias in lowered:
            return True, lowered[alias]
    return False, None


def parse_answer(raw: str, vocabulary: Vocabulary | None = None) -> ParsedAnswer:
    """Attributes from a model's answer, with a status and the problems met on the way."""
    text = (raw or "").strip()
    data = find_object(text)
    if data is None:
        attributes = vocabulary.parse(text) if vocabulary else Attributes()
        attributes.description = " ".join(text.split())[:MAX_RAW_DESCRIPTION]
        return ParsedAnswer(attributes, "unparsed", ["no JSON object in the answer; kept its text as the description"])

    values: dict[str, Any] = {}
    problems: list[str] = []
    for name in FIELDS:
        present, value = _field_value(data, name)
        if not present:
            problems.append(f"missing {name}")
            continue
        if name == "description" and isinstance(value, (list, tuple)):
            value = " ".join(str(v) for v in value)
        if isinstance(value, dict):
            problems.append(f"{name} is an object, not text or a list")
            continue
        try:
            Attributes.model_validate({name: value})
        except ValidationError:
            problems.append(f"{name} has an unusable value")
            continue
        values[name] = value
    attributes = Attributes.model_validate(values)
    if not values:
        attributes = vocabulary.parse(text) if vocabulary else Attributes()
        attributes.description = " ".join(text.split())[:MAX_RAW_DESCRIPTION]
        return ParsedAnswer(attributes, "unparsed", ["the JSON object held none of the expected fields", *problems])
    if not attributes.description and not attributes.is_empty():
        attributes.description = describe_attributes(attributes)
        problems.append("description built from the attributes")
    return ParsedAnswer(attributes, "ok" if not problems else "partial", problems)
