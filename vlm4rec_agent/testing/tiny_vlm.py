"""Tiny image-text-to-text models with random weights, built offline for tests.

:func:`build_tiny_vlm` writes a complete model folder -- config, weights, generation config,
tokenizer, image processor, processor config and chat template -- for one of two real
architectures of ``transformers``:

- ``"llava"``: :class:`~transformers.LlavaForConditionalGeneration` (CLIP vision tower, Llama
  text model), processed by :class:`~transformers.LlavaProcessor` with ``CLIPImageProcessorPil``;
- ``"idefics3"``: :class:`~transformers.Idefics3ForConditionalGeneration` (the family of SmolVLM),
  processed by :class:`~transformers.Idefics3Processor` with ``Idefics3ImageProcessorPil``, image
  splitting on (as in SmolVLM), at a 32 px tile size so that sequences stay short.

Nothing is downloaded and torchvision is not needed. The folder loads exactly as a hub model does,
so the code that serves real models can be tested end to end::

    processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForImageTextToText.from_pretrained(folder)
    messages = [[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}] for _ in images]
    texts = [processor.apply_chat_template(m, add_generation_prompt=True) for m in messages]
    processor.tokenizer.padding_side = "left"
    batch = processor(images=[[image] for image in images], text=texts, return_tensors="pt", padding=True)
    out = model.generate(**batch, max_new_tokens=20, do_sample=False)
    answers = processor.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)

Call form for both families: ``images`` is a list with one list of PIL images per prompt
(``[[image] for image in images]``), ``text`` a list of strings of the same length, each holding
as many image placeholders as its list has images (the chat template writes one per
``{"type": "image"}`` item). Images may differ in size. Left padding does not change greedy
results: the model gets the attention mask and derives position ids from it.

The weights are random, so the generated text is gibberish: tests built on these models check
plumbing and parsing, never the words. For a given ``seed`` the weights, and so the output, are
the same on every run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

__all__ = ["build_tiny_vlm"]

logger = logging.getLogger(__name__)

Family = Literal["llava", "idefics3"]

#: Text the byte-level BPE is trained on: product descriptions and JSON, as the tests see.
_CORPUS = (
    "A red summer dress in linen, casual and romantic, for the beach.",
    "A blue evening dress in silk, elegant, for a wedding or a party.",
    "Navy tailored blazer in wool for work. Black leather boots for winter.",
    "White minimalist table lamp in metal for the bedroom. Oak dining table, scandinavian style.",
    "Grey three-seat sofa in cotton for the living room. Green glass vase, decorative.",
    "Describe this product as JSON. What is the colour, the material, the style and the category?",
    '{"category": "dress", "colour": "red", "material": "linen", "style": "casual", "occasion": "beach"}',
    '{"category": "lamp", "colours": ["white", "black"], "materials": ["metal"], "room": "bedroom"}',
    "The image shows a product on a white background. It is a chair with four legs and a back.",
    "User: Assistant: USER: ASSISTANT: system user assistant image text 0123456789 ,.:;!?'\"()[]{}",
)

#: Size of the BPE vocabulary (256 byte symbols, then merges), before the special tokens.
_VOCAB_SIZE = 384

_LLAVA_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}"
    "{% for item in message['content'] if item['type'] == 'text' %}{{ item['text'] }}{% endfor %}{{ '\\n' }}"
    "{% else %}"
    "{{ message['role'] | upper }}: "
    "{% for item in message['content'] if item['type'] == 'image' %}{{ '<image>\\n' }}{% endfor %}"
    "{% for item in message['content'] if item['type'] == 'text' %}{{ item['text'] }} {% endfor %}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

_IDEFICS3_TEMPLATE = (
    "<|im_start|>"
    "{% for message in messages %}"
    "{{ message['role'] | capitalize }}"
    "{{ ':' if message['content'][0]['type'] == 'image' else ': ' }}"
    "{% for item in message['content'] %}"
    "{% if item['type'] == 'text' %}{{ item['text'] }}{% elif item['type'] == 'image' %}{{ '<image>' }}{% endif %}"
    "{% endfor %}"
    "<end_of_utterance>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

#: Vision tiles: 32 px images cut into 8 px patches (16 patches per tile).
_IMAGE_SIZE = 32
_PATCH_SIZE = 8
# The vision tower of both families: 2 small layers over 32 px images in 8 px patches.
_VISION = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    image_size=_IMAGE_SIZE,
    patch_size=_PATCH_SIZE,
)


def build_tiny_vlm(family: Family, folder: Path, seed: int = 0) -> Path:
    """Build a tiny random-weight vision-language model of ``family`` and save it into ``folder``.

    The folder then loads with ``AutoProcessor.from_pretrained(folder)`` and
    ``AutoModelForImageTextToText.from_pretrained(folder)``, like a model from the hub (see the
    module docstring for the exact call sequence). Weights take about 0.6 MB; building takes well
    under a second on a laptop.

    Args:
        family: ``"llava"`` (LLaVA: CLIP vision tower + Llama) or ``"idefics3"`` (Idefics3 /
            SmolVLM: SigLIP-like vision tower, pixel-shuffle connector, Llama; image splitting on).
        folder: Where to write the model; created if missing. Existing files of the same names are
            overwritten.
        seed: Seeds the random weights; the same seed gives the same model. The global torch
            random state is left as it was.

    Returns:
        ``folder``, as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If ``family`` is not one of the two above.
    """
    if family not in ("llava", "idefics3"):
        raise ValueError(f"unknown tiny VLM family {family!r}: use 'llava' or 'idefics3'")
    import torch

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if family == "llava":
        processor = _llava_processor()
    else:
        processor = _idefics3_processor()
    tokenizer = processor.tokenizer
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _llava_model(tokenizer) if family == "llava" else _idefics3_model(tokenizer)
    model.eval()
    processor.save_pretrained(folder)
    model.save_pretrained(folder)
    logger.debug(
        "built tiny %s VLM (%d parameters, vocabulary %d) in %s",
        family,
        sum(p.numel() for p in model.parameters()),
        len(tokenizer),
        folder,
    )
    return folder


# --- tokenizer ---------------------------------------------------------------------------------
def _tokenizer(special: list[str], *, bos: str, eos: str, pad: str, add_bos: bool, extra: dict[str, str]):
    """A byte-level BPE trained on :data:`_CORPUS`, wrapped as a ``PreTrainedTokenizerFast``.

    ``special`` lists every special token (they get the first ids); ``extra`` names some of them
    as attributes of the tokenizer (e.g. ``{"image_token": "<image>"}`` -> ``tokenizer.image_token``).
    With ``add_bos`` the tokenizer puts ``bos`` in front of every text, as Llama's does.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=_VOCAB_SIZE + len(special),
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(_CORPUS, trainer=trainer)
    if add_bos:
        backend.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, backend.token_to_id(bos))]
        )
    else:
        backend.post_processor = processors.ByteLevel(trim_offsets=False)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=bos,
        eos_token=eos,
        pad_token=pad,
        extra_special_tokens=extra,
        clean_up_tokenization_spaces=False,
    )


# --- LLaVA -------------------------------------------------------------------------------------
def _llava_processor():
    from transformers import CLIPImageProcessorPil, LlavaProcessor

    tokenizer = _tokenizer(
        ["<unk>", "<s>", "</s>", "<pad>", "<image>"],
        bos="<s>",
        eos="</s>",
        pad="<pad>",
        add_bos=True,
        extra={"image_token": "<image>"},
    )
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": _IMAGE_SIZE}, crop_size={"height": _IMAGE_SIZE, "width": _IMAGE_SIZE}
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=_PATCH_SIZE,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's class token, which "default" drops again
        chat_template=_LLAVA_TEMPLATE,
    )


def _llava_model(tokenizer):
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration

    vision = CLIPVisionConfig(**_VISION, projection_dim=32)
    config = LlavaConfig(
        vision_config=vision,
        text_config=_llama_config(tokenizer, LlamaConfig),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_seq_length=(_IMAGE_SIZE // _PATCH_SIZE) ** 2,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    model = LlavaForConditionalGeneration(config)
    _set_generation_ids(model, tokenizer)
    return model


# --- Idefics3 ----------------------------------------------------------------------------------
def _idefics3_processor():
    from transformers import Idefics3ImageProcessorPil, Idefics3Processor

    rows_cols = [f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)]
    tokenizer = _tokenizer(
        [
            "<|endoftext|>",
            "<|im_start|>",
            "<end_of_utterance>",
            "<fake_token_around_image>",
            "<image>",
            "<global-img>",
            *rows_cols,
        ],
        bos="<|im_start|>",
        eos="<end_of_utterance>",
        pad="<|endoftext|>",
        add_bos=False,  # the chat template writes <|im_start|> itself, as SmolVLM's does
        extra={
            "image_token": "<image>",
            "fake_image_token": "<fake_token_around_image>",
            "end_of_utterance_token": "<end_of_utterance>",
        },
    )
    # Images are first scaled so that their longest edge is 2 tiles, then cut into 32 px tiles
    # (at most 2 x 2) plus one 32 px view of the whole image: like SmolVLM, only smaller.
    image_processor = Idefics3ImageProcessorPil(
        size={"longest_edge": 2 * _IMAGE_SIZE},
        max_image_size={"longest_edge": _IMAGE_SIZE},
        do_image_splitting=True,
    )
    return Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=_idefics3_image_seq_len(),
        chat_template=_IDEFICS3_TEMPLATE,
    )


def _idefics3_image_seq_len(scale_factor: int = 2) -> int:
    """Image tokens per tile: patches per tile, merged ``scale_factor``**2 at a time by pixel shuffle."""
    return (_IMAGE_SIZE // _PATCH_SIZE) ** 2 // scale_factor**2


def _idefics3_model(tokenizer):
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration, Idefics3VisionConfig, LlamaConfig

    vision = Idefics3VisionConfig(**_VISION)
    config = Idefics3Config(
        vision_config=vision,
        text_config=_llama_config(tokenizer, LlamaConfig),
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        scale_factor=2,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Idefics3ForConditionalGeneration(config)
    _set_generation_ids(model, tokenizer)
    return model


# --- shared ------------------------------------------------------------------------------------
def _llama_config(tokenizer, config_class):
    return config_class(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )


def _set_generation_ids(model, tokenizer) -> None:
    """Give ``generate`` the special ids, so that it neither warns nor guesses them."""
    generation = model.generation_config
    generation.bos_token_id = tokenizer.bos_token_id
    generation.eos_token_id = tokenizer.eos_token_id
    generation.pad_token_id = tokenizer.pad_token_id
    generation.do_sample = False
