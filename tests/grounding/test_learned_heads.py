"""Heads learned from a catalog made in the test, through the real engine (Chroma, EfficientNet-Lite0,
MiniLM, scikit-learn), and the training, calibration and abstention rules on their own."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from PIL import Image

from vlm4rec_agent.engine import Engine
from vlm4rec_agent.grounding.learned_heads import Heads, labels_of, train_heads
from vlm4rec_agent.grounding.schema import Attributes, GroundingRecord
from vlm4rec_agent.grounding.vocabulary import load_vocabulary
from vlm4rec_agent.items import StoredItem
from vlm4rec_agent.settings import Settings

SHAPES = {"disc": "Ceiling lamp", "box": "Storage box", "bar": "Rug"}
WORDS = {"disc": "lamp", "box": "storage box", "bar": "rug"}


def shape_catalog(folder, per_shape: int = 20, seed: int = 0, text: bool = True):
    """Items whose photo is a shape in a random colour and whose text names its product type."""
    from tests.conftest import draw_product

    rng = random.Random(seed)
    lines = []
    for shape, title in SHAPES.items():
        for n in range(per_shape):
            colour = tuple(rng.randrange(30, 220) for _ in range(3))
            draw_product(folder / "images" / f"{shape}-{seed}-{n}.jpg", colour, shape, size=rng.choice([150, 170, 190]))
            row = {"id": f"{shape}-{seed}-{n}", "image": f"images/{shape}-{seed}-{n}.jpg"}
            if text:
                row |= {"title": title, "description": f"A {title.lower()}."}
            lines.append(json.dumps(row))
    path = folder / f"items-{seed}.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def taught_engine(folder, model_cache, encoder):
    """An engine with the basic grounder (not handed in: the engine builds it, taught by its heads)."""
    engine = Engine(Settings(home=folder / "home", model_cache=model_cache), encoder=encoder)
    return engine, engine.ingest(shape_catalog(folder / "catalog"))


@pytest.fixture(scope="module")
def taught(tmp_path_factory, model_cache, encoder):
    """One taught catalog for the tests that only read it."""
    folder = tmp_path_factory.mktemp("taught")
    engine, report = taught_engine(folder, model_cache, encoder)
    yield engine, report, folder
    engine.close()


def test_an_ingest_learns_heads_that_name_what_photos_without_text_show(taught, draw):
    engine, report, tmp_path = taught
    assert report.learned.startswith("heads learned from 60 items") and "category (3 values" in report.learned
    assert engine.heads.path.is_file()
    for shape, word in WORDS.items():
        photo = draw(tmp_path / "new" / f"{shape}.jpg", (90, 140, 200), shape, size=160)
        record = engine.describe(photo)
        found = record.evidence["learned"]["category"]
        assert record.attributes.category == word, (shape, record.evidence)
        assert found["source"] == "learned from 60 items of this catalog" and 0.3 <= found["probability"] <= 1.0
        assert record.evidence["category_source"] == found["source"] and "taught by this catalog" in record.notice


def test_what_the_text_names_wins_over_the_heads(taught, draw):
    engine, _, tmp_path = taught
    disc = draw(tmp_path / "new" / "disc.jpg", (90, 140, 200), "disc")
    record = engine.describe(disc, text="A round vase in glass")
    assert record.attributes.category == "vase" and "category" not in record.evidence["learned"]
    assert record.evidence["category_source"] == "item text" and record.attributes.materials == ["glass"]


def test_a_photo_unlike_anything_in_the_catalog_is_named_nothing_and_says_so(taught):
    engine, _, tmp_path = taught
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (240, 240, 3), dtype=np.uint8))
    noise.save(tmp_path / "noise.png")
    record = engine.describe(tmp_path / "noise.png")
    assert record.attributes.category is None and record.evidence["learned"]["abstained"]
    assert record.notice.startswith("This photo does not look like anything in this catalog")
    assert record.evidence["nearest_item_similarity"] < engine.heads.current().novelty


def test_the_heads_are_learned_again_only_when_the_catalog_changed_enough(tmp_path, model_cache, encoder):
    engine, _ = taught_engine(tmp_path, model_cache, encoder)
    first = engine.heads.current()
    few = shape_catalog(tmp_path / "few", per_shape=1, seed=1)
    assert engine.ingest(few).learned == ""  # 3 more items: not a tenth
    assert engine.heads.current().items == first.items
    more = shape_catalog(tmp_path / "more", per_shape=8, seed=2)
    assert engine.ingest(more).learned.startswith("heads learned from 87 items")


def test_vlm4rec_learn_and_its_status(taught, monkeypatch, capsys):
    from vlm4rec_agent.cli import main

    engine, _, tmp_path = taught
    monkeypatch.setenv("VLM4REC_HOME", str(engine.settings.home))
    monkeypatch.setenv("VLM4REC_MODEL_CACHE", str(engine.settings.model_cache))
    assert main(["learn", "--status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["items"] == 60 and status["heads"]["category"]["values"] == ["lamp", "rug", "storage box"]
    assert main(["learn"]) == 0 and capsys.readouterr().out.startswith("heads learned from 60 items")


def test_describe_prints_where_a_learned_value_came_from(taught, monkeypatch, capsys, draw):
    from vlm4rec_agent.cli import main

    engine, _, tmp_path = taught
    monkeypatch.setenv("VLM4REC_HOME", str(engine.settings.home))
    monkeypatch.setenv("VLM4REC_MODEL_CACHE", str(engine.settings.model_cache))
    photo = draw(tmp_path / "new" / "bar.jpg", (200, 60, 60), "bar")
    assert main(["describe", str(photo)]) == 0
    out = capsys.readouterr().out
    assert "category   rug" in out and "learned from 60 items of this catalog" in out


# --- training on its own -----------------------------------------------------------------
def clusters(n_per: int, values: list[str], spread: float, noise_seed: int = 0):
    """Labelled vectors around fixed centres (the same for every ``noise_seed``)."""
    centres = np.random.default_rng(0).normal(size=(len(values), 32))
    rng = np.random.default_rng(100 + noise_seed)
    vectors = np.vstack([c + spread * rng.normal(size=(n_per, 32)) for c in centres]).astype(np.float32)
    labels = [{"category": v} for v in values for _ in range(n_per)]
    return [f"i{noise_seed}-{n}" for n in range(len(labels))], vectors, labels


def test_calibrated_probabilities_say_how_often_a_head_is_right():
    """Overlapping classes: on fresh vectors the mean probability matches the share right, and the
    confident ones are right far more often than the rest."""
    ids, vectors, labels = clusters(150, ["a", "b", "c"], spread=3.0)
    heads = train_heads(ids, vectors, labels, "enc", 0.0)
    _, fresh, truth = clusters(300, ["a", "b", "c"], spread=3.0, noise_seed=1)
    found = heads.predict(fresh, [1.0] * len(fresh))
    p = np.array([f["category"].probability for f in found])
    right = np.array([f["category"].value == t["category"] for f, t in zip(found, truth)])
    assert 0.5 < right.mean() < 0.97  # the classes do overlap
    assert abs(right.mean() - p.mean()) < 0.08
    assert right[p >= 0.8].mean() > right[p < 0.6].mean() + 0.2


def test_a_value_below_the_confidence_is_left_out_and_rare_values_are_not_learned():
    ids, vectors, labels = clusters(60, ["a", "b"], spread=6.0)
    ids += ["rare1", "rare2"]
    vectors = np.vstack([vectors, vectors[:2]])
    labels += [{"category": "rare"}] * 2
    heads = train_heads(ids, vectors, labels, "enc", 0.95)
    assert heads.heads["category"].values == ["a", "b"]
    found = heads.predict(vectors, [1.0] * len(vectors))
    named = [f for f in found if "category" in f]
    assert 0 < len(named) < len(found)
    assert all(f["category"].probability >= 0.95 for f in named)


def test_too_few_labelled_items_learn_no_heads():
    ids, vectors, labels = clusters(10, ["a", "b"], spread=1.0)
    assert train_heads(ids, vectors, labels, "enc", 0.3) is None


def test_heads_survive_a_save_and_a_load(tmp_path):
    ids, vectors, labels = clusters(40, ["a", "b", "c"], spread=1.0)
    heads = train_heads(ids, vectors, labels, "enc", 0.3)
    heads.save(tmp_path / "h.npz")
    again = Heads.load(tmp_path / "h.npz")
    assert again.heads["category"].values == heads.heads["category"].values and again.novelty == heads.novelty
    assert [f["category"] for f in again.predict(vectors[:5], [1.0] * 5)] == [
        f["category"] for f in heads.predict(vectors[:5], [1.0] * 5)
    ]
    (tmp_path / "bad.npz").write_bytes(b"not a file of heads")
    assert Heads.load(tmp_path / "bad.npz") is None and Heads.load(tmp_path / "none.npz") is None


def test_items_teach_what_their_text_names_or_a_vlm_said_never_the_basic_grounders_guess():
    vocabulary = load_vocabulary()

    def item(text, grounder, category):
        record = GroundingRecord(attributes=Attributes(category=category, colors=["red"]), grounder=grounder,
                                 model_id="m", prompt_version="p")  # fmt: skip
        return StoredItem(id="x", image="x.jpg", title="", text=text, record=record)

    assert labels_of(item("A blue linen dress", "basic", "skirt"), vocabulary) == {
        "category": "dress", "colors": "blue", "materials": "linen"
    }  # fmt: skip
    assert labels_of(item("", "basic", "skirt"), vocabulary) == {}
    assert labels_of(item("", "openai", "skirt"), vocabulary) == {"category": "skirt", "colors": "red"}
