"""Groups a catalog owner imports (rooms, outfits, baskets, looks), in the ratings' database.

The collaborative part learns from them as it learns from shoppers' likes: items in one group go
together. Two tables beside the ratings::

    vlm4rec_group_sets    collection, name, noun ("room"), source (the file), groups, items, added_at
    vlm4rec_group_items   collection, set_name, group_id, item_id     (primary key: all four)

A set is added, replaced or removed whole, in one transaction: a failed import leaves what was
there before.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import sqlalchemy as sa

from ..catalogs import MAX_ID_LENGTH
from ..errors import InvalidInputError
from .protocols import GroupSet
from .sql_ratings import SqlRatingStore, metadata

sets_table = sa.Table(
    "vlm4rec_group_sets",
    metadata,
    sa.Column("collection", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(120), primary_key=True),
    sa.Column("noun", sa.String(40), nullable=False),
    sa.Column("source", sa.String(1024), nullable=False),
    sa.Column("groups", sa.Integer, nullable=False),
    sa.Column("items", sa.Integer, nullable=False),
    sa.Column("added_at", sa.Double, nullable=False),
)
items_table = sa.Table(
    "vlm4rec_group_items",
    metadata,
    sa.Column("collection", sa.String(64), primary_key=True),
    sa.Column("set_name", sa.String(120), primary_key=True),
    sa.Column("group_id", sa.String(MAX_ID_LENGTH), primary_key=True),
    sa.Column("item_id", sa.String(MAX_ID_LENGTH), primary_key=True),
    sqlite_with_rowid=False,
)
PAGE = 5000


class SqlGroupStore:
    """One catalog's imported group sets, in the database its ratings are in."""

    def __init__(self, ratings: SqlRatingStore):
        self._ratings = ratings
        self.collection = ratings.collection
        ratings.create_tables()

    def add(self, name: str, noun: str, source: str, groups: Sequence[tuple[str, Sequence[str]]]) -> GroupSet:
        """Store a set (replacing one of the same name): ``groups`` are (group id, item ids)."""
        rows = {(group_id, item) for group_id, items in groups for item in items}
        done = GroupSet(
            name=name,
            noun=noun,
            source=source,
            groups=len({g for g, items in groups if items}),
            items=len({item for _, item in rows}),
            added_at=time.time(),
        )
        with self._ratings.transaction(write=True) as connection:
            self._delete(connection, name)
            connection.execute(sa.insert(sets_table).values(collection=self.collection, **done.model_dump()))
            values = [
                {"collection": self.collection, "set_name": name, "group_id": g, "item_id": i} for g, i in sorted(rows)
            ]
            for start in range(0, len(values), PAGE):
                connection.execute(sa.insert(items_table), values[start : start + PAGE])
        return done

    def sets(self) -> list[GroupSet]:
        t = sets_table
        query = sa.select(t).where(t.c.collection == self.collection).order_by(t.c.name)
        with self._ratings.transaction() as connection:
            return [
                GroupSet(**{k: v for k, v in row.items() if k != "collection"})
                for row in connection.execute(query).mappings()
            ]

    def remove(self, name: str) -> GroupSet | None:
        """Remove a set; the one removed, or None when there was none of that name."""
        found = next((s for s in self.sets() if s.name == name), None)
        if found is not None:
            with self._ratings.transaction(write=True) as connection:
                self._delete(connection, name)
        return found

    def groups(self) -> Iterator[tuple[str, str, list[str]]]:
        """Every group as (set name, group id, item ids), set by set."""
        t = items_table
        for group_set in self.sets():
            query = (
                sa.select(t.c.group_id, t.c.item_id)
                .where(t.c.collection == self.collection, t.c.set_name == group_set.name)
                .order_by(t.c.group_id, t.c.item_id)
            )
            with self._ratings.transaction() as connection:
                rows = connection.execute(query).all()
            current, items = None, []
            for group_id, item in rows:
                if group_id != current and items:
                    yield group_set.name, current, items
                    items = []
                current = group_id
                items.append(item)
            if items:
                yield group_set.name, current, items

    def version(self) -> tuple:
        """Changes whenever a set is added, replaced or removed."""
        return tuple((s.name, s.added_at) for s in self.sets())

    def _delete(self, connection, name: str) -> None:
        connection.execute(
            sa.delete(items_table).where(items_table.c.collection == self.collection, items_table.c.set_name == name)
        )
        connection.execute(
            sa.delete(sets_table).where(sets_table.c.collection == self.collection, sets_table.c.name == name)
        )


class NoGroupStore:
    """The group sets beside a rating store that is not SQL: none, and none can be added."""

    def add(self, name: str, noun: str, source: str, groups) -> GroupSet:
        raise InvalidInputError("this engine's rating store cannot keep group sets", "use the SQL rating store")

    def sets(self) -> list[GroupSet]:
        return []

    def remove(self, name: str) -> GroupSet | None:
        return None

    def groups(self) -> Iterator[tuple[str, str, list[str]]]:
        return iter(())

    def version(self) -> tuple:
        return ()
