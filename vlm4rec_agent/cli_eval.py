"""``vlm4rec eval``: measure a representation and scorer on users' data (a thin face on
:mod:`vlm4rec_agent.evaluation`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from . import cli_output as out
from .errors import InvalidInputError
from .evaluation.representations import REPRESENTATIONS
from .extras import require
from .scoring import SCORERS

DEFAULT_COMPARE_SCORERS = "popularity,cooccurrence,mean,softmax,hybrid"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--items", help="the catalog (JSONL, CSV or image folder), as ingest reads it")
    p.add_argument(
        "--labels",
        help="with --task grounding: CSV of photos (image column) and their labels (category or label, colors, "
        "materials, pattern, style)",
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument("--groups", help="JSONL of item sets that go together (rooms, outfits, baskets)")
    source.add_argument("--interactions", help="CSV of user,item[,timestamp][,rating]")
    source.add_argument("--queries", help="with --task search: JSONL of queries with their relevance (bench/queries)")
    p.add_argument(
        "--train-groups",
        metavar="FILE",
        help="JSONL of other shoppers' groups: the collaborative part learns only from these "
        "(default: K-fold over the evaluated users, each fold learning from the others)",
    )
    p.add_argument("--folds", type=int, default=10, help="K of that K-fold (default 10)")
    p.add_argument("--min-rating", type=float, help="with --interactions: ratings below this are not likes")
    p.add_argument(
        "--representation", default="grounded_text", help=f"one of {', '.join(REPRESENTATIONS)} (default grounded_text)"
    )
    p.add_argument(
        "--scorer",
        help=f"one of {', '.join(SCORERS.builtin_names())} or a plugin's; softmax:T sets its temperature "
        "(default: VLM4REC_SCORER)",
    )
    p.add_argument("--task", choices=("holdout", "shop-the-look", "search", "grounding", "photos"), default="holdout",
                   help="holdout (leave-last-out when the data has timestamps), shop-the-look (room photos), "
                        "search (relevance of `vlm4rec search` on --queries; the catalog is ingested first), or "
                        "grounding (attribute accuracy of grounders on --labels), or photos (photo queries as "
                        "the product runs them: each item's own photo, and rooms' photos with --groups)")  # fmt: skip
    p.add_argument("--k", type=int, default=10, help="the K of the headline figures (5, 10 and 20 are always given)")
    p.add_argument("--seeds", type=int, default=5, help="random hold-out splits to average (default 5)")
    p.add_argument("--holdout", type=float, default=0.2, help="share of each user's items held out (default 0.2)")
    p.add_argument("--min-items", type=int, default=4, help="users with fewer items are left out (default 4)")
    p.add_argument("--part", choices=("all", "tune", "check"), default="all",
                   help="all users, or the 70%% to tune on, or the 30%% kept back to check on")  # fmt: skip
    p.add_argument(
        "--compare",
        action="store_true",
        help="evaluate several representations and scorers together (and shop-the-look when groups have photos)",
    )
    p.add_argument("--representations", default=",".join(REPRESENTATIONS), help="with --compare (comma-separated)")
    p.add_argument("--scorers", default=DEFAULT_COMPARE_SCORERS, help="with --compare (comma-separated)")
    p.add_argument("--out", default="docs/evaluation", help="with --compare: folder for the table, chart and JSON")
    p.add_argument("--name", default="comparison", help="with --compare: file name stem of the outputs")
    p.add_argument("--no-cache", action="store_true", help="recompute every vector (default: cached in HOME/cache)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def run_search(args: argparse.Namespace, engine) -> int:
    """`vlm4rec eval --task search`: every mode on the queries, a table per kind of query."""
    from .evaluation.search_eval import MODES, catalog_rows, failures, markdown_table, read_queries, run_search_eval

    queries = read_queries(args.queries)
    if args.part != "all":
        queries = [q for q in queries if q.part == args.part]
    if not queries:
        raise InvalidInputError(f"{args.queries} has no queries in the part {args.part!r}")
    report = engine.ingest(args.items)  # unchanged items are skipped: a second run only re-reads the files
    runs = run_search_eval(engine, queries, catalog_rows(args.items), MODES, k=max(args.k, 10))
    title = f"{Path(args.queries).stem}: {len(queries)} queries, part {args.part}, {report.seen} items"
    table = markdown_table(runs, title)
    wrong = failures(runs[-1], limit=100)
    if wrong:
        table += (
            f"\n**Still wrong with {runs[-1].mode}** ({len(wrong)}):\n\n" + "\n".join(f"- {w}" for w in wrong) + "\n"
        )
    data = {"title": title, "modes": {run.mode: run.summary() for run in runs}}
    return _answer(args, table, data)


def _answer(args: argparse.Namespace, table: str, data: dict) -> int:
    """Print the table (or the JSON), and write both when --out or --name asks for files."""
    if args.name != "comparison" or args.out != "docs/evaluation":
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{args.name}.md").write_text(table, "utf-8")
        (folder / f"{args.name}.json").write_text(json.dumps(data, indent=1) + "\n", "utf-8")
    print(out.dumps(data) if args.json else table)
    return 0


def run_grounding(args: argparse.Namespace, engine) -> int:
    """`vlm4rec eval --task grounding`: each grounder's per-attribute accuracy on labelled photos."""
    from .evaluation.grounding_eval import evaluate_learned, ground_all, judge, markdown, part_of, read_labels
    from .grounding.basic import BasicGrounder

    if not args.labels:
        raise InvalidInputError(
            "--task grounding needs --labels CSV", "e.g. --labels ../shared/data/clothing/labels.csv"
        )
    settings = engine.settings
    photos = read_labels(args.labels)
    judged = part_of(photos, args.part)
    if not judged:
        raise InvalidInputError(f"{args.labels} has no photos in the part {args.part!r}")
    runs = []
    basic, seconds = ground_all(BasicGrounder(), judged, settings.max_image_pixels)
    runs.append(judge("basic", judged, basic, seconds))
    learned, seconds, trained = evaluate_learned(
        photos, judged, settings.heads_min_confidence, settings.max_image_pixels
    )
    runs.append(judge("basic + learned heads", judged, learned, seconds))
    if settings.grounder != "basic":
        found, seconds = ground_all(engine.grounder, judged, settings.max_image_pixels)
        runs.append(judge(f"{settings.grounder} ({engine.grounder.model_id})", judged, found, seconds))
    title = (f"{Path(args.labels).name}: {len(judged)} photos, part {args.part}; heads learned from "
             f"{trained['teachers']} other photos in {trained['seconds']:.1f} s (peak {trained['peak_mb']:.0f} MB)")  # fmt: skip
    table = markdown(runs, title)
    data = {"title": title, "runs": [run.__dict__ for run in runs], "heads": trained}
    return _answer(args, table, data)


def run_photos(args: argparse.Namespace, engine) -> int:
    """`vlm4rec eval --task photos`: self-retrieval, and shop the look when --groups have photos."""
    from .evaluation import photo_eval
    from .evaluation.representations import Representations
    from .evaluation.runner import Evaluation, Protocol

    settings, weight = engine.settings, engine.settings.photo_visual_weight
    cache = None if args.no_cache else settings.home / "cache" / "eval"
    if args.groups:
        session = Evaluation.open(items=args.items, encoder=engine.encoder, grounder=engine.grounder,
                                  groups=args.groups, protocol=Protocol(part=args.part), cache_folder=cache)  # fmt: skip
        representations = session.representations
    else:
        from .catalogs import read_catalog

        session = None
        representations = Representations(read_catalog(args.items).items, engine.encoder, engine.grounder, cache)
    selfs = photo_eval.self_retrieval(representations, args.part, weight)
    looks = photo_eval.shop_the_look(session, weight) if session is not None else {}
    title = f"{Path(args.items).name}: photo queries, part {args.part}, visual weight {weight}"
    return _answer(
        args, photo_eval.markdown(title, selfs, looks), {"title": title, "self": selfs, "shop_the_look": looks}
    )


def run(args: argparse.Namespace, engine) -> int:
    if args.task == "grounding":
        return run_grounding(args, engine)
    if not args.items:
        raise InvalidInputError("give --items CATALOG", "e.g. --items ../shared/data/ikea/items.jsonl")
    if args.task == "photos":
        return run_photos(args, engine)
    if args.task == "search":
        if not args.queries:
            raise InvalidInputError("--task search needs --queries FILE", "e.g. --queries bench/queries/ikea.jsonl")
        return run_search(args, engine)
    if not args.groups and not args.interactions:
        raise InvalidInputError("give --groups or --interactions", "e.g. --groups ../shared/data/ikea/rooms.jsonl")
    if args.compare:  # before minutes of work, not when the chart is drawn
        require("eval", "the chart of `vlm4rec eval --compare`")
    from .evaluation.compare import markdown_table, run_comparison, write_outputs
    from .evaluation.runner import Evaluation, Protocol

    settings = engine.settings

    ks = tuple(sorted({5, 10, 20, args.k}))
    protocol = Protocol(
        seeds=args.seeds, fraction=args.holdout, min_items=args.min_items, ks=ks, part=args.part, folds=args.folds
    )
    representations = _list(args.representations) if args.compare else [args.representation]
    for name in representations:
        if name not in REPRESENTATIONS:
            raise InvalidInputError(f"unknown representation {name!r}", f"use one of: {', '.join(REPRESENTATIONS)}")
    needs_grounder = args.task == "shop-the-look" or any(
        n.startswith("grounded") or n in ("concat", "fusion") for n in representations
    )
    session = Evaluation.open(
        items=args.items,
        encoder=engine.encoder,
        grounder=engine.grounder if needs_grounder else None,
        groups=args.groups,
        interactions=args.interactions,
        protocol=protocol,
        cache_folder=None if args.no_cache else settings.home / "cache" / "eval",
        min_rating=args.min_rating,
        train_groups=args.train_groups,
    )
    if args.compare:
        comparison = run_comparison(session, representations, _list(args.scorers), shop_the_look=session.has_scenes)
        paths = write_outputs(comparison, Path(args.out), args.name)
        text = markdown_table(comparison) + "\n" + "\n".join(f"wrote {p}" for p in paths.values())
        print(
            out.dumps({"runs": comparison.rows(), "files": {k: str(p) for k, p in paths.items()}})
            if args.json
            else text
        )
        return 0
    scorer = args.scorer or settings.scorer
    run = (
        session.shop_the_look(args.representation)
        if args.task == "shop-the-look"
        else session.holdout(args.representation, scorer)
    )
    summary = run.summary()
    if args.json:
        print(out.dumps(summary))
        return 0
    rows = [
        (f"{metric}@{k}", f"{summary[f'{metric}@{k}']:.4f}", "{:.4f} – {:.4f}".format(*summary[f"{metric}@{k}_ci95"]))
        for k in ks
        for metric in ("recall", "ndcg", "hit")
    ]
    print(
        f"{run.task}: {run.representation} / {run.scorer}, {summary['n_users']} users, {run.seeds} seed(s)\n"
        + out.table(["metric", "mean", "95% interval"], rows)
    )
    return 0
