import numpy as np
import pytest

from vlm4rec_agent.encoding import (
    BUNDLED_MODEL,
    SentenceTransformerEncoder,
    TextEncoder,
    canonical_encoder_name,
    load_encoder,
)
from vlm4rec_agent.errors import ConfigurationError
from vlm4rec_agent.onnx_encoder import OnnxEncoder, export_folder, has_export

TEXTS = [
    "a red silk evening dress",
    "crimson satin gown",
    "stainless steel kitchen knife",
    "white minimalist bedside lamp with a linen shade, for a calm scandinavian bedroom " * 6,  # longer than most
]


@pytest.fixture(scope="module")
def torch_encoder():
    return SentenceTransformerEncoder("all-MiniLM-L6-v2")


def test_bundled_minilm_loads_offline_and_knows_meaning(torch_encoder):
    assert isinstance(torch_encoder, TextEncoder)
    assert torch_encoder.name == BUNDLED_MODEL and torch_encoder.dim == 384
    v = torch_encoder.encode(TEXTS[:3])
    assert v.dtype == np.float32 and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert v[0] @ v[1] > 0.45 > 0.2 > v[0] @ v[2]  # FACTS.md: 0.57 vs 0.08


def test_session_encoder_is_the_onnx_export_and_gives_the_same_vectors(encoder, torch_encoder, model_cache):
    assert isinstance(encoder, OnnxEncoder)
    assert has_export(export_folder(model_cache, BUNDLED_MODEL))
    assert encoder.name == torch_encoder.name and encoder.dim == torch_encoder.dim
    reference = torch_encoder.encode(TEXTS)
    for batch in (TEXTS, TEXTS[:1], TEXTS[3:], [TEXTS[2], TEXTS[0]]):  # padded, single, unpadded batches
        got = encoder.encode(batch)
        expected = np.stack([reference[TEXTS.index(t)] for t in batch])
        assert np.min((got * expected).sum(1)) > 0.9999


def test_second_load_reuses_the_export(model_cache, encoder):
    again = load_encoder("sentence-transformers/all-MiniLM-L6-v2", "cpu", 32, "auto", model_cache)
    assert isinstance(again, OnnxEncoder)
    assert np.allclose(again.encode(TEXTS[:2]), encoder.encode(TEXTS[:2]), atol=1e-6)


def test_torch_backend_never_exports(tmp_path):
    encoder = load_encoder("all-MiniLM-L6-v2", "cpu", 32, "torch", tmp_path)
    assert isinstance(encoder, SentenceTransformerEncoder)
    assert not any(tmp_path.iterdir())


def test_empty_input_gives_an_empty_matrix(encoder):
    assert encoder.encode([]).shape == (0, 384)


def test_names_of_the_bundled_model_are_one_name():
    assert canonical_encoder_name("all-MiniLM-L6-v2") == BUNDLED_MODEL
    assert canonical_encoder_name("Sentence-Transformers/all-MiniLM-L6-v2") == BUNDLED_MODEL
    assert canonical_encoder_name("BAAI/bge-small-en-v1.5") == "BAAI/bge-small-en-v1.5"


def test_a_model_that_cannot_be_loaded_says_what_to_set(tmp_path):
    with pytest.raises(ConfigurationError, match="cannot load the text encoder.*VLM4REC_ENCODER"):
        SentenceTransformerEncoder(str(tmp_path / "no-such-model"))


def test_each_engine_loads_its_own_encoder(settings, tmp_path):
    from vlm4rec_agent.engine import Engine

    # A folder of its own, so that the session's shared encoder is not handed out (see conftest).
    settings = settings.model_copy(update={"model_cache": tmp_path / "models", "encoder_backend": "torch"})
    first, second = Engine(settings).encoder, Engine(settings).encoder
    assert first is not second and first.name == second.name == BUNDLED_MODEL
