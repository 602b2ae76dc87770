"""Shoppers' likes and dislikes in SQL, through SQLAlchemy Core: the :class:`RatingStore` protocol.

By default a SQLite file (``VLM4REC_HOME/ratings.sqlite``), which the processes of one machine
share; any database SQLAlchemy reaches (``VLM4REC_RATINGS_URL``, e.g. PostgreSQL) when several
machines share shoppers. Every catalog's ratings live in one table, one row per
(catalog, shopper, item)::

    vlm4rec_ratings   collection, user_id, item_id, value (1 or -1), rated_at (seconds since 1970)
      primary key (collection, user_id, item_id)     one rating per shopper and item; count_users
      index (collection, user_id, rated_at)          a profile, oldest first
      index (collection, item_id, value, user_id)    who liked an item: liked_together
    vlm4rec_rating_imports                           ratings moved in from elsewhere, once per source

A rating is one upsert (SQLite's and PostgreSQL's ``ON CONFLICT DO UPDATE``; an update-or-insert
elsewhere), so concurrent likes never overwrite each other and a repeated like changes nothing
but its time. SQLite runs in WAL mode with a busy timeout, so readers never wait and writers from
several processes queue; this module begins SQLite's transactions itself (``BEGIN IMMEDIATE`` for
writes) rather than leaving it to the ``sqlite3`` module's legacy mode.

What a user can get wrong (a bad URL, a missing driver, a server that does not answer) becomes one
line naming the database without its password.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url

from ..catalogs import MAX_ID_LENGTH
from ..errors import ConfigurationError, StoreError
from ..text_input import MAX_USER_ID_LENGTH
from .protocols import Profile, RatingValue

BUSY_TIMEOUT_S = 30.0  # how long a SQLite writer waits for another process's write to finish
PAGE = 5000  # rows per query when reading a whole catalog's ratings
IN_CHUNK = 500  # ids per IN (...) list
URL_HINT = (
    "set VLM4REC_RATINGS_URL to a SQLAlchemy URL such as postgresql+psycopg://USER:PASSWORD@HOST:5432/DB or "
    "sqlite:////path/to/ratings.sqlite, or unset it to keep likes in HOME/ratings.sqlite"
)

metadata = sa.MetaData()
ratings_table = sa.Table(
    "vlm4rec_ratings",
    metadata,
    sa.Column("collection", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(MAX_USER_ID_LENGTH), primary_key=True),
    sa.Column("item_id", sa.String(MAX_ID_LENGTH), primary_key=True),
    sa.Column("value", sa.SmallInteger, nullable=False),
    sa.Column("rated_at", sa.Double, nullable=False),
    sa.CheckConstraint("value IN (1, -1)", name="vlm4rec_rating_value"),
    sa.Index("vlm4rec_ratings_by_time", "collection", "user_id", "rated_at"),
    sa.Index("vlm4rec_ratings_by_item", "collection", "item_id", "value", "user_id"),
    sqlite_with_rowid=False,  # the table is its primary key's b-tree: no second copy of the key
)
imports_table = sa.Table(
    "vlm4rec_rating_imports",
    metadata,
    sa.Column("collection", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(1024), primary_key=True),  # where: e.g. chroma:http://host:8000
    sa.Column("source_collection", sa.String(600), nullable=False),
    sa.Column("source_id", sa.String(64), index=True),  # the source collection's own id, when it had one
    sa.Column("found", sa.Integer, nullable=False),
    sa.Column("imported", sa.Integer, nullable=False),
    sa.Column("skipped", sa.Integer, nullable=False),  # found, but this rating or a later one was already here
    sa.Column("unusable", sa.Integer, nullable=False),  # found, but not a rating this store can hold
    sa.Column("imported_at", sa.Double, nullable=False),
)


@dataclass(frozen=True)
class Rating:
    user: str
    item: str
    value: RatingValue
    at: float  # seconds since 1970


@dataclass(frozen=True)
class ImportRecord:
    """Ratings moved in from another store (or the finding that it held none): looked at once."""

    collection: str
    source: str
    source_collection: str
    source_id: str | None
    found: int
    imported: int = 0
    skipped: int = 0
    unusable: int = 0
    imported_at: float = 0.0


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _first_line(error: BaseException, url: URL) -> str:
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return line.replace(url.password, "***") if url.password else line


def create_database_engine(url: str) -> sa.Engine:
    """A SQLAlchemy engine for ``url``; a one-line :class:`ConfigurationError` when it cannot be used."""
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        raise ConfigurationError("VLM4REC_RATINGS_URL is not a database URL", URL_HINT) from None
    options: dict = {}
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite:
        database = parsed.database or ""
        if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
            raise ConfigurationError("an in-memory SQLite database forgets every like when the process ends", URL_HINT)
        if not parsed.query.get("uri"):
            folder = Path(database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(
                    f"cannot create the folder {folder} for the ratings database ({error.strerror})",
                    "set VLM4REC_HOME to a folder you can write to, or VLM4REC_RATINGS_URL to another database",
                ) from error
        options["connect_args"] = {"timeout": BUSY_TIMEOUT_S}
    else:
        options["pool_pre_ping"] = True  # a connection left over from before a server restart is replaced
    try:
        engine = sa.create_engine(parsed, **options)
    except sa_exc.NoSuchModuleError:
        raise ConfigurationError(
            f"VLM4REC_RATINGS_URL names a kind of database SQLAlchemy does not know ({parsed.drivername})", URL_HINT
        ) from None
    except ImportError as error:
        hint = (
            "install it with `pip install 'vlm4rec-agent[postgres]'` (psycopg) and use postgresql+psycopg://..."
            if parsed.get_backend_name() == "postgresql"
            else f"install the Python driver that {parsed.drivername} needs"
        )
        raise ConfigurationError(
            f"the database driver for {parsed.drivername} is not installed ({error.name or error})", hint
        ) from None
    if is_sqlite:
        _begin_sqlite_transactions_here(engine)
    return engine


def _begin_sqlite_transactions_here(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # the sqlite3 module begins nothing; "begin" below does
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # persistent; readers never wait for a writer
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # A writer takes the write lock at once (waiting up to the busy timeout) instead of failing
        # when it upgrades a read that another process's write has made stale.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.get_execution_options().get("write") else "BEGIN")


class SqlRatingStore:
    """One catalog's ratings in a SQL database that other catalogs may share. Thread-safe."""

    def __init__(self, engine: sa.Engine, collection: str):
        self._engine = engine
        self.collection = collection
        self._url = engine.url
        self._clock = threading.Lock()
        self._last_at = 0.0

    @classmethod
    def open(cls, url: str, collection: str) -> SqlRatingStore:
        """The store for ``collection`` in the database at ``url``, its tables made if missing."""
        store = cls(create_database_engine(url), collection)
        try:
            store._create_tables()
        except BaseException:
            store.close()
            raise
        return store

    @property
    def location(self) -> str:
        """The database, fit to show (no password)."""
        return _shown(self._url)

    def close(self) -> None:
        self._engine.dispose()

    # --- the protocol ----------------------------------------------------------------------
    def rate(self, user: str, item_id: str, value: RatingValue) -> None:
        if value not in (1, -1):
            raise ValueError(f"a rating is 1 or -1, not {value!r}")
        rating = Rating(user, item_id, value, self._now())
        with self._transaction(write=True) as connection:
            self._upsert(connection, [rating])

    def forget(self, user: str, item_id: str) -> bool:
        """Remove one rating; True when there was one."""
        with self._transaction(write=True) as connection:
            return connection.execute(sa.delete(ratings_table).where(self._key(user, item_id))).rowcount > 0

    def profile(self, user: str) -> Profile:
        t = ratings_table
        query = (
            sa.select(t.c.item_id, t.c.value)
            .where(t.c.collection == self.collection, t.c.user_id == user)
            .order_by(t.c.rated_at, t.c.item_id)
        )
        with self._transaction() as connection:
            rows = connection.execute(query).all()
        return Profile(user=user, liked=[i for i, v in rows if v > 0], disliked=[i for i, v in rows if v < 0])

    def reset(self, user: str) -> int:
        """Forget every rating of ``user``; returns how many there were."""
        t = ratings_table
        with self._transaction(write=True) as connection:
            deleted = sa.delete(t).where(t.c.collection == self.collection, t.c.user_id == user)
            return connection.execute(deleted).rowcount

    def count(self) -> int:
        """How many ratings the catalog's shoppers have made (counted in the primary key's index)."""
        t = ratings_table
        return self._scalar(sa.select(sa.func.count()).select_from(t).where(t.c.collection == self.collection))

    def count_users(self) -> int:
        """How many shoppers have at least one rating (counted in the primary key's index)."""
        t = ratings_table
        return self._scalar(sa.select(sa.func.count(sa.distinct(t.c.user_id))).where(t.c.collection == self.collection))

    def likes(self) -> Iterator[tuple[str, str]]:
        """Every (user, item) like of the catalog, user by user, each user's oldest first."""
        for rating in self._pages(likes_only=True):
            yield rating.user, rating.item

    def liked_together(self, item_ids: Sequence[str], limit: int = 100) -> dict[str, dict[str, int]]:
        """For each of ``item_ids``: the other items liked by the same shoppers, with how many
        shoppers liked both (at most ``limit`` per item, most shared first, then by id).

        One query per 500 ids: the item index finds each item's likers, the primary key their likes.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        wanted = list(dict.fromkeys(item_ids))
        together: dict[str, dict[str, int]] = {item: {} for item in wanted}
        a, b = ratings_table.alias("a"), ratings_table.alias("b")
        for start in range(0, len(wanted), IN_CHUNK):
            pairs = (
                sa.select(a.c.item_id.label("item"), b.c.item_id.label("other"), sa.func.count().label("shared"))
                .join(b, sa.and_(b.c.collection == a.c.collection, b.c.user_id == a.c.user_id))
                .where(
                    a.c.collection == self.collection, a.c.value == 1, a.c.item_id.in_(wanted[start : start + IN_CHUNK])
                )
                .where(b.c.value == 1, b.c.item_id != a.c.item_id)
                .group_by(a.c.item_id, b.c.item_id)
                .subquery()
            )
            order = sa.func.row_number().over(
                partition_by=pairs.c.item, order_by=(pairs.c.shared.desc(), pairs.c.other)
            )
            ranked = sa.select(pairs.c.item, pairs.c.other, pairs.c.shared, order.label("rank")).subquery()
            query = (
                sa.select(ranked.c.item, ranked.c.other, ranked.c.shared)
                .where(ranked.c.rank <= limit)
                .order_by(ranked.c.item, ranked.c.rank)
            )
            with self._transaction() as connection:
                for item, other, shared in connection.execute(query):
                    together[item][other] = shared
        return together

    # --- beyond the protocol ---------------------------------------------------------------
    def version(self) -> tuple[int, float]:
        """(ratings, latest rating time): changes with almost every write (a forget and a like at
        once can cancel out; the collaborative model is also rebuilt on a timer)."""
        t = ratings_table
        query = sa.select(sa.func.count(), sa.func.max(t.c.rated_at)).where(t.c.collection == self.collection)
        with self._transaction() as connection:
            count, latest = connection.execute(query).one()
        return int(count), float(latest or 0.0)

    def like_pairs(self) -> Iterator[tuple[str, str]]:
        """Every (user, item) like, user by user, in one streamed read of the primary key (for
        building models: ten times faster than :meth:`likes`, which pages in time order)."""
        t = ratings_table
        query = (
            sa.select(t.c.user_id, t.c.item_id)
            .where(t.c.collection == self.collection, t.c.value == 1)
            .order_by(t.c.user_id, t.c.item_id)
        )
        with self._transaction() as connection:
            for row in connection.execution_options(yield_per=PAGE).execute(query):
                yield row[0], row[1]

    def transaction(self, *, write: bool = False):
        """A transaction in this store's database (for the tables kept beside the ratings)."""
        return self._transaction(write=write)

    def create_tables(self) -> None:
        """Make the tables of every module that keeps its own beside the ratings, if missing."""
        self._create_tables()

    def all_ratings(self) -> Iterator[Rating]:
        """Every rating of the catalog, user by user, each user's oldest first (read page by page)."""
        return self._pages(likes_only=False)

    def import_record(self, source: str) -> ImportRecord | None:
        """What an import from ``source`` into this catalog recorded, if one was made."""
        t = imports_table
        return self._record(sa.select(t).where(t.c.collection == self.collection, t.c.source == source))

    def import_record_by_source_id(self, source_id: str) -> ImportRecord | None:
        """An import into this catalog of the source collection with this id, from wherever it was then."""
        t = imports_table
        return self._record(sa.select(t).where(t.c.collection == self.collection, t.c.source_id == source_id))

    def record_import(self, record: ImportRecord) -> ImportRecord:
        """Record that ``record.source`` was looked at (importing nothing); the record kept."""
        try:
            with self._transaction(write=True) as connection:
                connection.execute(sa.insert(imports_table).values(**self._record_row(record)))
            return record
        except sa_exc.IntegrityError:  # another process recorded it at the same moment
            return self.import_record(record.source) or record

    def import_ratings(self, ratings: Sequence[Rating], record: ImportRecord) -> ImportRecord:
        """Add ``ratings`` from ``record.source`` in one transaction, and record that it was done.

        A rating already here at the same or a later time is kept as it is (``skipped``). Before
        committing, every given rating is checked to be here, as given or replaced by a later one;
        otherwise nothing is kept. When another process imports the same source at the same time,
        one of them does it and the other returns its record.
        """
        keys = {(r.user, r.item) for r in ratings}
        if len(keys) != len(ratings):
            raise ValueError("one rating per (user, item)")
        try:
            with self._transaction(write=True) as connection:
                # The record first: a second importer of this source waits here, then fails.
                connection.execute(sa.insert(imports_table).values(**self._record_row(record)))
                users = sorted({r.user for r in ratings})
                before = self._times(connection, users)
                newer = [r for r in ratings if before.get((r.user, r.item), -1.0) < r.at]
                self._upsert(connection, newer, only_if_newer=True)
                after = self._times(connection, users, with_values=True)
                lost = [r for r in ratings if (r.user, r.item) not in after or after[r.user, r.item][1] < r.at]
                changed = [r for r in newer if after.get((r.user, r.item)) != (r.value, r.at)]
                if lost or changed:
                    raise StoreError(
                        f"moving ratings from {record.source} into {self.location} did not check out: "
                        f"{len(lost) + len(changed)} of {len(ratings)} are not as they were; nothing was moved",
                        "report this with the output of `vlm4rec --verbose stats`; the ratings stay where they were",
                    )
                done = replace(record, imported=len(newer), skipped=len(ratings) - len(newer), imported_at=time.time())
                t = imports_table
                counts = {
                    k: v for k, v in self._record_row(done).items() if k in ("imported", "skipped", "imported_at")
                }
                key = (t.c.collection == done.collection) & (t.c.source == done.source)
                connection.execute(sa.update(t).where(key).values(**counts))
            return done
        except sa_exc.IntegrityError:
            existing = self.import_record(record.source)
            if existing is None:
                raise
            return existing

    # --- inside ----------------------------------------------------------------------------
    def _now(self) -> float:
        """The time of a new rating: never earlier than this store's previous one (coarse clocks)."""
        with self._clock:
            self._last_at = max(time.time(), self._last_at + 1e-6)
            return self._last_at

    def _key(self, user: str, item_id: str):
        t = ratings_table
        return (t.c.collection == self.collection) & (t.c.user_id == user) & (t.c.item_id == item_id)

    def _upsert(self, connection: Connection, ratings: Sequence[Rating], only_if_newer: bool = False) -> None:
        if not ratings:
            return
        t = ratings_table
        rows = [
            {"collection": self.collection, "user_id": r.user, "item_id": r.item, "value": r.value, "rated_at": r.at}
            for r in ratings
        ]
        dialect = connection.dialect.name
        if dialect in ("sqlite", "postgresql"):
            insert = sqlite.insert(t) if dialect == "sqlite" else postgresql.insert(t)
            statement = insert.on_conflict_do_update(
                index_elements=list(t.primary_key),
                set_={"value": insert.excluded.value, "rated_at": insert.excluded.rated_at},
                where=(t.c.rated_at < insert.excluded.rated_at) if only_if_newer else None,
            )
            for start in range(0, len(rows), PAGE):
                connection.execute(statement, rows[start : start + PAGE])
            return
        for row in rows:  # any other database: update, else insert (a concurrent first insert fails cleanly)
            key = self._key(row["user_id"], row["item_id"])
            update = sa.update(t).where(key).values(value=row["value"], rated_at=row["rated_at"])
            if only_if_newer:
                update = update.where(t.c.rated_at < row["rated_at"])
            if connection.execute(update).rowcount == 0 and connection.execute(sa.select(1).where(key)).first() is None:
                connection.execute(sa.insert(t).values(**row))

    def _times(self, connection: Connection, users: Sequence[str], with_values: bool = False) -> dict:
        """(user, item) -> rated_at (or (value, rated_at)) for every rating of ``users`` in this catalog."""
        t = ratings_table
        found: dict = {}
        for start in range(0, len(users), IN_CHUNK):
            query = sa.select(t.c.user_id, t.c.item_id, t.c.value, t.c.rated_at).where(
                t.c.collection == self.collection, t.c.user_id.in_(users[start : start + IN_CHUNK])
            )
            for user, item, value, at in connection.execute(query):
                found[user, item] = (value, at) if with_values else at
        return found

    def _pages(self, likes_only: bool) -> Iterator[Rating]:
        t = ratings_table
        after: tuple[str, float, str] | None = None
        while True:
            query = sa.select(t.c.user_id, t.c.item_id, t.c.value, t.c.rated_at).where(
                t.c.collection == self.collection
            )
            if likes_only:
                query = query.where(t.c.value == 1)
            if after is not None:  # keyset paging on (user_id, rated_at, item_id), written out for every database
                user, at, item = after
                query = query.where(
                    sa.or_(
                        t.c.user_id > user,
                        sa.and_(
                            t.c.user_id == user,
                            sa.or_(t.c.rated_at > at, sa.and_(t.c.rated_at == at, t.c.item_id > item)),
                        ),
                    )
                )
            query = query.order_by(t.c.user_id, t.c.rated_at, t.c.item_id).limit(PAGE)
            with self._transaction() as connection:
                rows = connection.execute(query).all()
            for user, item, value, at in rows:
                yield Rating(user, item, value, at)
            if len(rows) < PAGE:
                return
            after = (rows[-1].user_id, rows[-1].rated_at, rows[-1].item_id)

    def _scalar(self, query) -> int:
        with self._transaction() as connection:
            return int(connection.execute(query).scalar_one())

    def _record(self, query) -> ImportRecord | None:
        with self._transaction() as connection:
            row = connection.execute(query.limit(1)).mappings().first()
        return ImportRecord(**row) if row else None

    @staticmethod
    def _record_row(record: ImportRecord) -> dict:
        return {field: getattr(record, field) for field in ImportRecord.__dataclass_fields__}

    def _create_tables(self) -> None:
        for attempt in range(3):
            try:
                with self._transaction(write=True) as connection:
                    metadata.create_all(connection)
                return
            except (sa_exc.IntegrityError, sa_exc.ProgrammingError):
                # Another process made them at the same moment (PostgreSQL); the next check sees them.
                if attempt == 2:
                    raise
                time.sleep(0.2)

    @contextmanager
    def _transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """A connection in a transaction, committed at the end; database failures a user can fix
        become a :class:`StoreError`."""
        try:
            with self._engine.connect() as connection:
                if write:
                    connection.execution_options(write=True)
                with connection.begin():
                    yield connection
        except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as error:
            raise self._failure(error) from error

    def _failure(self, error: Exception) -> StoreError:
        detail = _first_line(error, self._url)
        if self._url.get_backend_name() == "sqlite":
            lowered = detail.lower()
            if "locked" in lowered or "busy" in lowered:
                hint = f"another process kept it busy for more than {BUSY_TIMEOUT_S:g} s; try again"
            else:
                hint = "set VLM4REC_HOME to a folder you can write to, or VLM4REC_RATINGS_URL to another database"
            return StoreError(f"cannot use the ratings database {self._url.database} ({detail})", hint)
        return StoreError(
            f"cannot reach the ratings database at {self.location} ({type(error).__name__}: {detail})",
            "start the database server or correct VLM4REC_RATINGS_URL (unset, likes are kept in "
            "HOME/ratings.sqlite), then try again: repeating the last action is safe",
        )
