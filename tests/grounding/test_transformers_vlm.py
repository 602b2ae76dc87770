"""The transformers grounder, run for real on tiny LLaVA and Idefics3 models built offline.

The models have random weights, so their answers are noise: these tests check the code path a
hub model takes (processor, chat template with the image, batched generate, decoding) and what
the grounder makes of any answer, not the words.
"""

from __future__ import annotations

import re

import pytest
from PIL import Image

from vlm4rec_agent.grounding.prompt import load_prompt
from vlm4rec_agent.grounding.protocol import GroundingInput
from vlm4rec_agent.grounding.transformers_vlm import DEFAULT_MODEL, TransformersGrounder
from vlm4rec_agent.testing.tiny_vlm import build_tiny_vlm

FAMILIES = ["llava", "idefics3"]


@pytest.fixture(scope="module", params=FAMILIES)
def tiny_model(request, tmp_path_factory):
    return build_tiny_vlm(request.param, tmp_path_factory.mktemp(request.param))


def inputs():
    return [
        GroundingInput(Image.new("RGB", (40, 60), (200, 30, 35)), text="Linen dress"),
        GroundingInput(Image.new("RGB", (64, 64), (40, 80, 200)), text=None),
        GroundingInput(
            Image.new("RGB", (100, 50), (20, 20, 22)), text="Leather boots for winter, black, with a long text " * 3
        ),
    ]


def test_batched_grounding_through_the_hub_code_path(tiny_model):
    grounder = TransformersGrounder(str(tiny_model), load_prompt(), max_new_tokens=24, batch_size=2)
    assert grounder._model is None  # nothing loads before the first image
    records = grounder.ground(inputs())
    assert len(records) == 3
    for record in records:
        assert record.grounder == "transformers" and record.model_id == str(tiny_model)
        assert record.prompt_version == load_prompt().version
        # random weights answer random bytes, never JSON: the answer is kept whole as the description
        assert record.raw_output and record.status == "unparsed" and record.notice
        assert record.attributes.description
        assert record.evidence["seconds"] > 0
    model = grounder._model
    grounder.ground(inputs()[:1])
    assert grounder._model is model  # loaded once


def test_a_batch_answers_as_single_images_do(tiny_model):
    grounder = TransformersGrounder(str(tiny_model), load_prompt(), max_new_tokens=16, batch_size=3)
    batched = [r.raw_output for r in grounder.ground(inputs())]
    single = [grounder.ground([one])[0].raw_output for one in inputs()]
    assert batched == single


def test_a_model_that_cannot_be_loaded_says_what_to_do(tmp_path):
    grounder = TransformersGrounder(str(tmp_path / "no-model-here"), load_prompt())
    outcomes = grounder.ground(inputs()[:2])
    assert len(outcomes) == 2 and all(o.kind == "unusable" for o in outcomes)  # one outcome per input
    assert re.search("cannot load the VLM.*VLM4REC_VLM_MODEL.*VLM4REC_GROUNDER=basic", str(outcomes[0]))
    offline = TransformersGrounder(None, load_prompt())  # the default hub model is not downloadable in tests
    assert offline.model_id == DEFAULT_MODEL
    assert "SmolVLM-256M-Instruct" in offline.ground(inputs()[:1])[0].reason


def test_unknown_dtype_is_refused(tiny_model):
    [failure] = TransformersGrounder(str(tiny_model), load_prompt(), dtype="float8").ground(inputs()[:1])
    assert failure.kind == "unusable" and "unknown dtype 'float8'" in failure.reason
