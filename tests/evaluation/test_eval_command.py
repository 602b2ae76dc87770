"""``vlm4rec eval`` end to end on a small generated catalog, with the real encoder and grounder."""

import json

import pytest
from PIL import Image

from vlm4rec_agent.cli import main

GROUPS = [
    {"id": "wardrobe", "items": ["red-dress", "red-skirt", "blue-dress", "navy-blazer", "black-boots"]},
    {"id": "dining", "items": ["oak-table", "oak-chair", "grey-sofa", "white-lamp", "green-vase"],
     "scenes": ["scenes/dining.jpg"]},
    {"id": "tiny", "items": ["oak-table", "unknown-item"]},
]  # fmt: skip


@pytest.fixture
def eval_args(small_catalog, settings, draw, monkeypatch):
    monkeypatch.setenv("VLM4REC_HOME", str(settings.home))
    monkeypatch.setenv("VLM4REC_MODEL_CACHE", str(settings.model_cache))
    groups = small_catalog.parent / "groups.jsonl"
    groups.write_text("\n".join(json.dumps(g) for g in GROUPS) + "\n")
    draw(small_catalog.parent / "scenes" / "dining.jpg", (150, 110, 70))
    return ["eval", "--items", str(small_catalog), "--groups", str(groups)]


def test_eval_prints_metrics_with_intervals_as_json(eval_args, capsys):
    assert main([*eval_args, "--representation", "text", "--scorer", "mean", "--k", "3", "--json", "--seeds", "3"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_users"] == 2  # "tiny" has fewer than 4 known items
    assert result["seeds"] == 3 and result["representation"] == "text" and result["scorer"] == "mean"
    for name in ("recall@10", "ndcg@10", "hit@10", "recall@3", "recall@20"):
        low, high = result[f"{name}_ci95"]
        assert 0 <= low <= result[name] <= high <= 1
    # Ten items, one held out of five, nine candidates: the top 10 must hold it.
    assert result["recall@10"] == 1.0 and result["hit@10"] == 1.0


def test_eval_table_and_bad_arguments(eval_args, capsys):
    assert main([*eval_args, "--representation", "grounded", "--seeds", "1"]) == 0
    text = capsys.readouterr().out
    # hybrid: VLM4REC_SCORER's default
    assert "holdout: grounded / hybrid, 2 users, 1 seed(s)" in text and "ndcg@10" in text
    assert main([*eval_args, "--representation", "pixels"]) == 2
    assert "unknown representation 'pixels'" in capsys.readouterr().err
    assert main([*eval_args, "--scorer", "softmax:warm"]) == 2
    assert "not a number" in capsys.readouterr().err


def test_train_groups_teach_the_collaborative_part_alone(eval_args, tmp_path, capsys):
    others = tmp_path / "others.jsonl"
    others.write_text(
        "\n".join(
            json.dumps({"id": f"other-{n}", "items": ["red-dress", "black-boots", "oak-table"]}) for n in range(3)
        )
    )
    assert main([*eval_args, "--representation", "text", "--scorer", "hybrid", "--train-groups", str(others),
                 "--seeds", "2", "--json"]) == 0  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert result["scorer"] == "hybrid" and result["training"] == "collaborative part learned from 3 training groups"
    assert {"recall@10", "similarity@10"} <= set(result)
    assert "same_type@10" not in result  # this catalog gives no product types
    assert main([*eval_args, "--representation", "text", "--scorer", "hybrid", "--folds", "1"]) == 2
    assert "--folds must be at least 2" in capsys.readouterr().err


def test_compare_writes_a_table_a_chart_and_json(eval_args, tmp_path, capsys):
    out = tmp_path / "docs"
    code = main(
        [*eval_args, "--compare", "--representations", "text,visual,fusion", "--scorers", "mean,softmax,max",
         "--seeds", "2", "--out", str(out), "--name", "small"]
    )  # fmt: skip
    assert code == 0
    table = (out / "small.md").read_text()
    assert "### holdout (2 users, 2 seeds)" in table and "### shop-the-look (1 queries" in table
    assert table.count("| visual |") == 4  # three scorers, and the photo query
    rows = json.loads((out / "small.json").read_text())
    assert {(r["task"], r["representation"], r["scorer"]) for r in rows} >= {
        ("holdout", "fusion", "softmax"),
        ("shop-the-look", "text", "query"),
    }
    assert "recall@10_vs_mean" in next(r for r in rows if r["scorer"] == "max")
    with Image.open(out / "small.png") as chart:
        assert chart.format == "PNG" and chart.size[0] > 800
    assert f"wrote {out / 'small.png'}" in capsys.readouterr().out


def test_vectors_are_cached_between_runs(eval_args, settings, capsys):
    assert main([*eval_args, "--representation", "visual", "--json", "--seeds", "1"]) == 0
    cached = list((settings.home / "cache" / "eval").glob("*.npy"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    assert main([*eval_args, "--representation", "visual", "--json", "--seeds", "1"]) == 0
    assert cached[0].stat().st_mtime_ns == stamp  # read back, not rebuilt


def test_interactions_with_timestamps_are_evaluated_leave_last_out(eval_args, small_catalog, capsys):
    ratings = small_catalog.parent / "ratings.csv"
    rows = ["user,item,timestamp,rating"]
    for t, item in enumerate(["red-dress", "red-skirt", "blue-dress", "navy-blazer", "grey-sofa"]):
        rows.append(f"ann,{item},{1000 + t},5")
    rows.append("ann,oak-chair,999,1")  # a low rating is not a like
    ratings.write_text("\n".join(rows) + "\n")
    args = ["eval", "--items", str(small_catalog), "--interactions", str(ratings), "--min-rating", "4"]
    assert main([*args, "--representation", "text", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["task"] == "leave-last-out" and result["n_users"] == 1 and result["seeds"] == 1
    assert 0 <= result["recall@5"] <= 1

    from vlm4rec_agent.evaluation.runner import Evaluation

    session = Evaluation.open(small_catalog, encoder=None, interactions=ratings, min_rating=4)
    (split,) = session.split_sets()[0]
    items = [item.id for item in session.representations.items]
    assert [items[i] for i in split.held_out] == ["grey-sofa"]  # the latest like
    assert sorted(items[i] for i in split.profile) == ["blue-dress", "navy-blazer", "red-dress", "red-skirt"]
