"""VLM4REC_VLM_SAMPLE through the real engine: a VLM (the fake OpenAI-compatible server, made to
see the shapes in the photos) grounds a sample, heads learned from its answers ground the rest."""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from vlm4rec_agent.engine import Engine
from vlm4rec_agent.settings import Settings
from vlm4rec_agent.testing.fake_openai import FakeOpenAIServer, Reply

from .grounding.test_learned_heads import WORDS, shape_catalog


def shape_of(photo: Image.Image) -> str:
    """What the test's photos show: a disc leaves the box's corners white, a bar its top."""
    size = photo.width
    white = lambda x, y: min(photo.getpixel((int(x), int(y)))) > 235  # noqa: E731
    if white(size / 2, size * 0.3):
        return "bar"
    return "disc" if white(size / 5 + 3, size / 5 + 3) else "box"


def seeing_vlm(request: dict) -> Reply:
    parts = request["messages"][-1]["content"]
    url = next(p["image_url"]["url"] for p in parts if p.get("type") == "image_url")
    photo = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")
    category = WORDS[shape_of(photo)]
    return Reply(content=json.dumps({"category": category, "description": f"A {category}."}))


@pytest.fixture
def seeing_server():
    with FakeOpenAIServer(seeing_vlm) as server:
        yield server


def test_heads_learned_from_a_vlm_sample_ground_the_rest(tmp_path, model_cache, encoder, seeing_server):
    catalog = shape_catalog(tmp_path / "catalog", per_shape=30, text=False)
    settings = dict(home=tmp_path / "home", model_cache=model_cache, grounder="openai", vlm_model="fake-vlm",
                    openai_base_url=seeing_server.url, openai_max_retries=0)  # fmt: skip
    engine = Engine(Settings(**settings, vlm_sample=45), encoder=encoder)
    report = engine.ingest(catalog)
    assert (report.added, report.taught, len(seeing_server.requests)) == (90, 45, 45)
    assert "45 grounded by heads learned from the VLM's answers" in report.summary()
    items = [engine.get_item(f"{shape}-0-{n}") for shape in WORDS for n in range(30)]
    taught = [i for i in items if i.record.grounder == "basic"]
    asked = [i for i in items if i.record.grounder == "openai"]
    assert len(taught) == len(asked) == 45
    assert all(i.record.evidence["learned"]["category"]["source"] == "learned from 45 items of this catalog"
               for i in taught if "category" in i.record.evidence["learned"])  # fmt: skip
    right = [i.record.attributes.category == WORDS[i.id.split("-")[0]] for i in taught]
    assert sum(right) >= 0.9 * len(taught)  # the heads answer as the VLM would
    engine.close()

    again = Engine(Settings(**settings, vlm_sample=45), encoder=encoder)
    assert again.ingest(catalog).unchanged == 90 and len(seeing_server.requests) == 45  # the same sample, nothing asked
    again.close()
    everything = Engine(Settings(**settings), encoder=encoder)  # no sample: the VLM grounds what the heads did
    assert everything.ingest(catalog).updated == 45 and len(seeing_server.requests) == 90
    everything.close()


def test_the_fake_vlm_sees_the_shapes(tmp_path):
    from tests.conftest import draw_product

    for shape in WORDS:
        for size in (150, 190):
            assert (
                shape_of(Image.open(draw_product(tmp_path / f"{shape}{size}.jpg", (90, 60, 200), shape, size))) == shape
            )
