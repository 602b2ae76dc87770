"""Schema-constrained decoding for the transformers grounder, through outlines (the ``[structured]`` extra).

What vLLM's guided decoding does on a server, done in ``generate``: at every step the tokens that
could not continue an answer following the attributes' JSON schema (:mod:`.output_schema`) are
masked out, so a local VLM can only write one JSON object with exactly those fields, in their
order. outlines compiles the schema to a regular expression and that to an index over the
model's vocabulary once, when the model loads (0.2 s and about 60 MB for a synthetic 54k-token
vocabulary here); each ``generate`` then gets a fresh logits processor sharing that index.

Why outlines (1.3, with outlines-core): it installs beside transformers 5 and torch 2.13 as four
small packages and works with its own transformers integration. lm-format-enforcer's integration
does not import under transformers 5, transformers-cfg refuses the ``TokenizersBackend``
tokenizers of transformers 5 and has no JSON schema input, and xgrammar pulls in triton
(286 MB). The findings and the numbers are in the README (Grounding with a VLM).

Two costs to know: outlines masks the logits with a ``torch.compile``'d kernel, compiled once
per process (about 4 s here, done while the model loads; where there is no C compiler, torch logs
a long warning and runs it uncompiled, which still works);
and strings in the schema have no length bound, since bounded ones made the index about 100
times slower to build and 40 times larger (26 s, 2.5 GB): a model that never closes a string
still runs to its token limit.
"""

from __future__ import annotations

import copy
import json
from importlib.util import find_spec
from typing import Any

from ..extras import install_hint

EXTRA = "structured"
# One optional space between JSON tokens: the default pattern lets a weak model write whitespace
# until its token limit, which is valid JSON and no answer.
WHITESPACE = r"[ ]?"


def available() -> bool:
    """True when outlines can be imported (without importing it: that takes a second)."""
    try:
        return find_spec("outlines") is not None
    except ValueError:  # in sys.modules as None: blocked, as if not installed
        return False


def missing_hint() -> str:
    return f"{install_hint(EXTRA)}, or set VLM4REC_VLM_JSON_SCHEMA=false"


class SchemaConstraint:
    """Holds a transformers model's answers to a JSON schema; built once per loaded model."""

    def __init__(self, model, processor, schema: dict[str, Any]):
        import outlines
        from outlines.backends import get_json_schema_logits_processor

        wrapped = outlines.from_transformers(model, processor)
        self._template = get_json_schema_logits_processor(
            "outlines_core", wrapped, json.dumps(schema), whitespace_pattern=WHITESPACE
        )

    def logits_processor(self):
        """A processor for one ``generate`` call: its per-sequence state is its own, the index is shared."""
        fresh = copy.copy(self._template)
        fresh.reset()
        return fresh

    def warm_up(self, vocab_size: int, device) -> None:
        """Run the masking once on dummy logits on the model's device, so that its compilation
        happens while the model loads rather than inside the first answer (and anything else
        that breaks it is found then, as a load failure)."""
        import torch

        processor = self.logits_processor()
        processor(torch.zeros((1, 1), dtype=torch.long, device=device), torch.zeros((1, vocab_size), device=device))
