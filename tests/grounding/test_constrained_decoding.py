"""The transformers grounder held to a JSON schema (the [structured] extra), on the tiny offline VLMs.

Random weights never close a string of their own accord, so the answers are checked against a
schema with short strings and few items: what is tested is that every answer is the JSON object
the schema allows, whatever noise the model would have written instead.
"""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

from vlm4rec_agent.grounding import constrained_decoding
from vlm4rec_agent.grounding.output_schema import attributes_schema, schema_version
from vlm4rec_agent.grounding.prompt import load_prompt
from vlm4rec_agent.grounding.protocol import GrounderUnavailable, GroundingInput
from vlm4rec_agent.grounding.schema import Attributes
from vlm4rec_agent.grounding.transformers_vlm import TransformersGrounder
from vlm4rec_agent.testing.tiny_vlm import build_tiny_vlm


def short_schema() -> dict:
    """The attributes' schema with at most 2 values of at most 8 characters a field."""
    schema = attributes_schema()
    for field in schema["properties"].values():
        if field.get("type") == "array":
            field.update(maxItems=2)
            field["items"]["maxLength"] = 8
        elif field.get("type") == "string":
            field["maxLength"] = 16
        else:
            field["anyOf"][0]["maxLength"] = 8
    return schema


@pytest.fixture(scope="module", params=["llava", "idefics3"])
def tiny_model(request, tmp_path_factory):
    pytest.importorskip("outlines")
    return build_tiny_vlm(request.param, tmp_path_factory.mktemp(request.param))


@pytest.fixture(scope="module")
def prompt(tmp_path_factory):
    path = tmp_path_factory.mktemp("prompt") / "short.v1.txt"
    path.write_text("Describe the product as JSON. $item_text")  # short: the tiny models have 512 positions
    return load_prompt(str(path))


def inputs():
    return [
        GroundingInput(Image.new("RGB", (40, 60), (200, 30, 35)), text="Linen dress"),
        GroundingInput(Image.new("RGB", (64, 64), (40, 80, 200))),
        GroundingInput(Image.new("RGB", (100, 50), (20, 20, 22)), text="Leather boots for winter"),
    ]


@pytest.mark.slow  # compiles outlines' masking kernel once, then runs the tiny models
def test_every_answer_is_an_object_the_schema_allows(tiny_model, prompt):
    jsonschema = pytest.importorskip("jsonschema")
    schema = short_schema()
    grounder = TransformersGrounder(
        str(tiny_model), prompt, max_new_tokens=300, batch_size=2, json_schema=True, schema=schema
    )
    records = grounder.ground(inputs())
    assert len(records) == 3
    for record in records:
        answer = json.loads(record.raw_output)
        jsonschema.validate(answer, schema)
        assert list(answer) == list(Attributes.model_fields)  # every field, in the schema's order
        assert not [p for p in record.evidence.get("problems", []) if p.startswith("missing")]
        assert record.status in ("ok", "partial")  # partial only where the noise left the description empty
        assert record.prompt_version == f"{prompt.version}+{schema_version(schema)}"


@pytest.mark.slow
def test_a_batch_answers_as_single_images_do_under_the_schema(tiny_model, prompt):
    grounder = TransformersGrounder(
        str(tiny_model), prompt, max_new_tokens=40, batch_size=3, json_schema=True, schema=short_schema()
    )
    batched = [r.raw_output for r in grounder.ground(inputs())]
    assert batched == [grounder.ground([one])[0].raw_output for one in inputs()]


@pytest.mark.slow
def test_the_attributes_own_schema_is_the_default(tiny_model, prompt):
    grounder = TransformersGrounder(str(tiny_model), prompt, max_new_tokens=12, json_schema=True)
    [record] = grounder.ground(inputs()[:1])
    assert re.match(r'\{ ?"category" ?:', record.raw_output)  # the first field, whatever the weights wanted
    assert record.prompt_version == f"{prompt.version}+{schema_version()}"
    unconstrained = TransformersGrounder(str(tiny_model), prompt, max_new_tokens=12)
    assert unconstrained.prompt_version == prompt.version  # so their cached answers are kept apart


def test_without_outlines_the_setting_says_what_to_install(monkeypatch):
    monkeypatch.setattr(constrained_decoding, "available", lambda: False)
    with pytest.raises(
        GrounderUnavailable, match=r"need outlines.*vlm4rec-agent\[structured\].*VLM4REC_VLM_JSON_SCHEMA"
    ):
        TransformersGrounder("some/vlm", load_prompt(), json_schema=True)
    TransformersGrounder("some/vlm", load_prompt())  # off: nothing is needed
