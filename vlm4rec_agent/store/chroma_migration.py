"""Opening the rating store, and moving the likes that earlier versions kept in Chroma into it, once.

Until the SQL store, each like or dislike was a Chroma record in the collection
``{catalog}__ratings`` (id ``json.dumps([user, item])``, a one-dimensional placeholder vector,
metadata ``{user, item, value, at}``), in the embedded store under ``VLM4REC_HOME/chroma`` or on
a Chroma server. When a catalog's ratings are opened, :func:`open_rating_store` decides:

1. An import from this Chroma location (the server's URL, or this machine's name and the embedded
   folder) is recorded in the SQL database: nothing to do; Chroma is not opened.
2. Embedded Chroma and no ``chroma`` folder: there is nothing to look at (none is made to look).
3. No ``{catalog}__ratings`` collection there: that is recorded, and not looked for again.
4. That collection was imported before from elsewhere (same Chroma collection id: a moved
   ``VLM4REC_HOME``): the new location is recorded; nothing is imported twice.
5. Otherwise every rating is read, checked against the collection's count, and moved in one
   transaction (:meth:`SqlRatingStore.import_ratings`), keeping ``at`` as the rating's time and
   never replacing a later SQL rating of the same (user, item). The record says where from, how
   many were found, imported and skipped, and when; one INFO line says the same.

The Chroma collection is left as it was: the move loses nothing and can be made again into
another database.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import replace

import chromadb
from chromadb.errors import NotFoundError as ChromaNotFound

from ..catalogs import MAX_ID_LENGTH
from ..errors import StoreError
from ..settings import Settings
from ..text_input import MAX_USER_ID_LENGTH
from .connection import call_store
from .sql_ratings import ImportRecord, Rating, SqlRatingStore

log = logging.getLogger(__name__)

LEGACY_SUFFIX = "__ratings"
PAGE = 5000


def open_rating_store(settings: Settings, chroma: Callable[[], chromadb.ClientAPI]) -> SqlRatingStore:
    """The catalog's rating store, with any ratings an earlier version kept in Chroma moved in.

    ``chroma`` gives the Chroma client; it is called only when there may be ratings to move.
    """
    store = SqlRatingStore.open(settings.ratings_database_url, settings.collection)
    try:
        migrate_chroma_ratings(store, settings, chroma)
    except BaseException:
        store.close()
        raise
    if settings.chroma_host and not settings.ratings_url:
        log.info(
            "likes are kept in %s; set VLM4REC_RATINGS_URL to share them with processes on other machines",
            store.location,
        )
    return store


def chroma_source(settings: Settings) -> str:
    """Where the Chroma store is, as an import records it: the server, or this machine's folder."""
    if settings.chroma_host:
        return f"chroma:{settings.store_location}"
    return f"chroma:{socket.gethostname()}:{settings.chroma_path.resolve()}"


def migrate_chroma_ratings(
    store: SqlRatingStore, settings: Settings, chroma: Callable[[], chromadb.ClientAPI]
) -> ImportRecord | None:
    """Move the catalog's Chroma ratings into ``store`` unless this location was looked at before.

    Returns what was recorded, or None when nothing was looked at.
    """
    source = chroma_source(settings)
    if store.import_record(source) is not None:
        return None
    if not settings.chroma_host and not settings.chroma_path.is_dir():
        return None
    location, name = settings.store_location, settings.collection + LEGACY_SUFFIX
    client = chroma()
    try:
        collection = call_store(location, client.get_collection, name, embedding_function=None)
    except (ChromaNotFound, ValueError):
        collection = None
    record = ImportRecord(collection=store.collection, source=source, source_collection=name, source_id=None, found=0)
    if collection is None:
        return store.record_import(replace(record, imported_at=time.time()))
    record = replace(record, source_id=str(collection.id))
    earlier = store.import_record_by_source_id(record.source_id)
    if earlier is not None:
        log.info(
            "ratings of catalog %r in Chroma (%s, %s) were moved into %s before, from %s; not moved again",
            store.collection, location, name, store.location, earlier.source,
        )  # fmt: skip
        already = earlier.imported + earlier.skipped
        seen = replace(record, found=earlier.found, skipped=already, unusable=earlier.unusable, imported_at=time.time())
        return store.record_import(seen)

    expected = call_store(location, collection.count)
    ratings, unusable = read_chroma_ratings(collection, location)
    if len(ratings) + unusable != expected:
        raise StoreError(
            f"read {len(ratings) + unusable} of the {expected} ratings in Chroma's {name} at {location}; "
            "nothing was moved into the ratings database",
            "stop any older version of vlm4rec still writing likes there, then try again",
        )
    done = store.import_ratings(ratings, replace(record, found=expected, unusable=unusable))
    log.info(
        "moved %d likes and dislikes of catalog %r from Chroma (%s, %s) into %s (%d found, %d already there or "
        "rated again since, %d unusable); the Chroma collection is left as it was",
        done.imported, store.collection, location, name, store.location, done.found, done.skipped, done.unusable,
    )  # fmt: skip
    return done


def read_chroma_ratings(collection, location: str) -> tuple[list[Rating], int]:
    """Every rating in a ``{catalog}__ratings`` collection, and how many records were not ratings."""
    ratings: dict[tuple[str, str], Rating] = {}
    unusable = 0
    offset = 0
    while True:
        page = call_store(location, collection.get, include=["metadatas"], limit=PAGE, offset=offset)
        for record_id, metadata in zip(page["ids"], page["metadatas"]):
            rating = legacy_rating(record_id, metadata)
            key = (rating.user, rating.item) if rating else None
            if rating is None or key in ratings:
                unusable += 1
            else:
                ratings[key] = rating
        if len(page["ids"]) < PAGE:
            return sorted(ratings.values(), key=lambda r: (r.user, r.at)), unusable
        offset += PAGE


def legacy_rating(record_id: str, metadata: dict | None) -> Rating | None:
    """One Chroma rating record as a :class:`Rating`; None when it is not one this store can hold."""
    metadata = metadata or {}
    user, item = metadata.get("user"), metadata.get("item")
    if not (isinstance(user, str) and isinstance(item, str)):
        try:
            user, item = json.loads(record_id)
        except (ValueError, TypeError):
            return None
    value, at = metadata.get("value"), metadata.get("at", 0.0)
    if not isinstance(value, int | float) or not value or not isinstance(at, int | float):
        return None
    if not (isinstance(user, str) and isinstance(item, str)) or not user or not item:
        return None
    if len(user) > MAX_USER_ID_LENGTH or len(item) > MAX_ID_LENGTH:
        return None
    return Rating(user, item, 1 if value > 0 else -1, float(at))
