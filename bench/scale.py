"""Search and recommend latency, ANN recall and memory/disk as the catalog grows to 1M items.

    python bench/scale.py --sizes 10000,100000,1000000 --queries 200

Each size runs in two fresh processes (so peak memory is per size): one generates the items
and stores them with the product's own catalog index (Chroma, HNSW, cosine), one opens the store
and answers queries the way the app does. Prints a table; asserts nothing.

The vectors are synthetic and clustered, like text embeddings of a catalog: n/200 cluster
centres drawn uniformly on the 384-d sphere; each item is its centre plus Gaussian noise of the
same norm scale (cosine to its centre about 0.78), normalised. Each item gets a grounded category
tied to its cluster (40 of the vocabulary's categories), a product type ("Wall lamp"), a series
name shared by about 50 items ("KOLVA · Wall lamp"), one of 8 colours, and a realistic grounding
record, so metadata and the word index weigh what a real item's do. Queries are fresh draws from
the same clusters, each with words as shoppers write them (a type, a series and a type, a colour
and a type): search runs hybrid, the word index included. Query encoding is excluded (vectors are
given) and measured apart with the real encoder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DIM = 384
CATEGORIES = 40
COLOURS = ["black", "white", "grey", "red", "blue", "green", "beige", "brown"]
KIND_WORDS = ["", "wall ", "large ", "small ", "kids' "]
SERIES_SIZE = 50


def _category(label: int) -> str:
    from vlm4rec_agent.grounding.vocabulary import load_vocabulary

    return list(load_vocabulary().categories)[label % CATEGORIES]


def _series(number: int) -> str:
    """A made-up series name, pronounceable and unique per number ("KOLVA")."""
    consonants, vowels = "bdfgklmnprstv", "aeiou"
    name, x = "", number + 1
    while x:
        x, c = divmod(x, len(consonants))
        x, v = divmod(x, len(vowels))
        name += consonants[c] + vowels[v]
    return name.upper()


def query_text(i: int, label: int, rng: np.random.Generator, n: int) -> str:
    """Query i's words (its vector is given): a type, a series and a type, or a colour and a type."""
    kind = f"{KIND_WORDS[i % len(KIND_WORDS)]}{_category(label)}"
    shape = i % 3
    if shape == 0:
        return f"q{i} {kind}"
    if shape == 1:
        return f"q{i} {_series(int(rng.integers(0, max(1, n // SERIES_SIZE))))} {kind}"
    return f"q{i} {COLOURS[i % len(COLOURS)]} {kind}"


def clustered(n: int, rng: np.random.Generator, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, len(centres), n)
    noise = rng.standard_normal((n, DIM), dtype=np.float32) * np.float32(0.8 / np.sqrt(DIM))
    x = centres[labels] + noise
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), labels


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _settings(home: Path):
    from vlm4rec_agent.settings import Settings

    return Settings(home=home, collection="scale")


def build(n: int, home: Path, queries: int, lean: bool = False) -> dict:
    from vlm4rec_agent.grounding.schema import Attributes, GroundingRecord
    from vlm4rec_agent.items import StoredItem
    from vlm4rec_agent.store import ChromaCatalogIndex
    from vlm4rec_agent.store.client import open_client

    rng = np.random.default_rng(n)
    centres = rng.standard_normal((max(20, n // 200), DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    store = ChromaCatalogIndex.open(open_client(_settings(home)), "scale", "synthetic", dim=DIM)
    vectors, labels = [], []
    started, chunk = time.perf_counter(), 5000
    for start in range(0, n, chunk):
        x, lab = clustered(min(chunk, n - start), rng, centres)
        if lean:  # vectors and the filterable fields only: Chroma's own insert speed
            colours = rng.integers(0, len(COLOURS), len(lab))
            for at in range(0, len(lab), store.max_batch):
                part = slice(at, at + store.max_batch)
                store._collection.add(
                    ids=[f"i{start + at + j}" for j in range(len(lab[part]))],
                    embeddings=x[part],
                    metadatas=[{"category": _category(a), "colors": [COLOURS[c]]}
                               for a, c in zip(lab[part], colours[part])],
                )  # fmt: skip
            vectors.append(x)
            labels.append(lab)
            continue
        items = []
        for j, (label, colour) in enumerate(zip(lab, rng.integers(0, len(COLOURS), len(lab)))):
            category = _category(label)
            kind = f"{KIND_WORDS[(start + j) % len(KIND_WORDS)]}{category}".capitalize()
            series = _series(int(rng.integers(0, max(1, n // SERIES_SIZE))))
            attributes = Attributes(
                category=category, colors=[COLOURS[colour]], materials=["wood"], style=["modern"],
                description=f"A modern {COLOURS[colour]} {category} in wood.",
            )  # fmt: skip
            record = GroundingRecord(attributes=attributes, grounder="basic", model_id="bench", prompt_version="v1")
            items.append(
                StoredItem(
                    id=f"i{start + j}",
                    image=f"images/i{start + j}.jpg",
                    title=f"{series} · {kind}",
                    text=f"{kind} in wood, {COLOURS[colour]}.",
                    kind=kind,
                    record=record,
                    content_hash="x" * 64,
                )  # fmt: skip
            )
        store.upsert(items, x, [i.record.attributes.description for i in items])
        vectors.append(x)
        labels.append(lab)
    seconds = time.perf_counter() - started
    np.save(home / "vectors.npy", np.concatenate(vectors))
    np.save(home / "labels.npy", np.concatenate(labels))
    q, q_labels = clustered(queries, rng, centres)
    np.save(home / "queries.npy", q)
    np.save(home / "query_labels.npy", q_labels)
    texts = [query_text(i, int(label), rng, n) for i, label in enumerate(q_labels)]
    (home / "queries.json").write_text(json.dumps(texts))
    return {"insert_per_s": n / seconds, "build_s": seconds, "build_peak_rss_mb": _peak_mb()}


def _percentiles(ms: list[float]) -> tuple[float, float]:
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def _timed(fn, inputs) -> tuple[list[float], list]:
    times, outputs = [], []
    for x in inputs:
        start = time.perf_counter()
        outputs.append(fn(x))
        times.append((time.perf_counter() - start) * 1000)
    return times, outputs


def serve(n: int, home: Path, lean: bool = False) -> dict:
    from vlm4rec_agent.engine import Engine
    from vlm4rec_agent.store import Filters
    from vlm4rec_agent.store.chroma_index import where_clause

    q = np.load(home / "queries.npy")
    q_labels = np.load(home / "query_labels.npy")
    texts = json.loads((home / "queries.json").read_text())
    engine = Engine(_settings(home), encoder=_GivenVectors(q))
    rss_before = _rss_mb()
    started = time.perf_counter()
    catalog, retriever = (
        engine.catalog,
        engine.retriever,
    )  # opening builds the word index (the bench wrote vectors only)
    lexical_build_s = time.perf_counter() - started
    rss_open = _rss_mb()
    catalog.nearest(q[:5], 10)  # warm the index into memory
    ann_ms, ann = _timed(lambda v: [c.id for c in catalog.nearest(v[None], 10, with_vectors=False)[0]], q)
    rss_serving = _rss_mb()
    filters = [Filters(category=_category(label)) for label in q_labels]
    # first use of each filter finds its ids; later ones reuse them (both are reported)
    first_where_ms, _ = _timed(lambda i: catalog.nearest(q[i][None], 10, filters[i]), range(len(q)))
    where_ms, _ = _timed(lambda i: catalog.nearest(q[i][None], 10, filters[i]), range(len(q)))
    chroma_where_ms, _ = _timed(
        lambda i: catalog.dense._collection.query(query_embeddings=q[i][None], n_results=10, where=where_clause(filters[i]),
                                            include=["distances"]), range(min(50, len(q))),
    )  # fmt: skip
    timings = {"ann": ann_ms, "where_first": first_where_ms, "where": where_ms, "chroma_where": chroma_where_ms}
    if not lean:
        from vlm4rec_agent.search.hybrid import SearchOptions

        dense_only = SearchOptions(lexical=False, structured=False, diversity=1.0, min_similarity=0.0)
        # the first query of each type reads its ids and vectors (then memoised): reported apart
        timings["search_first"], _ = _timed(lambda i: retriever.search(texts[i], k=10), range(len(q)))
        timings["search"], _ = _timed(lambda i: retriever.search(texts[i], k=10), range(len(q)))
        timings["dense_only_search"], _ = _timed(
            lambda i: retriever.search(texts[i], k=10, options=dense_only), range(len(q))
        )
        timings["filtered_search"], _ = _timed(
            lambda i: retriever.search(texts[i], k=10, filters=filters[i]), range(len(q))
        )
        # with the real encoder running inside each search (new texts: the query memo does not answer)
        retriever.encode_query = _EncodedThenGiven(retriever.encode_query)
        timings["search_with_encoding"], _ = _timed(
            lambda i: retriever.search(f"{texts[i]} please", k=10), range(len(q))
        )
        timings["dense_only_search_with_encoding"], _ = _timed(
            lambda i: retriever.search(f"{texts[i]} thanks", k=10, options=dense_only), range(len(q))
        )
        users = min(50, len(q))
        rng = np.random.default_rng(1)
        for u in range(users):
            for item in rng.choice(n, 10, replace=False):
                engine.like(f"user{u}", f"i{item}")
        timings["recommend"], _ = _timed(lambda u: retriever.recommend(f"user{u}", k=10), range(users))
    engine = catalog = retriever = None  # close the store before loading the exact vectors
    x = np.load(home / "vectors.npy", mmap_mode="r")
    x = np.ascontiguousarray(x)

    def exact(v):
        scores = x @ v
        top = np.argpartition(-scores, 10)[:10]
        return [f"i{i}" for i in top[np.argsort(-scores[top])]]

    exact_ms, truth = _timed(exact, q)
    recall = float(np.mean([len(set(a) & set(t)) / 10 for a, t in zip(ann, truth)]))
    disk = sum(f.stat().st_size for f in (home / "chroma").rglob("*") if f.is_file())
    lexical_disk = sum(f.stat().st_size for f in (home / "lexical").rglob("*") if f.is_file())
    figures = {"recall@10": recall, "rss_open_mb": rss_open, "rss_serving_mb": rss_serving, "disk_mb": disk / 2**20,
               "lexical_disk_mb": lexical_disk / 2**20, "lexical_build_s": lexical_build_s,
               "open_rss_mb": rss_open - rss_before}  # fmt: skip
    for name, ms in (timings | {"exact": exact_ms}).items():
        figures[f"{name}_p50_ms"], figures[f"{name}_p99_ms"] = _percentiles(ms)
    return figures


class _GivenVectors:
    """Stands in for the text encoder so that search latency excludes encoding: query "q{i}"
    is the i-th prepared vector. Encoding is measured apart, with the real encoder."""

    name, dim = "synthetic", DIM

    def __init__(self, vectors: np.ndarray):
        self.vectors = vectors

    def encode(self, texts):
        return self.vectors[[int(t.split()[0][1:]) for t in texts]]


class _EncodedThenGiven:
    """Runs the real text encoder on the query (its cost, inside the search) and answers with the
    prepared vector (the catalog is of synthetic vectors)."""

    def __init__(self, given):
        from vlm4rec_agent.engine import Engine
        from vlm4rec_agent.settings import Settings

        self.given, self.real = given, Engine(Settings()).encoder
        self.real.encode(["warm up"])

    def __call__(self, text: str):
        self.real.encode([text])
        return self.given(text)


def encode_latency() -> dict:
    from vlm4rec_agent.engine import Engine
    from vlm4rec_agent.settings import Settings

    encoder = Engine(Settings()).encoder
    encoder.encode(["warm up"])
    ms, _ = _timed(lambda t: encoder.encode([t]), [f"white minimalist bedside lamp {i}" for i in range(100)])
    p50, p99 = _percentiles(ms)
    return {"encode_p50_ms": p50, "encode_p99_ms": p99}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the stores (in a temporary folder)")
    parser.add_argument(
        "--lean-from", type=int, default=1_000_000,
        help="sizes from this one up store vectors and filter fields only (Chroma's own insert speed; "
             "search/recommend through the app's code need full items and are skipped)",
    )  # fmt: skip
    parser.add_argument("--phase", choices=("build", "serve"), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        lean = args.n >= args.lean_from
        result = (
            build(args.n, args.home, args.queries, lean) if args.phase == "build" else serve(args.n, args.home, lean)
        )
        print(json.dumps(result))
        return

    print(f"machine: {os.cpu_count()} CPUs, {sys.platform}, Python {sys.version.split()[0]}; "
          f"{time.strftime('%Y-%m-%d')}; {args.queries} queries, k=10", flush=True)  # fmt: skip
    print(json.dumps(encode_latency()), flush=True)
    for n in (int(s) for s in args.sizes.split(",")):
        home = Path(tempfile.mkdtemp(prefix=f"vlm4rec-scale-{n}-"))
        figures = {"n": n, "lean": n >= args.lean_from}
        for phase in ("build", "serve"):
            done = subprocess.run(
                [sys.executable, __file__, "--phase", phase, "--n", str(n), "--home", str(home),
                 "--queries", str(args.queries), "--lean-from", str(args.lean_from)], capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode != 0:
                sys.exit(f"{phase} failed for n={n}:\n{done.stderr[-3000:]}")
            figures |= json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}), flush=True)
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
