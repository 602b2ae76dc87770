"""The collaborative part at scale: co-occurrence build time and memory, and recommend latency.

    python bench/collaborative.py --items 100000 --shoppers 10000 --ratings 1000000

Three figures, each printed as a JSON line:

1. ``model``: the co-occurrence model built from the likes directly (time, peak memory of the
   process, the model's own bytes, pairs kept).
2. ``store``: the same likes written to the SQLite rating store, then the serving build
   (:class:`LiveModel`: read every like page by page, then build), as a running app does it.
3. ``recommend``: with ``--serve``, a 100k-item Chroma catalog made by ``bench/scale.py``'s
   builder, those ratings, and recommendations for 100 of the shoppers (the hybrid default and
   the content-only softmax in the same run, so the ratio holds on any machine). Asserts nothing.

Likes are synthetic with a long tail, as real ones are: an item's chance to be liked falls as
1/rank^0.8 (a Zipf law), a shopper's number of likes is log-normal around ``ratings/shoppers``,
and every shopper has a taste: half of their likes come from one of 500 clusters of items.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_likes(items: int, shoppers: int, ratings: int, seed: int = 7) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, items + 1) ** 0.8
    weights /= weights.sum()
    popular = rng.permutation(items)  # which item has which popularity rank
    sizes = np.maximum(1, rng.lognormal(np.log(ratings / shoppers) - 0.18, 0.6, shoppers)).astype(int)
    sizes = np.round(sizes * ratings / sizes.sum()).astype(int).clip(1, items // 2)
    clusters = np.array_split(rng.permutation(items), 500)
    own_sizes = [min(size // 2, len(clusters[0])) for size in sizes]
    rest = popular[rng.choice(items, size=int(sizes.sum() - sum(own_sizes)), p=weights)]  # one draw for all
    baskets, at = [], 0
    for size, own_size in zip(sizes, own_sizes):
        taste = clusters[rng.integers(len(clusters))]
        own = rng.choice(taste, size=min(own_size, len(taste)), replace=False)
        baskets.append(np.unique(np.concatenate([own, rest[at : at + size - own_size]])))
        at += size - own_size
    return baskets


def model_figures(items: int, baskets: list[np.ndarray]) -> dict:
    from vlm4rec_agent.collaborative import CoOccurrence

    before = _peak_mb()
    started = time.perf_counter()
    model = CoOccurrence.build(items, {"shoppers": baskets}, {"shoppers": "shopper"})
    seconds = time.perf_counter() - started
    profile = baskets[0][:20]
    scored = []
    for basket in baskets[:200]:
        t = time.perf_counter()
        model.score(basket[:20])
        scored.append((time.perf_counter() - t) * 1000)
    del profile
    return {"figure": "model", "items": items, "shoppers": len(baskets), "likes": int(sum(map(len, baskets))),
            "build_s": round(seconds, 2), "peak_rss_mb": round(_peak_mb(), 1), "rss_before_mb": round(before, 1),
            "model_mb": round(model.nbytes / 2**20, 1), "pairs": model.pairs,
            "score_p50_ms": round(float(np.percentile(scored, 50)), 3)}  # fmt: skip


def write_ratings(home: Path, collection: str, baskets: list[np.ndarray]):
    import sqlalchemy as sa

    from vlm4rec_agent.store.sql_ratings import SqlRatingStore, ratings_table

    store = SqlRatingStore.open(f"sqlite:///{home / 'ratings.sqlite'}", collection)
    started = time.perf_counter()
    now = time.time()
    rows = [
        {"collection": collection, "user_id": f"shopper{u}", "item_id": f"i{i}", "value": 1, "rated_at": now + j}
        for u, basket in enumerate(baskets)
        for j, i in enumerate(basket.tolist())
    ]
    with store.transaction(write=True) as connection:
        for start in range(0, len(rows), 50_000):
            connection.execute(sa.insert(ratings_table), rows[start : start + 50_000])
    return store, time.perf_counter() - started


def store_figures(home: Path, baskets: list[np.ndarray]) -> dict:
    from vlm4rec_agent.collaborative.live_model import LiveModel

    store, write_s = write_ratings(home, "scale", baskets)
    live = LiveModel(store, None, lambda ids: {})
    started = time.perf_counter()
    snapshot = live.current()
    build_s = time.perf_counter() - started
    store.close()
    return {"figure": "store", "write_ratings_s": round(write_s, 1), "serving_build_s": round(build_s, 2),
            "pairs": snapshot.model.pairs, "peak_rss_mb": round(_peak_mb(), 1)}  # fmt: skip


def recommend_figures(home: Path, items: int, shoppers: int) -> dict:
    from scale import _GivenVectors, build

    from vlm4rec_agent.engine import Engine
    from vlm4rec_agent.settings import Settings

    build(items, home, 10)
    figures = {"figure": "recommend", "items": items}
    for scorer in ("softmax", "hybrid"):
        given = _GivenVectors(np.zeros((1, 384), np.float32))  # recommend encodes nothing; the catalog's encoder name
        with Engine(Settings(home=home, collection="scale", scorer=scorer), encoder=given) as engine:
            retriever = engine.retriever
            if scorer == "hybrid":
                started = time.perf_counter()
                engine.collaborative.current()
                figures["model_build_s"] = round(time.perf_counter() - started, 2)
            users = [f"shopper{u}" for u in range(0, shoppers, max(1, shoppers // 100))][:100]
            retriever.recommend(users[0], k=10)
            for label in ("first", "again"):  # first: the profile's vectors are read; again: memoised
                ms = []
                for user in users:
                    t = time.perf_counter()
                    retriever.recommend(user, k=10)
                    ms.append((time.perf_counter() - t) * 1000)
                figures[f"{scorer}_{label}_p50_ms"] = round(float(np.percentile(ms, 50)), 2)
                figures[f"{scorer}_{label}_p99_ms"] = round(float(np.percentile(ms, 99)), 2)
    figures["peak_rss_mb"] = round(_peak_mb(), 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--shoppers", type=int, default=10_000)
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--serve", action="store_true", help="also build a Chroma catalog and time recommend")
    args = parser.parse_args()
    baskets = synthetic_likes(args.items, args.shoppers, args.ratings)
    print(json.dumps(model_figures(args.items, baskets)), flush=True)
    with tempfile.TemporaryDirectory(prefix="vlm4rec-collab-") as folder:
        home = Path(folder)
        print(json.dumps(store_figures(home, baskets)), flush=True)
        if args.serve:
            print(json.dumps(recommend_figures(home, args.items, args.shoppers)), flush=True)


if __name__ == "__main__":
    main()
