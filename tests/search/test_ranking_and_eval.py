"""The pure ranking functions, and `vlm4rec eval --task search` end to end on a small catalog."""

from __future__ import annotations

import json

import numpy as np

from vlm4rec_agent.cli import main
from vlm4rec_agent.search.ranking import intra_list_similarity, mmr, ranks, reciprocal_rank_fusion, weighted_fusion

from .conftest import write_search_catalog


def _unit(rows):
    m = np.asarray(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_rrf_counts_ranks_not_scores():
    dense = ranks(np.array([0.9, 0.8, 0.1]), np.array([True, True, True]))
    lexical = ranks(np.array([0.0, 50.0, 10.0]), np.array([False, True, True]))
    assert list(dense) == [1, 2, 3] and lexical[0] == np.inf and list(lexical[1:]) == [1, 2]
    fused = reciprocal_rank_fusion([dense, lexical])
    assert np.argmax(fused) == 1  # second by meaning, first by words: first overall
    assert np.isclose(fused[0], 1 / 61)


def test_weighted_fusion_scales_bm25_to_its_maximum():
    fused = weighted_fusion(np.array([0.5, 0.7]), np.array([12.0, 0.0]), 0.5)
    assert np.allclose(fused, [0.75, 0.35])
    assert np.allclose(weighted_fusion(np.array([0.5]), np.array([0.0]), 0.5), [0.25])  # no BM25 at all


def test_mmr_puts_near_duplicates_after_every_other_item():
    vectors = _unit([[1, 0, 0], [1, 0, 0], [1, 0.001, 0], [0.8, 0.6, 0]])
    relevance = np.array([0.9, 0.9, 0.9, 0.6])
    assert mmr(relevance, vectors, 4, 0.85)[:2] == [0, 3]  # the distinct item before two copies
    assert mmr(relevance, vectors, 4, 1.0) == [0, 1, 2, 3]  # 1: by relevance alone
    varied = vectors[mmr(relevance, vectors, 2, 0.85)]
    assert intra_list_similarity(varied) < intra_list_similarity(vectors[:2])


def test_the_eval_command_prints_and_writes_the_table(tmp_path, monkeypatch, model_cache, encoder, capsys):
    catalog = write_search_catalog(tmp_path / "catalog")
    queries = tmp_path / "queries.jsonl"
    rows = [
        {"id": "q1", "query": "summer dresses", "kind": "type", "relevant": {"type": "^Dress$"}},
        {"id": "q2", "query": "kallax", "kind": "series", "relevant": {"title": "^KALLAX"}},
        {"id": "q3", "query": "asdfgh qwerty", "kind": "gibberish", "relevant": None},
    ]
    queries.write_text("\n".join(json.dumps(r) for r in rows) + "\n", "utf-8")
    monkeypatch.setenv("VLM4REC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VLM4REC_MODEL_CACHE", str(model_cache))
    code = main(["eval", "--task", "search", "--items", str(catalog), "--queries", str(queries),
                 "--out", str(tmp_path / "out"), "--name", "small", "--json"])  # fmt: skip
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    after, before = data["modes"]["hybrid + structured"], data["modes"]["dense only (before)"]
    assert after["type"]["precision@6"][0] == 1.0  # two dresses of two
    assert after["series"]["precision@6"][0] == 1.0
    assert after["gibberish"]["no_results"][0] == 1.0 and before["gibberish"]["no_results"][0] == 0.0
    table = (tmp_path / "out" / "small.md").read_text("utf-8")
    assert table.startswith("### queries: 3 queries, part all, 19 items") and "| hybrid + structured |" in table
