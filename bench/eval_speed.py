"""Evaluation speed: batched scoring against the per-user loop over the whole catalog.

    python bench/eval_speed.py [--data ../shared/data]

The reference style ranks one user at a time: a vector of scores over the catalog, a full
sort, the metrics. Ours scores a batch of users with one matrix product and keeps only the top
K (``vlm4rec_agent.evaluation.protocol``). Both run here on the same splits: the IKEA rooms
(real MiniLM vectors, when ../shared/data is there) and a synthetic catalog of 50,000 items and
5,000 users. Prints seconds and the ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from vlm4rec_agent.evaluation.data import User
from vlm4rec_agent.evaluation.metrics import all_metrics
from vlm4rec_agent.evaluation.protocol import evaluate_holdout
from vlm4rec_agent.evaluation.splits import random_holdout
from vlm4rec_agent.scoring import parse_scorer


def reference(vectors: np.ndarray, split_sets, scorer) -> float:
    """Per user: score the whole catalog, sort all of it, compute the metrics."""
    none = np.zeros((0, vectors.shape[1]), np.float32)
    values = []
    for splits in split_sets:
        for split in splits:
            scores = scorer.score(vectors[split.profile], none, vectors)
            scores[split.profile] = -np.inf
            ranked = np.argsort(-scores)
            values.append(all_metrics(ranked.tolist(), set(split.held_out.tolist()))["recall@10"])
    return float(np.mean(values))


def compare(label: str, vectors: np.ndarray, users: list[User], seeds: int) -> None:
    split_sets = [random_holdout(users, seed) for seed in range(seeds)]
    for spec in ("mean", "softmax:0.2"):
        scorer = parse_scorer(spec)
        start = time.perf_counter()
        slow = reference(vectors, split_sets, scorer)
        loop_s = time.perf_counter() - start
        start = time.perf_counter()
        fast = float(evaluate_holdout(vectors, split_sets, scorer)["recall@10"].mean())
        ours_s = time.perf_counter() - start
        print(
            f"{label:<34} {spec:<12} reference {loop_s:7.2f} s   batched {ours_s:6.2f} s   "
            f"ratio {loop_s / ours_s:5.1f}x   recall@10 {slow:.4f} / {fast:.4f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    items = args.data / "ikea" / "items.jsonl"
    if items.is_file():
        from vlm4rec_agent.engine import Engine
        from vlm4rec_agent.evaluation.runner import Evaluation
        from vlm4rec_agent.settings import Settings

        settings = Settings()
        session = Evaluation.open(
            items, Engine(settings).encoder, groups=args.data / "ikea" / "rooms.jsonl",
            cache_folder=settings.home / "cache" / "eval",
        )  # fmt: skip
        compare("IKEA rooms (2,187 items, 212 users)", session.representations.vectors("text"), session.users, 5)
    else:
        print(f"IKEA data not found at {items}: synthetic data only")
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((500, 384)).astype(np.float32)
    labels = rng.integers(0, 500, 50_000)
    vectors = centres[labels] + rng.standard_normal((50_000, 384), dtype=np.float32) * 0.05
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    users = [User(f"u{n}", tuple(rng.choice(50_000, 10, replace=False).tolist())) for n in range(5_000)]
    compare("synthetic (50,000 items, 5,000 users)", vectors, users, 1)


if __name__ == "__main__":
    main()
