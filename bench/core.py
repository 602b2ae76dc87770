"""Ingest throughput by stage, and search / recommend latency, on real catalog items.

    python bench/core.py --items ../shared/data/ikea/items.jsonl --limit 300

Prints figures; asserts nothing. Models are loaded before the clock starts (their load time is
printed apart), so throughput is what a running app or a second CLI ingest sees. The cold
numbers run the installed `vlm4rec` command, as a user at a terminal does.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUERIES = [
    "white minimalist bedside lamp", "oak dining table", "soft grey sofa for the living room", "black frame",
    "colourful rug for a child's room", "glass vase", "storage boxes with lids", "stainless steel kitchen trolley",
    "cosy throw blanket", "wall shelf for the bathroom",
]  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn, repeat: int) -> list[float]:
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=Path, default=Path("../shared/data/ikea/items.jsonl"))
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    if not args.items.exists():
        sys.exit(f"catalog not found: {args.items} (give --items)")

    from vlm4rec_agent.engine import Engine
    from vlm4rec_agent.grounding.cache import CachedGrounder, GroundingCache
    from vlm4rec_agent.grounding.efficientnet_lite import load_pretrained
    from vlm4rec_agent.settings import Settings

    home = Path(tempfile.mkdtemp(prefix="vlm4rec-bench-"))
    models = Path(os.environ.get("VLM4REC_MODEL_CACHE", home / "models"))
    settings = Settings(home=home, model_cache=models)
    start = time.perf_counter()
    # The basic grounder behind the grounding cache (as VLMs are), so that a second ingest into
    # another collection measures the pipeline without grounding.
    grounder = CachedGrounder(Engine(settings).grounder, GroundingCache(home / "cache" / "grounding.sqlite"))
    engine = Engine(settings, grounder=grounder)
    encoder = engine.encoder
    load_pretrained()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"model load (encoder {type(encoder).__name__} + grounder): {time.perf_counter() - start:.1f} s")

    report = engine.ingest(args.items, limit=args.limit)
    n = report.stored
    print(f"\ningest of {n} items from {args.items} with the {grounder.name} grounder:")
    for stage, seconds in report.seconds.items():
        rate = f"{n / seconds:8.1f} items/s" if seconds > 0 and stage != "hash" else ""
        print(f"  {stage:<13} {seconds:7.2f} s  {1000 * seconds / max(n, 1):7.1f} ms/item  {rate}")
    print(f"  throughput    {report.items_per_second:.1f} items/s end to end")
    again = engine.ingest(args.items, limit=args.limit)
    print(f"  re-ingest: {again.unchanged} unchanged in {again.seconds['total']:.2f} s")

    copy = Engine(settings.model_copy(update={"collection": "copy"}), encoder=encoder, grounder=grounder)
    without = copy.ingest(args.items, limit=args.limit)
    from vlm4rec_agent.embedding_text import build_embedding_text

    texts = [
        build_embedding_text(n.item.attributes, n.item.text)
        for n in engine.catalog.get(engine.catalog.sample_ids(limit=n)).values()
    ]
    start = time.perf_counter()
    for i in range(0, len(texts), 64):
        encoder.encode(texts[i : i + 64])
    raw = len(texts) / (time.perf_counter() - start)
    pipeline = without.stored / without.seconds["total"]
    print(f"\npipeline without grounding (every answer cached, into a new collection): {pipeline:.1f} items/s")
    print(f"  stages: {without.seconds}")
    print(f"  the encoder alone on the same {len(texts)} texts, batches of 64: {raw:.1f} texts/s")
    print(f"  ratio: {pipeline / raw:.0%} of the encoder's raw throughput")

    ids = [r.item.id for r in engine.search("bed", k=5)]
    for item_id in ids:
        engine.like("bench", item_id)
    search = timed(lambda i: engine.search(QUERIES[i % len(QUERIES)], k=10), args.repeat)
    personal = timed(lambda i: engine.search(QUERIES[i % len(QUERIES)], k=10, user="bench"), args.repeat)
    recommend = timed(lambda i: engine.recommend("bench", k=10), args.repeat)
    encode = timed(lambda i: encoder.encode([QUERIES[i % len(QUERIES)]]), args.repeat)
    print(f"\nwarm latency over {args.repeat} calls (ms, in process, {n} items, k=10):")
    for name, values in (
        ("encode query", encode),
        ("search", search),
        ("search + profile", personal),
        ("recommend (5 likes)", recommend),
    ):
        print(f"  {name:<20} p50 {statistics.median(values):6.1f}   p95 {percentile(values, 0.95):6.1f}")

    env = {**os.environ, "VLM4REC_HOME": str(home), "VLM4REC_MODEL_CACHE": str(models)}
    command = [str(Path(sys.executable).with_name("vlm4rec"))]
    print("\ncold latency of the installed command (s, 3 runs each: new process, imports, store open):")
    for args_ in (["search", QUERIES[0]], ["recommend", "--user", "bench"], ["stats"]):
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(command + args_, env=env, capture_output=True, check=True)
            runs.append(time.perf_counter() - start)
        print(f"  vlm4rec {args_[0]:<10} {statistics.median(runs):5.2f} s (min {min(runs):.2f})")


if __name__ == "__main__":
    main()
