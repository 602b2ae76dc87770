"""`vlm4rec eval --task grounding` and `--task photos` on photos made in the test (real models)."""

from __future__ import annotations

import csv
import json
import random

import pytest

from vlm4rec_agent.cli import main
from vlm4rec_agent.evaluation.grounding_eval import LabelledPhoto, judge, read_labels
from vlm4rec_agent.grounding.schema import Attributes

from ..grounding.test_learned_heads import SHAPES, WORDS


@pytest.fixture
def labelled(tmp_path, draw):
    """60 shape photos labelled with their product type (as a shop's own sample would be)."""
    rng = random.Random(3)
    path = tmp_path / "labels.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "image", "label"])
        for shape, title in SHAPES.items():
            for n in range(20):
                colour = tuple(rng.randrange(30, 220) for _ in range(3))
                draw(tmp_path / "images" / f"{shape}{n}.jpg", colour, shape, size=rng.choice([150, 170, 190]))
                writer.writerow([f"{shape}{n}", f"images/{shape}{n}.jpg", title])
    return path


def test_the_grounding_eval_compares_the_basic_grounder_with_heads_learned_from_other_photos(
    labelled, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("VLM4REC_HOME", str(tmp_path / "home"))
    code = main(["eval", "--task", "grounding", "--labels", str(labelled), "--json",
                 "--out", str(tmp_path / "out"), "--name", "shapes"])  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["method"] for r in data["runs"]] == ["basic", "basic + learned heads"]
    basic, learned = (r["per_field"]["category"] for r in data["runs"])
    assert learned["labelled"] == basic["labelled"] == 60
    assert learned["accuracy"] >= 0.9 > basic["accuracy"] + 0.3  # cross-fitted: no photo judged by heads that saw it
    assert data["heads"]["teachers"] < 60
    table = (tmp_path / "out" / "shapes.md").read_text("utf-8")
    assert "| category | basic + learned heads |" in table and (tmp_path / "out" / "shapes.json").is_file()


def test_accuracy_counts_a_photo_named_nothing_as_wrong_and_judges_the_first_value():
    photos = [LabelledPhoto(str(n), None, {"category": {"dress"}, "colors": {"red"}}) for n in range(4)]
    found = [
        Attributes(category="dress", colors=["red", "blue"]),
        Attributes(category="dress", colors=["blue", "red"]),
        Attributes(category="skirt"),
        None,
    ]
    run = judge("m", photos, found, 1.0)
    assert run.per_field["category"] | {"accuracy_ci95": None} == {
        "labelled": 4, "accuracy": 0.5, "accuracy_ci95": None, "coverage": 0.75, "precision": round(2 / 3, 3)
    }  # fmt: skip
    assert (run.per_field["colors"]["accuracy"], run.per_field["colors"]["coverage"]) == (0.25, 0.5)


def test_a_labels_file_without_an_image_or_label_column_is_refused_clearly(tmp_path):
    from vlm4rec_agent.errors import InvalidInputError

    (tmp_path / "bad.csv").write_text("id,name\n1,shirt\n", "utf-8")
    with pytest.raises(InvalidInputError, match="needs an image column and at least one label column"):
        read_labels(tmp_path / "bad.csv")


def test_labels_are_read_with_the_vocabulary(labelled):
    photos = read_labels(labelled)
    assert {next(iter(p.truth["category"])) for p in photos} == set(WORDS.values())


def test_the_photos_eval_finds_each_items_own_photo_first(small_catalog, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VLM4REC_HOME", str(tmp_path / "home"))
    assert main(["eval", "--task", "photos", "--items", str(small_catalog), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["self"]["photo"]["first_or_same_photo"]["mean"] == 1.0
    assert data["self"]["photo"]["first"]["mean"] == 1.0 > data["self"]["words"]["first"]["mean"]
    assert data["shop_the_look"] == {}
