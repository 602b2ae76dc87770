"""Why the soft-maximum profile beats the mean profile on the IKEA rooms (docs/evaluation.md).

Counts, over the same hold-out splits as ``vlm4rec eval``, how many of each scorer's top 10
belong to an IKEA series (MALM, HEMNES...) or a product type already in the room's profile,
and how many of its hits do. Reads ../shared/data; prints a small table.

    python bench/why_softmax.py [--data ../shared/data] [--representation text]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from vlm4rec_agent.engine import Engine
from vlm4rec_agent.evaluation.protocol import rank_users
from vlm4rec_agent.evaluation.runner import Evaluation
from vlm4rec_agent.scoring import parse_scorer
from vlm4rec_agent.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--representation", default="text")
    parser.add_argument("--scorers", default="mean,softmax:0.2")
    args = parser.parse_args()
    items = args.data / "ikea" / "items.jsonl"
    if not items.is_file():
        raise SystemExit(f"IKEA data not found at {items} (give --data)")
    settings = Settings()
    session = Evaluation.open(
        items, Engine(settings).encoder, groups=args.data / "ikea" / "rooms.jsonl",
        cache_folder=settings.home / "cache" / "eval",
    )  # fmt: skip
    raw = {row["id"]: row for row in map(json.loads, items.open(encoding="utf-8"))}
    ids = [item.id for item in session.representations.items]
    series = np.array([raw[i]["name"] for i in ids])
    kind = np.array([raw[i]["type"] for i in ids])
    vectors = session.representations.vectors(args.representation)
    held_with_series = [
        series[h] in set(series[s.profile]) for ss in session.split_sets() for s in ss for h in s.held_out
    ]
    print(f"held-out items whose series is already in the profile: {np.mean(held_with_series):.1%}")
    print("scorer           top-10 same series  top-10 same type  hits  hits of a profile series")
    for spec in args.scorers.split(","):
        scorer = parse_scorer(spec)
        same_series = same_kind = shown = hits = hits_series = 0
        for splits in session.split_sets():
            for split, top in zip(splits, rank_users(vectors, splits, scorer, 10)):
                in_series, in_kind = set(series[split.profile]), set(kind[split.profile])
                same_series += sum(series[t] in in_series for t in top)
                same_kind += sum(kind[t] in in_kind for t in top)
                shown += len(top)
                found = [h for h in split.held_out if h in set(top.tolist())]
                hits += len(found)
                hits_series += sum(series[h] in in_series for h in found)
        print(
            f"{spec:<16} {same_series / shown:>18.1%} {same_kind / shown:>17.1%} {hits:>5}"
            f" {hits_series / max(hits, 1):>25.1%}"
        )


if __name__ == "__main__":
    main()
