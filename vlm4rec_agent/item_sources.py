"""The catalog file each stored item came from, and what an ingest of another file may do with it.

Every stored item records its catalog file (its ``source``: the resolved path of a JSONL or CSV
file or of an image folder). When another file holds a row with the same id, that row does not
replace the stored item: a shopper's like of it would then point at a different product. The row
is skipped with a note naming the file that has the id, and the rest of the file is stored,
unless the ingest is told to replace (``--replace``; each row taken over is then noted).
Re-ingesting the same file updates its items as always.

An item stored before catalog files were recorded counts as from an unknown file: it is kept as
well, unless the row is the very same item (same photo, text and pipeline: nothing would change),
which then takes this file as its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .catalogs import CatalogProblem
from .ids import shown_id
from .items import Item

UNKNOWN_SOURCE = ""  # what an item stored before catalog files were recorded has


def shown_source(source: str) -> str:
    """A catalog file as a message names it: relative to the current folder when inside it."""
    if not source:
        return "an unknown file (stored before catalog files were recorded)"
    if os.path.isabs(source):
        try:
            relative = os.path.relpath(source)
        except ValueError:  # another drive (Windows)
            return source
        if not relative.startswith(os.pardir):
            return relative
    return source


def _where(item: Item) -> str:
    return item.where or str(item.image)


def kept_elsewhere(item: Item, source: str) -> CatalogProblem:
    """The row skipped because ``source`` already has its id."""
    reason = (
        f"id {shown_id(item.id)} is already in the catalog from {shown_source(source)}; kept that one "
        "(ingest with --replace to take this row instead)"
    )
    return CatalogProblem(_where(item), reason, item.id)


def taken_over(item: Item, source: str) -> CatalogProblem:
    """The note for a row that replaced, as asked, the item another file had stored under its id."""
    reason = f"id {shown_id(item.id)} was in the catalog from {shown_source(source)}; replaced by this row (--replace)"
    return CatalogProblem(_where(item), reason, item.id, skips_row=False)


def held_elsewhere(items: Iterable[Item], held: dict[str, str], replace: bool, skipped: list, notes: list) -> set[str]:
    """The ids of ``items`` to leave to the file that holds them (``held``: id -> that file).

    Each such row goes to ``skipped`` with the file named; with ``replace`` none is left, and each
    row that takes an item over goes to ``notes``.
    """
    left = set()
    for item in items:
        if item.id not in held:
            continue
        if replace:
            notes.append(taken_over(item, held[item.id]))
        else:
            skipped.append(kept_elsewhere(item, held[item.id]))
            left.add(item.id)
    return left
