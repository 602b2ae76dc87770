"""The tiny offline VLMs load and generate through the same calls as a model from the hub.

Generation is tested through the production code itself, :class:`TransformersGrounder`, whose
model's ``generate`` is only watched (what goes in, what comes out), never re-implemented here.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from PIL import Image

from vlm4rec_agent.grounding.prompt import load_prompt
from vlm4rec_agent.grounding.protocol import GroundingInput
from vlm4rec_agent.grounding.schema import GroundingRecord
from vlm4rec_agent.grounding.transformers_vlm import TransformersGrounder
from vlm4rec_agent.testing.tiny_vlm import build_tiny_vlm

FAMILIES = ["llava", "idefics3"]
TEXTS = [  # item texts of different lengths, so the prompts need padding to share a batch
    "Linen dress.",
    None,
    "A product with its colour, material, style and the room or occasion it is for, described at length. " * 2,
]
SIZES = [(40, 60), (64, 64), (100, 50)]  # width x height: portrait, square, landscape
COLOURS = [(200, 30, 35), (40, 80, 200), (50, 150, 60)]


def _inputs() -> list[GroundingInput]:
    return [
        GroundingInput(Image.new("RGB", size, colour), text=text) for size, colour, text in zip(SIZES, COLOURS, TEXTS)
    ]


def _load(folder: Path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    return AutoProcessor.from_pretrained(folder), AutoModelForImageTextToText.from_pretrained(folder)


@pytest.fixture(scope="module", params=FAMILIES)
def tiny_vlm(request, tmp_path_factory):
    family = request.param
    folder = build_tiny_vlm(family, tmp_path_factory.mktemp(f"tiny-{family}"))
    processor, model = _load(folder)
    return family, folder, processor, model


class Watched:
    """A TransformersGrounder on a tiny model whose ``generate`` calls are recorded as they pass."""

    def __init__(self, folder: Path, batch_size: int = 3, max_new_tokens: int = 20):
        self.grounder = TransformersGrounder(str(folder), load_prompt(), max_new_tokens=max_new_tokens,
                                             batch_size=batch_size)  # fmt: skip
        self.grounder.load()
        self.calls: list[tuple[dict, object]] = []  # (the keyword arguments, the output ids)
        model, generate = self.grounder._model, self.grounder._model.generate

        def watched(**kwargs):
            output = generate(**kwargs)
            self.calls.append((kwargs, output))
            return output

        model.generate = watched

    def new_tokens(self, call: int):
        kwargs, output = self.calls[call]
        return output[:, kwargs["input_ids"].shape[1] :]


def test_builder_writes_a_small_folder(tiny_vlm):
    family, folder, processor, model = tiny_vlm
    assert {"config.json", "model.safetensors", "generation_config.json", "processor_config.json"} <= {
        p.name for p in folder.iterdir()
    }
    assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) < 2 * 1024 * 1024
    assert sum(p.numel() for p in model.parameters()) < 250_000
    assert model.config.model_type == family
    assert "Pil" in type(processor.image_processor).__name__  # no torchvision needed


class _Records(logging.Handler):
    """Collects what transformers logs (its logger does not propagate to pytest's ``caplog``)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_generation_config_carries_the_special_ids(tiny_vlm):
    _, _, processor, model = tiny_vlm
    tokenizer, generation = processor.tokenizer, model.generation_config
    assert tokenizer.pad_token_id is not None and tokenizer.pad_token_id != tokenizer.eos_token_id
    assert generation.pad_token_id == tokenizer.pad_token_id
    assert generation.eos_token_id == tokenizer.eos_token_id
    assert generation.bos_token_id == tokenizer.bos_token_id


def test_batched_generation_on_images_of_different_sizes(tiny_vlm):
    _, folder, _, _ = tiny_vlm
    watched = Watched(folder)
    records, transformers_logger = _Records(), logging.getLogger("transformers")
    transformers_logger.addHandler(records)
    try:
        with warnings.catch_warnings(record=True) as python_warnings:
            warnings.simplefilter("always")
            outcomes = watched.grounder.ground(_inputs())
    finally:
        transformers_logger.removeHandler(records)
    assert len(watched.calls) == 1  # the three images went through generate as one batch
    kwargs, _ = watched.calls[0]
    assert kwargs["do_sample"] is False and kwargs["max_new_tokens"] == 20  # greedy
    assert (kwargs["attention_mask"][:, 0] == 0).any()  # prompts of different lengths were left padded
    assert (kwargs["attention_mask"][:, -1] == 1).all()  # ...so every prompt ends where generation starts
    assert watched.new_tokens(0).shape == (3, 20)  # 20 new tokens each (these random weights never pick the end)
    assert not [r.getMessage() for r in records.records]  # no warning: pad/eos ids known, padding on the left
    assert not [str(w.message) for w in python_warnings]
    assert len(outcomes) == 3 and all(isinstance(o, GroundingRecord) for o in outcomes)
    assert all(o.raw_output and o.grounder == "transformers" and o.model_id == str(folder) for o in outcomes)


def test_left_padding_does_not_change_greedy_output(tiny_vlm):
    _, folder, _, _ = tiny_vlm
    watched = Watched(folder)
    inputs = _inputs()
    batched = watched.grounder.ground(inputs)
    for i, one in enumerate(inputs):
        [alone] = watched.grounder.ground([one])
        assert watched.new_tokens(0)[i].tolist() == watched.new_tokens(i + 1)[0].tolist(), f"image {i} ({SIZES[i]})"
        assert alone.raw_output == batched[i].raw_output


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_model_other_seed_other_model(family, tmp_path):
    import torch
    from safetensors.torch import load_file

    before = torch.random.get_rng_state()
    weights = [
        load_file(build_tiny_vlm(family, tmp_path / name, seed=seed) / "model.safetensors")
        for name, seed in [("a", 1), ("b", 1), ("c", 2)]
    ]
    assert torch.equal(torch.random.get_rng_state(), before)  # the global random state is untouched
    assert weights[0].keys() == weights[2].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])


def test_chat_template_gives_one_image_placeholder_per_image(tiny_vlm):
    family, _, processor, _ = tiny_vlm
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe."}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    assert text.count("<image>") == 1 and text.endswith("Assistant:" if family == "idefics3" else "ASSISTANT:")
    assert "\\n" not in text  # real newlines, not escaped ones


def test_unknown_family_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown tiny VLM family"):
        build_tiny_vlm("qwen2_vl", tmp_path)  # type: ignore[arg-type]


def test_importing_the_testing_package_loads_no_model_library():
    code = (
        "import sys, vlm4rec_agent.testing, vlm4rec_agent.testing.tiny_vlm; "
        "print(sorted(m for m in ('torch', 'transformers', 'tokenizers') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"
