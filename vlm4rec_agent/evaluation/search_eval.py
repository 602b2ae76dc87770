"""Search relevance: queries with relevance read from the catalog's own labels, run through the engine.

A query file is JSONL, one query a line::

    {"id": "ikea-001", "query": "pendant lamp", "kind": "type", "relevant": {"type": "^pendant lamp"}}

``relevant`` maps catalog columns (as the catalog file names them: ``label``, ``type``, ``name``...)
to regular expressions (case-insensitive, searched); an item is relevant when every column
matches. ``null`` means nothing should be found (``kind`` "gibberish"). ``kind`` groups the figures:
``type`` (names a product type), ``series`` (a product family's name), ``misspelling``,
``indirect`` (describes a need), ``gibberish``. A fixed 30% of the queries, chosen by a hash of
their id, is the "check" part: tune on the rest, confirm there.

Figures, per mode and per kind, each a mean over queries with a bootstrap 95% interval:
precision@6 (relevant in the top 6 over min(6, relevant)), NDCG@10, "all top 4 from the series"
(series queries with at least 4 items), the no-result rate (gibberish: should be 1; others: 0),
and the intra-list similarity of the top 6 (mean cosine between their vectors: lower is more varied).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..catalogs import ID_COLUMNS
from ..errors import InvalidInputError, NotFoundError
from ..search.hybrid import SearchOptions
from ..search.ranking import intra_list_similarity
from .metrics import ndcg_at_k, precision_at_k
from .splits import in_check_part
from .stats import bootstrap

KINDS = ("type", "series", "misspelling", "indirect", "gibberish")
# Today's search and the parts that were added to it, one at a time.
MODES: dict[str, SearchOptions] = {
    "dense only (before)": SearchOptions(lexical=False, structured=False, diversity=1.0, min_similarity=0.0),
    "lexical only": SearchOptions(dense=False, structured=False, diversity=1.0, min_similarity=0.0),
    "hybrid": SearchOptions(structured=False, diversity=1.0, min_similarity=0.0),
    "hybrid + structured": SearchOptions(),
}
PAGE = 6  # what a page shows, and the K of the headline precision


@dataclass(frozen=True)
class SearchQuery:
    id: str
    query: str
    kind: str
    relevant: dict[str, re.Pattern] | None

    @property
    def part(self) -> str:
        return "check" if in_check_part(self.id) else "tune"


def read_queries(path: str | Path) -> list[SearchQuery]:
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"query file not found: {path}")
    queries = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            relevant = row.get("relevant")
            patterns = {k: re.compile(v, re.IGNORECASE) for k, v in relevant.items()} if relevant else None
            queries.append(SearchQuery(str(row["id"]), str(row["query"]), str(row.get("kind", "type")), patterns))
        except (ValueError, KeyError, TypeError, AttributeError, re.error) as error:
            raise InvalidInputError(
                f"{path.name} line {number} is not a query ({type(error).__name__}: {error})",
                'write {"id": ..., "query": ..., "kind": ..., "relevant": {"column": "regex"}} a line',
            ) from None
    return queries


def catalog_rows(path: str | Path) -> dict[str, dict[str, str]]:
    """The catalog file's own columns by item id (the labels relevance is read from)."""
    path = Path(path)
    text = path.read_text("utf-8-sig")
    rows = (
        [json.loads(line) for line in text.splitlines() if line.strip()]
        if path.suffix.lower() in (".jsonl", ".ndjson", ".json")
        else list(csv.DictReader(io.StringIO(text)))
    )
    if not rows:
        return {}
    id_column = next((c for c in ID_COLUMNS if c in rows[0]), None)
    if id_column is None:
        raise InvalidInputError(f"{path.name} has no id column ({', '.join(ID_COLUMNS)})")
    return {str(r[id_column]): {k: str(v) for k, v in r.items() if v is not None} for r in rows}


def relevant_ids(query: SearchQuery, rows: dict[str, dict[str, str]]) -> set[str]:
    if query.relevant is None:
        return set()
    return {
        item_id
        for item_id, row in rows.items()
        if all(pattern.search(row.get(column, "")) for column, pattern in query.relevant.items())
    }


@dataclass
class QueryResult:
    query: SearchQuery
    ranked: list[str]
    relevant: set[str]
    similarity: float  # intra-list similarity of the first PAGE results

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {"no_results": float(not self.ranked)}
        if self.relevant:
            out[f"precision@{PAGE}"] = precision_at_k(self.ranked, self.relevant, PAGE)
            out["ndcg@10"] = ndcg_at_k(self.ranked, self.relevant, 10)
            if self.query.kind == "series" and len(self.relevant) >= 4:
                out["all top 4 of the series"] = float(len(self.ranked) >= 4 and set(self.ranked[:4]) <= self.relevant)
        if len(self.ranked) >= 2:
            out[f"similarity@{PAGE}"] = self.similarity
        return out


@dataclass
class ModeRun:
    mode: str
    results: list[QueryResult] = field(default_factory=list)

    def summary(self, kinds: tuple[str, ...] = KINDS) -> dict[str, dict[str, list[float]]]:
        """kind -> metric -> [mean, low, high]; kind "all but gibberish" pools the real queries."""
        groups = {kind: [r for r in self.results if r.query.kind == kind] for kind in kinds}
        groups["all but gibberish"] = [r for r in self.results if r.query.kind != "gibberish"]
        out: dict[str, dict[str, list[float]]] = {}
        for kind, results in groups.items():
            if not results:
                continue
            values: dict[str, list[float]] = {}
            for result in results:
                for name, value in result.metrics().items():
                    values.setdefault(name, []).append(value)
            out[kind] = {name: _estimate(v) for name, v in values.items()} | {"queries": [len(results)] * 3}
        return out


def _estimate(values: list[float]) -> list[float]:
    e = bootstrap(np.asarray(values))
    return [round(e.mean, 4), round(e.low, 4), round(e.high, 4)]


def run_search_eval(
    engine, queries: list[SearchQuery], rows: dict[str, dict[str, str]], modes: dict[str, SearchOptions], k: int = 10
) -> list[ModeRun]:
    runs = []
    for mode, options in modes.items():
        run = ModeRun(mode)
        for query in queries:
            answer = engine.search_answer(query.query, k=k, options=options)
            ranked = [r.item.id for r in answer.results]
            vectors = engine.catalog.get(ranked[:PAGE], with_vectors=True)
            page = np.stack([vectors[i].vector for i in ranked[:PAGE] if i in vectors]) if ranked else np.zeros((0, 1))
            run.results.append(QueryResult(query, ranked, relevant_ids(query, rows), intra_list_similarity(page)))
        runs.append(run)
    return runs


COLUMNS = (f"precision@{PAGE}", "ndcg@10", "all top 4 of the series", "no_results", f"similarity@{PAGE}")


def markdown_table(runs: list[ModeRun], title: str) -> str:
    lines = [f"### {title}", ""]
    for kind in (*KINDS, "all but gibberish"):
        rows = [(run.mode, run.summary().get(kind)) for run in runs]
        rows = [(mode, s) for mode, s in rows if s]
        if not rows:
            continue
        shown = [c for c in COLUMNS if any(c in s for _, s in rows)]
        count = rows[0][1]["queries"][0]
        lines += [
            f"**{kind}** ({count} queries)",
            "",
            "| mode | " + " | ".join(shown) + " |",
            "|---|" + "---|" * len(shown),
        ]
        for mode, s in rows:
            cells = [f"{s[c][0]:.3f} ({s[c][1]:.2f}–{s[c][2]:.2f})" if c in s else "–" for c in shown]
            lines.append(f"| {mode} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def failures(run: ModeRun, limit: int = 30) -> list[str]:
    """The queries this mode still gets wrong, for the docs: a type or misspelling query under 1.0
    precision@6, a series query without its top 4, a gibberish query with results."""
    out = []
    for r in run.results:
        m = r.metrics()
        if r.query.kind == "gibberish" and r.ranked:
            out.append(f"“{r.query.query}” (gibberish): {len(r.ranked)} results")
        elif m.get(f"precision@{PAGE}", 1.0) < 1.0 and r.query.kind in ("type", "misspelling", "series"):
            out.append(f"“{r.query.query}” ({r.query.kind}): precision@{PAGE} {m[f'precision@{PAGE}']:.2f}")
    return out[:limit]
