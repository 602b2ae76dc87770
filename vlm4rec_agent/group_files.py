"""Reading a file of groups (rooms, outfits, baskets) to import: names, nouns and which items count.

The face is `vlm4rec groups add` (:meth:`Engine.add_groups`); the file is the JSONL that
`vlm4rec eval --groups` reads (:func:`vlm4rec_agent.evaluation.data.parse_groups`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from .errors import InvalidInputError
from .evaluation.data import parse_groups
from .store.protocols import GroupSet

_SET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}")
_NOUN = re.compile(r"[a-z][a-z-]{0,39}")


class GroupsAdded(BaseModel):
    set: GroupSet
    unknown_items: int  # references to items not in the catalog, left out


@dataclass(frozen=True)
class GroupFile:
    name: str
    noun: str
    source: str
    groups: list[tuple[str, list[str]]]  # (group id, the catalog's items in it)
    unknown_items: int


def read_group_file(
    path: str | Path, name: str | None, noun: str, known: Callable[[Sequence[str]], Collection[str]]
) -> GroupFile:
    """The groups of ``path`` with only the items ``known`` says the catalog holds; a name or
    noun that cannot be used, or a file from which nothing can be learned, is refused."""
    name = (name or Path(path).stem).strip()
    if not _SET_NAME.fullmatch(name):
        raise InvalidInputError(
            f"group set name {name[:60]!r} is not usable", "use letters, digits, '.', '_' or '-' (up to 120)"
        )
    noun = noun.strip().lower()
    if not _NOUN.fullmatch(noun):
        raise InvalidInputError(f"--noun {noun[:40]!r} is not one word", "e.g. --noun room, outfit or basket")
    lines = parse_groups(path)
    held = set(known(list(dict.fromkeys(i for line in lines for i in line.items))))
    groups = [(line.id, [i for i in line.items if i in held]) for line in lines]
    if not any(len(items) > 1 for _, items in groups):
        raise InvalidInputError(
            f"{path}: no group holds two items of this catalog, so nothing can be learned from it",
            "check that the item ids match the catalog's ids (`vlm4rec show ITEM_ID`)",
        )
    unknown = sum(len(line.items) for line in lines) - sum(len(items) for _, items in groups)
    return GroupFile(name, noun, str(Path(path)), groups, unknown)
