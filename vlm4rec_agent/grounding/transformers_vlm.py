"""Grounding with a local vision-language model through transformers.

Any image-text-to-text model on the hub or in a folder: ``AutoProcessor`` +
``AutoModelForImageTextToText``, the model's own chat template with the image in the message,
and batched greedy ``generate`` (left padding, so answers do not depend on the batch). The model
loads once, on the first image, not before.

With ``json_schema`` (``VLM4REC_VLM_JSON_SCHEMA``, the ``[structured]`` extra) decoding is held
to the attributes' JSON schema, as a server's structured outputs are (see
:mod:`.constrained_decoding`); the prompt version then names the schema, so cached answers made
without it are not reused.

Default: SmolVLM-256M-Instruct (Apache-2.0), small enough for a free CPU Space and needing no
torchvision. Stronger on a GPU: SmolVLM2-2.2B-Instruct, LLaVA-NeXT 7B
(``llava-hf/llava-v1.6-mistral-7b-hf``, the paper's), Qwen2.5-VL-7B-Instruct (needs torchvision).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from . import constrained_decoding, output_schema
from .prompt import Prompt
from .protocol import GrounderUnavailable, GroundingFailure, GroundingInput, GroundingOutcome
from .vlm import VlmGrounder, timed

log = logging.getLogger(__name__)

DEFAULT_MODEL = "HuggingFaceTB/SmolVLM-256M-Instruct"
_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
}


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]


class TransformersGrounder(VlmGrounder):
    name = "transformers"

    def __init__(
        self,
        model: str | None,
        prompt: Prompt,
        *,
        device: str = "cpu",
        dtype: str = "auto",
        max_new_tokens: int = 384,
        batch_size: int = 4,
        json_schema: bool = False,
        schema: dict[str, Any] | None = None,
    ):
        super().__init__(model or DEFAULT_MODEL, prompt)
        self.device = device
        self.dtype = dtype
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        # The schema the answers are held to (the attributes' own unless one is given), or None.
        self.schema = (schema or output_schema.attributes_schema()) if json_schema else None
        if self.schema is not None:
            if not constrained_decoding.available():
                raise GrounderUnavailable(
                    "answers held to a JSON schema (VLM4REC_VLM_JSON_SCHEMA) need outlines, which is not installed",
                    constrained_decoding.missing_hint(),
                )
            self.prompt_version = f"{prompt.version}+{output_schema.schema_version(self.schema)}"
        self._model = None
        self._processor = None
        self._constraint: constrained_decoding.SchemaConstraint | None = None
        self._lock = threading.Lock()

    # --- loading ---------------------------------------------------------------------------
    def _torch_dtype(self):
        import torch

        if self.dtype == "auto":
            return torch.float32 if self.device == "cpu" else "auto"
        if self.dtype not in _DTYPES:
            raise GrounderUnavailable(
                f"unknown dtype {self.dtype!r}", f"set VLM4REC_VLM_DTYPE to auto or one of {', '.join(_DTYPES)}"
            )
        return getattr(torch, _DTYPES[self.dtype])

    def load(self) -> None:
        """Load processor and model (once); a clear error if they cannot be had."""
        with self._lock:
            if self._model is not None:
                return
            from transformers import AutoModelForImageTextToText, AutoProcessor
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
            try:
                processor = AutoProcessor.from_pretrained(self.model_id)
                kwargs = {"dtype": self._torch_dtype()}
                if self.device == "auto":
                    kwargs["device_map"] = "auto"  # accelerate places the layers
                model = AutoModelForImageTextToText.from_pretrained(self.model_id, **kwargs)
                if self.device != "auto":
                    model = model.to(self.device)
            except GrounderUnavailable:
                raise
            except Exception as error:
                raise GrounderUnavailable(
                    f"cannot load the VLM {self.model_id!r} on {self.device}: {_first_line(error)}",
                    "download it once where there is network (`hf download MODEL`) or set VLM4REC_VLM_MODEL to a "
                    "local folder; VLM4REC_GROUNDER=basic works offline, and VLM4REC_GROUNDER_FALLBACK=true lets "
                    "the basic grounder stand in",
                ) from error
            tokenizer = getattr(processor, "tokenizer", None)
            if tokenizer is not None:
                tokenizer.padding_side = "left"  # generation continues on the right of every prompt
                if tokenizer.pad_token is None:
                    tokenizer.pad_token = tokenizer.eos_token
            if self.schema is not None:
                self._constraint = self._schema_constraint(model, processor)
            self._processor, self._model = processor, model.eval()
            log.info("loaded VLM %s on %s", self.model_id, self.device)

    def _schema_constraint(self, model, processor) -> constrained_decoding.SchemaConstraint:
        try:
            constraint = constrained_decoding.SchemaConstraint(model, processor, self.schema)
            constraint.warm_up(model.get_output_embeddings().weight.shape[0], model.device)
        except Exception as error:
            raise GrounderUnavailable(
                f"cannot hold {self.model_id!r}'s answers to the JSON schema: {_first_line(error)}",
                "set VLM4REC_VLM_JSON_SCHEMA=false to ground without it",
            ) from error
        return constraint

    # --- grounding -------------------------------------------------------------------------
    def _generate(self, batch: Sequence[GroundingInput]) -> list[str]:
        import torch
        from transformers import LogitsProcessorList

        processor, model = self._processor, self._model
        messages = [
            [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": self.prompt.render(i.text)}]}]
            for i in batch
        ]
        texts = [processor.apply_chat_template(m, add_generation_prompt=True) for m in messages]
        encoded = processor(images=[[i.image] for i in batch], text=texts, return_tensors="pt", padding=True)
        encoded = encoded.to(model.device)
        pad_id = getattr(getattr(processor, "tokenizer", None), "pad_token_id", None)
        options = {"max_new_tokens": self.max_new_tokens, "do_sample": False, "pad_token_id": pad_id}
        if self._constraint is not None:
            options["logits_processor"] = LogitsProcessorList([self._constraint.logits_processor()])
        with torch.inference_mode():
            output = model.generate(**encoded, **options)
        new_tokens = output[:, encoded["input_ids"].shape[1] :]
        return processor.batch_decode(new_tokens, skip_special_tokens=True)

    def ground(self, inputs: Sequence[GroundingInput]) -> list[GroundingOutcome]:
        if not inputs:
            return []
        try:
            self.load()
        except GrounderUnavailable as error:  # no weights, no network: every input fails the same way
            return [GroundingFailure.from_error(error)] * len(inputs)
        records: list[GroundingOutcome] = []
        for start in range(0, len(inputs), self.batch_size):
            batch = inputs[start : start + self.batch_size]
            answers, seconds = timed(lambda b=batch: self._generate(b))
            records += [self.record(answer, seconds / len(batch)) for answer in answers]
        return records

    def close(self) -> None:
        """Let go of the model (it loads again on the next image)."""
        with self._lock:
            self._processor = self._model = self._constraint = None
