"""The tiny offline VLMs load and generate through the same calls as a model from the hub."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from vlm4rec_agent.testing.tiny_vlm import build_tiny_vlm

FAMILIES = ["llava", "idefics3"]
PROMPTS = [
    "Describe this product as JSON.",
    "Describe it.",
    "Describe this product as JSON, with its colour, material, style and the room or occasion it is for.",
]
SIZES = [(40, 60), (64, 64), (100, 50)]  # width x height: portrait, square, landscape
COLOURS = [(200, 30, 35), (40, 80, 200), (50, 150, 60)]


def _images() -> list[Image.Image]:
    return [Image.new("RGB", size, colour) for size, colour in zip(SIZES, COLOURS)]


def _load(folder: Path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    return AutoProcessor.from_pretrained(folder), AutoModelForImageTextToText.from_pretrained(folder)


def _generate(processor, model, images, prompts, max_new_tokens: int = 20):
    """The production call sequence: chat template, left padding, one image list per prompt, greedy."""
    messages = [[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": p}]}] for p in prompts]
    texts = [processor.apply_chat_template(m, add_generation_prompt=True) for m in messages]
    processor.tokenizer.padding_side = "left"
    batch = processor(images=[[image] for image in images], text=texts, return_tensors="pt", padding=True)
    out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
    new_tokens = out[:, batch["input_ids"].shape[1] :]
    return batch, new_tokens, processor.batch_decode(new_tokens, skip_special_tokens=True)


@pytest.fixture(scope="module", params=FAMILIES)
def tiny_vlm(request, tmp_path_factory):
    family = request.param
    started = time.perf_counter()
    folder = build_tiny_vlm(family, tmp_path_factory.mktemp(f"tiny-{family}"))
    processor, model = _load(folder)
    return family, folder, processor, model, time.perf_counter() - started


def test_builder_writes_a_small_folder(tiny_vlm):
    family, folder, processor, model, _ = tiny_vlm
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
    _, _, processor, model, _ = tiny_vlm
    tokenizer, generation = processor.tokenizer, model.generation_config
    assert tokenizer.pad_token_id is not None and tokenizer.pad_token_id != tokenizer.eos_token_id
    assert generation.pad_token_id == tokenizer.pad_token_id
    assert generation.eos_token_id == tokenizer.eos_token_id
    assert generation.bos_token_id == tokenizer.bos_token_id


def test_batched_generation_on_images_of_different_sizes(tiny_vlm):
    family, _, processor, model, build_seconds = tiny_vlm
    records, transformers_logger = _Records(), logging.getLogger("transformers")
    transformers_logger.addHandler(records)
    try:
        started = time.perf_counter()
        batch, new_tokens, decoded = _generate(processor, model, _images(), PROMPTS)
        seconds = time.perf_counter() - started
    finally:
        transformers_logger.removeHandler(records)
    assert len(decoded) == 3 and all(isinstance(text, str) for text in decoded)
    assert new_tokens.shape == (3, 20)  # 20 new tokens each (these random weights never pick the end token)
    assert all(decoded), decoded
    assert (batch["attention_mask"][:, 0] == 0).any()  # prompts of different lengths were left padded
    assert not [r.getMessage() for r in records.records]  # no warning: pad/eos ids known, padding on the left
    assert build_seconds + seconds < 30, f"{family}: build+load {build_seconds:.1f} s, generate {seconds:.1f} s"


def test_left_padding_does_not_change_greedy_output(tiny_vlm):
    _, _, processor, model, _ = tiny_vlm
    images = _images()
    _, batched, _ = _generate(processor, model, images, PROMPTS)
    for i, (image, prompt) in enumerate(zip(images, PROMPTS)):
        _, alone, _ = _generate(processor, model, [image], [prompt])
        assert batched[i].tolist() == alone[0].tolist(), f"image {i} ({SIZES[i]}) differs when batched"


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
    family, _, processor, _, _ = tiny_vlm
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
