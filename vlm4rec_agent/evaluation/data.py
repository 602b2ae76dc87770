"""Who liked what: group files (a room, an outfit, a basket) and interaction CSVs, as users.

Both become :class:`User` objects whose items are indices into the evaluated catalog, in the
order the user met them (by timestamp when the data has one). Items the catalog does not know
are dropped and counted, never guessed.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidInputError, NotFoundError
from ..ids import nfc


@dataclass(frozen=True)
class User:
    id: str
    items: tuple[int, ...]  # catalog indices, no repeats
    timestamps: tuple[float, ...] | None = None  # aligned with items, when the data has them
    scenes: tuple[Path, ...] = ()  # photos of the group (IKEA rooms), for "shop the look"


@dataclass
class Users:
    users: list[User]
    unknown_items: int = 0  # references to items the catalog does not have
    problems: list[str] = field(default_factory=list)

    @property
    def has_timestamps(self) -> bool:
        return bool(self.users) and all(u.timestamps is not None for u in self.users)


def _open_text(path: Path) -> str:
    if not path.is_file():
        raise NotFoundError(f"file not found: {path}")
    try:
        return path.read_text("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInputError(f"{path} is not UTF-8 text ({error})", "save it as UTF-8") from None


@dataclass(frozen=True)
class GroupLine:
    id: str
    items: tuple[str, ...]  # item ids as written, repeats removed
    scenes: tuple[Path, ...]


def parse_groups(path: str | Path) -> list[GroupLine]:
    """A JSONL of ``{"id": ..., "items": [item ids], "scenes": [photo paths]}``, one group a line
    (the format of `vlm4rec eval --groups` and `vlm4rec groups add`). Scene paths are relative to
    the file; a line without an id is ``line-N``."""
    path = Path(path)
    groups = []
    for number, line in enumerate(_open_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidInputError(f"{path} line {number}: not valid JSON ({error.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("items"), list):
            raise InvalidInputError(
                f'{path} line {number}: expected an object with an "items" list',
                'write one group a line, e.g. {"id": "room-1", "items": ["a", "b", "c"]}',
            )
        items = tuple(dict.fromkeys(nfc(str(i)) for i in row["items"]))  # ids as the catalog keeps them
        scenes = tuple(path.parent / str(s) for s in row.get("scenes") or ())
        groups.append(GroupLine(id=str(row.get("id", f"line-{number}")), items=items, scenes=scenes))
    return groups


def read_groups(path: str | Path, index: Mapping[str, int]) -> Users:
    """:func:`parse_groups`, as users whose items are catalog indices (unknown items dropped, counted)."""
    result = Users(users=[])
    for group in parse_groups(path):
        known = [index[i] for i in group.items if i in index]
        result.unknown_items += len(group.items) - len(known)
        result.users.append(User(id=group.id, items=tuple(known), scenes=group.scenes))
    return result


_USER_COLUMNS = ("user", "user_id", "userid", "customer", "customer_id", "reviewer_id", "reviewerid")
_ITEM_COLUMNS = ("item", "item_id", "itemid", "product", "product_id", "asin", "sku", "id")
_TIME_COLUMNS = ("timestamp", "time", "ts", "date", "unixreviewtime")
_RATING_COLUMNS = ("rating", "score", "stars", "overall")


def _column(header: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {h.strip().lower(): h for h in header}
    return next((lowered[n] for n in names if n in lowered), None)


def read_interactions(path: str | Path, index: Mapping[str, int], min_rating: float | None = None) -> Users:
    """A CSV of ``user,item[,timestamp][,rating]`` with a header row.

    With ``min_rating``, rows rated below it are not positives and are skipped. Timestamps are
    numbers (Unix time) or ISO dates; a user's items are ordered by them (earliest first).
    """
    path = Path(path)
    reader = csv.DictReader(io.StringIO(_open_text(path)))
    header = reader.fieldnames or []
    user_key, item_key = _column(header, _USER_COLUMNS), _column(header, _ITEM_COLUMNS)
    if user_key is None or item_key is None:
        raise InvalidInputError(
            f"{path} needs a user and an item column (it has: {', '.join(header) or 'no header'})",
            "name them user,item (optionally timestamp and rating)",
        )
    time_key, rating_key = _column(header, _TIME_COLUMNS), _column(header, _RATING_COLUMNS)
    if min_rating is not None and rating_key is None:
        raise InvalidInputError(f"--min-rating given but {path} has no rating column")
    events: dict[str, list[tuple[float, int, int]]] = defaultdict(list)  # user -> (time, row, item)
    result = Users(users=[])
    for number, row in enumerate(reader, start=2):
        user, item = (row.get(user_key) or "").strip(), nfc((row.get(item_key) or "").strip())
        if not user or not item:
            result.problems.append(f"row {number}: empty user or item")
            continue
        if min_rating is not None and _number(row.get(rating_key), path, number, "rating") < min_rating:
            continue
        if item not in index:
            result.unknown_items += 1
            continue
        when = _time(row.get(time_key), path, number) if time_key else float(number)
        events[user].append((when, number, index[item]))
    for user, rows in events.items():
        rows.sort()
        seen: dict[int, float] = {}
        for when, _, item in rows:
            seen.setdefault(item, when)  # a repeated item counts at its first time
        result.users.append(User(id=user, items=tuple(seen), timestamps=tuple(seen.values()) if time_key else None))
    return result


def _number(value: str | None, path: Path, number: int, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{path} row {number}: {what} {value!r} is not a number") from None


def _time(value: str | None, path: Path, number: int) -> float:
    from datetime import datetime

    text = (value or "").strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise InvalidInputError(
            f"{path} row {number}: timestamp {value!r} is neither a number nor an ISO date"
        ) from None
