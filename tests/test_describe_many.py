"""Engine.describe_many: several photos grounded in order, one ground() call a batch, nothing if one cannot be read."""

from __future__ import annotations

import pytest

from vlm4rec_agent.engine import Engine
from vlm4rec_agent.errors import InvalidInputError, NotFoundError
from vlm4rec_agent.grounding.protocol import BaseGrounder, GroundingFailure
from vlm4rec_agent.settings import Settings

COLOURS = {"red": (200, 30, 35), "blue": (40, 80, 200), "green": (50, 150, 60), "black": (20, 20, 22)}


class CountingGrounder(BaseGrounder):
    """The basic grounder, counting how many inputs each ground() call is given."""

    def __init__(self, inner, refuse_at: int | None = None):
        self.inner = inner
        self.name, self.model_id, self.prompt_version = inner.name, inner.model_id, inner.prompt_version
        self.calls: list[int] = []
        self.refuse_at = refuse_at  # the input (counted over all calls) that the "VLM" refuses

    def ground(self, inputs):
        before = sum(self.calls)
        self.calls.append(len(inputs))
        outcomes = self.inner.ground(inputs)
        if self.refuse_at is not None and before <= self.refuse_at < before + len(inputs):
            outcomes[self.refuse_at - before] = GroundingFailure("the VLM server refused this image (400)")
        return outcomes


@pytest.fixture
def photos(product_image):
    names = ["red", "blue", "green", "black", "red", "blue", "green"]
    return [product_image(f"{name}-{i}.jpg", colour=COLOURS[name]) for i, name in enumerate(names)]


def engine_with(tmp_path, model_cache, encoder, grounder, batch_size):
    settings = Settings(home=tmp_path / "home", model_cache=model_cache, grounding_batch_size=batch_size)
    return Engine(settings, encoder=encoder, grounder=grounder)


def test_records_come_in_the_order_given_one_ground_call_a_batch(tmp_path, model_cache, encoder, grounder, photos):
    counting = CountingGrounder(grounder)
    with engine_with(tmp_path, model_cache, encoder, counting, batch_size=3) as engine:
        records = engine.describe_many(photos)
        assert counting.calls == [3, 3, 1]
        assert [r.attributes.colors[0] for r in records] == [p.name.split("-")[0] for p in photos]
        one = engine.describe(photos[1], text="silk dress")  # one photo: one call of one input, as before
    assert counting.calls[-1] == 1 and one.attributes.category == "dress"


def test_texts_go_with_their_photos_and_must_match_them_in_number(tmp_path, model_cache, encoder, grounder, photos):
    with engine_with(tmp_path, model_cache, encoder, grounder, batch_size=16) as engine:
        first, second = engine.describe_many(photos[:2], ["linen dress", None])
        assert first.attributes.category == "dress" and first.attributes.materials == ["linen"]
        assert second.attributes.materials == []
        with pytest.raises(InvalidInputError, match="1 texts for 2 images"):
            engine.describe_many(photos[:2], ["linen dress"])


def test_a_photo_that_cannot_be_opened_stops_everything_before_grounding(
    tmp_path, model_cache, encoder, grounder, photos
):
    counting = CountingGrounder(grounder)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo at all")
    with engine_with(tmp_path, model_cache, encoder, counting, batch_size=2) as engine:
        with pytest.raises(InvalidInputError, match=r"^photo 4 of 5: .*broken\.jpg") as caught:
            engine.describe_many([*photos[:3], broken, photos[3]])
        assert caught.value.hint
        with pytest.raises(NotFoundError, match=r"photo 2 of 2: image file not found: gone\.jpg") as caught:
            engine.describe_many([photos[0], tmp_path / "gone.jpg"])
        assert caught.value.hint == "fix that photo or leave it out"
    assert counting.calls == []  # no photo was grounded


def test_a_photo_the_grounder_refuses_is_named(tmp_path, model_cache, encoder, grounder, photos):
    with engine_with(tmp_path, model_cache, encoder, CountingGrounder(grounder, refuse_at=4), batch_size=3) as engine:
        with pytest.raises(InvalidInputError, match=r"^photo 5 of 7: the VLM server refused this image"):
            engine.describe_many(photos)
