"""What image vectors cost: at ingest, per item; and a photo query on a 10k catalog, grounding included.

    python bench/photos.py --items ../shared/data/ikea/items.jsonl

1. Ingest ``--ingest N`` items of the catalog twice into fresh stores, with the basic grounder:
   once with ``VLM4REC_IMAGE_ENCODER=none`` and once with image vectors; the difference per item is
   what image vectors add (the basic grounder's classifier and the image encoder share one
   forward pass). The image encoder alone, as it runs beside a VLM grounder, is timed too.
2. Fill a catalog to ``--catalog`` items (the real items, then copies of them with their text and
   image vectors jittered, written straight to the stores) and time ``Engine.match_photo`` on
   photos of the catalog: p50 and p99, cold (the first query) apart.

Run it on a quiet machine (no tests, no other benchmarks).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def ingest_cost(items_path: str, n: int, home: Path) -> None:
    from vlm4rec_agent.catalogs import read_catalog
    from vlm4rec_agent.engine import Engine
    from vlm4rec_agent.settings import Settings

    items = read_catalog(items_path).items[:n]
    seconds = {}
    encoder = None
    for label, image_encoder in (("without image vectors", "none"), ("with image vectors", "efficientnet-lite0")):
        engine = Engine(Settings(home=home / label.replace(" ", "-"), image_encoder=image_encoder, learn_heads=False))
        if encoder is None:
            encoder = engine.encoder
        engine._encoder._value = encoder  # one text encoder loaded for both runs
        engine.encoder.encode(["warm up"])
        engine.ingest_items(items[:8], source="warm-up")
        report = engine.ingest_items(items[8:], source="bench")
        seconds[label] = report.seconds["total"] / max(report.stored, 1)
        print(f"  ingest {label}: {1000 * seconds[label]:.1f} ms per item ({report.stored} items; {report.seconds})")
        engine.close()
    added = 1000 * (seconds["with image vectors"] - seconds["without image vectors"])
    print(f"  image vectors add {added:.1f} ms per item to an ingest with the basic grounder (target: at most 40)")
    from vlm4rec_agent.image_encoding import EfficientNetImageEncoder

    photos = [Image.open(item.image).convert("RGB") for item in items[:64]]
    encoder_alone = EfficientNetImageEncoder()
    encoder_alone.encode(photos[:4])
    start = time.perf_counter()
    encoder_alone.encode([p.copy() for p in photos])
    print(
        f"  the image encoder alone (beside a VLM grounder): {1000 * (time.perf_counter() - start) / len(photos):.1f} ms per photo"
    )


def query_cost(items_path: str, size: int, queries: int, home: Path) -> None:
    from vlm4rec_agent.engine import Engine
    from vlm4rec_agent.items import StoredItem
    from vlm4rec_agent.settings import Settings

    engine = Engine(Settings(home=home / "catalog"))
    report = engine.ingest(items_path)
    print(f"  real items: {report.summary()}")
    catalog = engine.catalog
    rows = catalog.dense.items(0, catalog.count())
    ids = [item.id for item, _ in rows]
    text = catalog.vectors(ids)
    visual = catalog.visual.vectors(ids)
    rng = np.random.default_rng(0)
    copies, made = [], len(ids)
    while made < size:
        batch = []
        for item, _ in rows[: min(len(rows), size - made)]:
            batch.append((StoredItem(**(item.model_dump() | {"id": f"{item.id}-copy{made}"})), item.id))
            made += 1
        copies.append(batch)
    for batch in copies:
        t = np.stack([text[i].astype(np.float32) for _, i in batch]) + rng.normal(0, 0.02, (len(batch), catalog.dim))
        v = np.stack([visual[i] for _, i in batch]) + rng.normal(0, 0.01, (len(batch), catalog.visual.dim))
        t /= np.linalg.norm(t, axis=1, keepdims=True)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        catalog.upsert(
            [s for s, _ in batch],
            t.astype(np.float32),
            [""] * len(batch),
            source="bench-copies",
            visual=v.astype(np.float32),
        )
    print(f"  catalog now holds {catalog.count()} items, {catalog.visual.count()} image vectors")
    photos = [Path(item.image) for item, _ in rows[: queries + 1]]
    start = time.perf_counter()
    engine.match_photo(photos[0], k=10)
    cold = time.perf_counter() - start
    times = []
    for photo in photos[1:]:
        start = time.perf_counter()
        engine.match_photo(photo, k=10)
        times.append(time.perf_counter() - start)
    times.sort()
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
    print(f"  photo query (grounding, image vector, both searches, explanations), {len(times)} photos: "
          f"p50 {1000 * statistics.median(times):.1f} ms, p99 {1000 * p99:.1f} ms; first {1000 * cold:.0f} ms (target p50 < 100)")  # fmt: skip
    scene_times = []
    for photo in photos[1:11]:
        start = time.perf_counter()
        engine.match_photo(photo, k=10, scene=True)
        scene_times.append(time.perf_counter() - start)
    print(f"  as a scene (six views): p50 {1000 * statistics.median(scene_times):.1f} ms")
    engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", required=True)
    parser.add_argument("--ingest", type=int, default=200, help="items ingested to time image vectors (default 200)")
    parser.add_argument("--catalog", type=int, default=10_000, help="catalog size for photo queries (default 10,000)")
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print("ingest")
        ingest_cost(args.items, args.ingest, Path(folder))
        print("photo queries")
        query_cost(args.items, args.catalog, args.queries, Path(folder))


if __name__ == "__main__":
    main()
