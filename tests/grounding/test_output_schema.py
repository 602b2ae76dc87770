"""The JSON schema sent to VLM servers: exactly the fields of Attributes, in a form strict servers take."""

from __future__ import annotations

import re

import pytest

from vlm4rec_agent.grounding import output_schema
from vlm4rec_agent.grounding.output_schema import attributes_schema, response_format, schema_version
from vlm4rec_agent.grounding.schema import LIST_FIELDS, Attributes

# The keywords OpenAI's strict mode documents (and vLLM's grammar backends implement); `default`
# and `title` are not among them.
STRICT_KEYWORDS = {"type", "properties", "required", "additionalProperties", "items", "anyOf", "description", "enum"}


def nodes(schema: dict):
    """Every schema node, the root first; the names under `properties` are names, not keywords."""
    yield schema
    for sub in schema.get("properties", {}).values():
        yield from nodes(sub)
    if isinstance(schema.get("items"), dict):
        yield from nodes(schema["items"])
    for sub in schema.get("anyOf", []):
        yield from nodes(sub)


def test_the_schema_has_every_field_of_attributes_in_order_all_required_and_nothing_else():
    schema = attributes_schema()
    fields = list(Attributes.model_fields)
    assert schema["type"] == "object"
    assert list(schema["properties"]) == fields  # the model's order: the prose comes last
    assert schema["required"] == fields and schema["additionalProperties"] is False
    assert schema["properties"]["category"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    for name in LIST_FIELDS:
        assert schema["properties"][name]["type"] == "array"
        assert schema["properties"][name]["items"] == {"type": "string"}
    assert schema["properties"]["description"]["type"] == "string"
    assert all(schema["properties"][name]["description"] for name in fields)  # the model is told what each is


def test_every_node_is_in_the_strict_subset():
    for node in nodes(attributes_schema()):
        assert set(node) <= STRICT_KEYWORDS, node
        if node.get("type") == "object":
            assert node["additionalProperties"] is False and node["required"] == list(node["properties"])


def test_a_real_answer_validates_and_a_loose_one_does_not():
    jsonschema = pytest.importorskip("jsonschema")
    schema = attributes_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    answer = Attributes(category="Dress", colors=["red", "white"], materials="linen", description="A red dress.")
    jsonschema.validate(answer.model_dump(mode="json"), schema)
    jsonschema.validate(Attributes().model_dump(mode="json"), schema)  # category null, lists empty
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**answer.model_dump(mode="json"), "colour": "red"}, schema)  # an extra key
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({k: v for k, v in answer.model_dump(mode="json").items() if k != "season"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**answer.model_dump(mode="json"), "colors": "red"}, schema)  # a string for a list


def test_the_response_format_and_the_version():
    rf = response_format()
    assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", rf["json_schema"]["name"])
    assert rf["json_schema"]["schema"] == attributes_schema()
    assert re.fullmatch(r"product_attributes\.v\d+#[0-9a-f]{8}", schema_version())
    mine = attributes_schema()
    mine["properties"].clear()  # a caller's copy: the schema sent stays whole
    assert attributes_schema()["properties"]


def test_the_adaptation_keeps_field_names_that_look_like_keywords():
    adapted = output_schema._strict(
        {"type": "object", "title": "X", "properties": {"title": {"type": "string", "default": "", "title": "T"}}}
    )
    assert adapted == {
        "type": "object",
        "properties": {"title": {"type": "string"}},
        "required": ["title"],
        "additionalProperties": False,
    }
