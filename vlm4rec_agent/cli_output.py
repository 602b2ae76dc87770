"""How the CLI shows things: aligned tables for people, plain JSON for programs."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Sequence
from typing import Any

from pydantic_core import to_jsonable_python

from .engine import Stats
from .grounding.schema import GroundingRecord
from .ingest import IngestReport
from .items import StoredItem
from .rendering import attribute_facts, common_text, profile_counts
from .views import ProfileView, ResultPage, ResultView

MAX_PROBLEMS_SHOWN = 20


def terminal_width() -> int:
    if not sys.stdout.isatty():
        return 200
    return max(60, shutil.get_terminal_size((120, 24)).columns)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], flexible: int = -1) -> str:
    """Left-aligned columns; the ``flexible`` column is clipped so each line fits the terminal."""
    rows = [[" ".join(str(c).split()) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    flexible %= len(headers)
    fixed = sum(w for i, w in enumerate(widths) if i != flexible) + 2 * (len(headers) - 1)
    widths[flexible] = max(10, min(widths[flexible], terminal_width() - fixed))
    lines = []
    for row in [list(headers)] + rows:
        cells = [_clip(c, widths[i]).ljust(widths[i]) for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def when(seconds: float | None) -> str:
    """A stored time as the tables show it (local time, to the minute); "" for none."""
    return "" if seconds is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def dumps(data: Any) -> str:
    """JSON for programs: typed views (and lists of them) as their JSON shape, everything else as it is."""
    return json.dumps(to_jsonable_python(data), ensure_ascii=False, indent=2, default=str)


def results_text(results: Sequence[ResultView]) -> str:
    if not results:
        return "No items matched."
    rows = [[str(r.rank), r.id, _clip(r.label, 40), f"{r.score:.3f}", r.explanation] for r in results]
    return table(["#", "id", "title", "score", "why"], rows)


def search_text(page: ResultPage) -> str:
    """A search's table, with the note (nothing fits, too few of the type) and the corrections below."""
    lines = [results_text(page.results) if page.results or not page.note else ""]
    if page.corrections:
        lines.append("Read " + ", ".join(f"{wrong!r} as {right!r}" for wrong, right in page.corrections.items()) + ".")
    if page.note:
        lines.append(page.note)
    return "\n".join(line for line in lines if line)


def attributes_lines(record: GroundingRecord) -> list[str]:
    a = record.attributes
    lines = [f"  {label:<10} {values}" for label, values in attribute_facts(a)]
    if a.description:
        lines.append(f"  {'about':<10} {a.description}")
    return lines


def record_text(record: GroundingRecord) -> str:
    lines = [f"Grounded by the {record.source}; status: {record.status}."]
    if record.notice:
        lines.append(record.notice)
    lines += attributes_lines(record) or ["  (no attributes could be read)"]
    learned = record.evidence.get("learned")
    if isinstance(learned, dict) and not learned.get("abstained"):
        for name, found in learned.items():
            lines.append(f"  {'learned':<10} {name} {found['value']} (p={found['probability']:.2f}, {found['source']})")
    return "\n".join(lines)


def item_text(item: StoredItem) -> str:
    lines = [f"{item.id}  {item.title}".rstrip(), f"  {'image':<10} {item.image}"]
    if item.text:
        lines.append(f"  {'text':<10} {_clip(item.text, terminal_width() - 13)}")
    return "\n".join(lines) + "\n" + record_text(item.record)


def item_data(item: StoredItem) -> dict[str, Any]:
    return item.model_dump(mode="json")


def ingest_text(report: IngestReport) -> str:
    lines = [report.summary()]
    if report.stored:
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items() if k != "total")
        lines.append(f"time by stage: {stages}")
    lines += [f"note: {p}" for p in report.notes]
    if report.unattributed:
        lines.append(
            f"note: {report.unattributed} stored items were not pruned: no catalog file is recorded for them "
            "(ingest their catalog once, then --prune can tell)"
        )
    if report.skipped:
        lines.append(f"skipped {len(report.skipped)}:")
        lines += [f"  {p}" for p in report.skipped[:MAX_PROBLEMS_SHOWN]]
        if len(report.skipped) > MAX_PROBLEMS_SHOWN:
            lines.append(f"  ... and {len(report.skipped) - MAX_PROBLEMS_SHOWN} more (see --json)")
    return "\n".join(lines)


def ingest_data(report: IngestReport) -> dict[str, Any]:
    return {
        "source": report.source,
        "seen": report.seen,
        "added": report.added,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "fallback": report.fallback,
        "pruned": report.pruned,
        "cancelled": report.cancelled,
        "skipped": [{"where": p.where, "item_id": p.item_id, "reason": p.reason} for p in report.skipped],
        "notes": [{"where": p.where, "reason": p.reason} for p in report.notes],
        "seconds": report.seconds,
        "items_per_second": round(report.items_per_second, 2),
    }


def profile_text(view: ProfileView) -> str:
    if view.is_empty:
        return f"{view.user} has not rated anything yet."
    lines = [f"{view.user}: {profile_counts(view)}"]
    for label, items in (("liked", view.liked), ("disliked", view.disliked)):
        lines += [f"  {label:<9} {i.id}  {i.label}" for i in items]
    if view.common:
        lines.append(f"  in common: {common_text(view.common)}")
    return "\n".join(lines)


def stats_text(stats: Stats) -> str:
    rows = [[k, str(v)] for k, v in stats.model_dump().items()]
    return table(["", ""], rows).split("\n", 1)[1]


def heads_data(heads) -> dict[str, Any]:
    """The learned heads as `vlm4rec learn` shows them (None: there are none)."""
    if heads is None:
        return {"summary": "no heads learned: too few items name an attribute, or nothing is ingested", "heads": {}}
    return {
        "summary": heads.describe(),
        "items": heads.items,
        "image_encoder": heads.encoder,
        "novelty": heads.novelty,
        "min_confidence": heads.min_confidence,
        "seconds": heads.seconds,
        "peak_mb": heads.peak_mb,
        "heads": {
            name: {"values": h.values, "examples": h.examples, "accuracy": h.accuracy, "coverage": h.coverage,
                   "temperature": round(h.temperature, 3)}
            for name, h in heads.heads.items()
        },
    }  # fmt: skip
