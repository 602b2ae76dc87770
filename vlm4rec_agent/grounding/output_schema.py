"""The JSON schema a VLM's answer is held to, built from :class:`~.schema.Attributes`.

A server that constrains decoding to a schema (OpenAI structured outputs, vLLM's guided decoding,
Ollama, LM Studio) can then only answer with one JSON object holding exactly the fields the
parser reads, so no answer is lost to chatter, renamed keys or a missing brace. The schema comes
from the model itself, so a field added to ``Attributes`` is asked for without editing a second
list.

Pydantic's schema is adapted to what the strictest of those servers takes (OpenAI's strict mode,
which the others accept too):

- every object lists all its properties as ``required`` and has ``additionalProperties: false``
  (strict mode refuses a schema without them; a field the model may leave out is expressed as
  an empty list or a null, which ``Attributes`` already treats as "cannot tell");
- ``default`` and ``title`` are dropped: strict mode rejects ``default``, and ``title`` only
  repeats the field's name in tokens no model needs;
- the nullable category stays pydantic's ``anyOf: [{"type": "string"}, {"type": "null"}]``,
  which OpenAI, vLLM's grammar backends (xgrammar, guidance, outlines) and llama.cpp all take;
- descriptions stay: they tell the model what each field is for.

:func:`schema_version` names the schema and hashes its text, as a prompt's version does; the
openai grounder adds it to its prompt version, so answers made with and without the schema are
never taken for each other by the grounding cache or an ingest.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from .schema import Attributes

SCHEMA_NAME = "product_attributes"  # OpenAI: [a-zA-Z0-9_-], at most 64 characters
SCHEMA_VERSION = 1  # raise when the adaptation below changes; the hash catches changes of Attributes
_DROPPED = frozenset({"title", "default"})
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")


def _strict(node: dict[str, Any]) -> dict[str, Any]:
    """One schema node with strict mode's rules applied, and every node below it."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key in ("properties", "$defs"):  # names mapped to schemas: a field may be called "title"
            out[key] = {name: _strict(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _strict(value)
        elif key in _SCHEMA_LISTS:
            out[key] = [_strict(sub) for sub in value]
        else:
            out[key] = value
    if out.get("type") == "object" or "properties" in out:
        out["required"] = list(out.get("properties", {}))
        out["additionalProperties"] = False
    return out


@cache
def _schema_text() -> str:
    # Not sorted: servers generate the fields in the schema's order, the model's own (prose last).
    return json.dumps(_strict(Attributes.model_json_schema()))


def attributes_schema() -> dict[str, Any]:
    """The JSON schema of one answer: the fields of ``Attributes``, all required, nothing else."""
    return json.loads(_schema_text())  # a fresh copy: callers may change theirs


def schema_version(schema: dict[str, Any] | None = None) -> str:
    """``product_attributes.v1#`` plus a hash of the schema (the attributes' own unless one is
    given): changes whenever the schema does."""
    text = _schema_text() if schema is None else json.dumps(schema)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{SCHEMA_NAME}.v{SCHEMA_VERSION}#{digest}"


def response_format() -> dict[str, Any]:
    """The ``response_format`` of a chat completions request that holds the answer to the schema."""
    return {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": attributes_schema()},
    }
