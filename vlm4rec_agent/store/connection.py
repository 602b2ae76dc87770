"""Calls into Chroma that ride out a server's brief absence and fail clearly when it stays away.

Every call the stores make goes through :func:`call_store`: a connection refused, reset or timed
out (a Chroma server restarting, a stale pooled connection after it came back) is retried a
couple of times after short pauses, then becomes a :class:`StoreError` that names the server and
says how to start it, instead of an httpx traceback. Retrying is safe for every call the stores
make: reads change nothing, and writes are upserts and deletes by id, so repeating one that did
reach the server leaves the same records.

Once the server is back, the same client and collection objects work again: nothing to reopen.

A collection whose vector index Chroma cannot read any more raises :class:`DamagedStoreError`.
Seen here: embedded Chroma killed (SIGKILL) while saving a collection's HNSW index (it does so
every 1,000 writes) left index files newer than their id map; every read of that collection then
failed ("Failed to apply logs to the hnsw segment writer"). Other collections were unharmed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import chromadb
import httpx
from chromadb.errors import InternalError as ChromaInternalError

from ..errors import StoreError

log = logging.getLogger(__name__)

# Words in Chroma's internal errors that point at a damaged vector index rather than a passing fault.
DAMAGE_SIGNS = ("hnsw", "backfill", "error finding id")
# Pauses before each retry of a call that could not reach the store (about 0.7 s in all).
RETRY_DELAYS: Sequence[float] = (0.2, 0.5)
T = TypeVar("T")


def store_location(client: chromadb.ClientAPI) -> str:
    """Where a client's data lives: the server's URL, or the embedded store's folder."""
    settings = client.get_settings()
    if settings.chroma_server_host:
        scheme = "https" if settings.chroma_server_ssl_enabled else "http"
        return f"{scheme}://{settings.chroma_server_host}:{settings.chroma_server_http_port}"
    return str(settings.persist_directory)


def unreachable(location: str, error: Exception) -> StoreError:
    """The error a user sees when the Chroma server does not answer."""
    port = location.rsplit(":", 1)[-1] if location.startswith("http") else "PORT"
    return StoreError(
        f"cannot reach the Chroma server at {location} ({type(error).__name__}: {error})",
        f"start it with `chroma run --path DIR --port {port}` (the folder it used before keeps every item; "
        "likes are in the ratings database), then try again: repeating the last action is safe; or unset VLM4REC_CHROMA_HOST to use the "
        "embedded store",
    )


class DamagedStoreError(StoreError):
    """A collection's vector index cannot be read; its records (and other collections) may be intact."""


def damaged(location: str, error: Exception) -> DamagedStoreError:
    return DamagedStoreError(
        f"the Chroma store at {location} cannot read a collection's vector index ({error}); it was probably "
        "damaged by a process killed while Chroma saved it",
        "ingest the catalog again: the ingest rebuilds a damaged catalog (likes are kept, and cached VLM answers "
        "are not asked again); ingest every catalog file that went into it",
    )


def call_store(location: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)``, retried after :data:`RETRY_DELAYS` when the store cannot be reached."""
    for delay in (*RETRY_DELAYS, None):
        try:
            return call(*args, **kwargs)
        except httpx.TransportError as error:
            if delay is None:
                raise unreachable(location, error) from error
            log.info("Chroma at %s: %s; retrying in %.1f s", location, error, delay)
            time.sleep(delay)
        except ChromaInternalError as error:
            if any(sign in str(error).lower() for sign in DAMAGE_SIGNS):
                raise damaged(location, error) from error
            raise
    raise AssertionError("not reached")  # the last pass returns or raises


class GuardedCollection:
    """A Chroma collection whose calls go through :func:`call_store` (only the calls the stores use)."""

    def __init__(self, collection: chromadb.Collection, location: str):
        self._collection = collection
        self.location = location

    @property
    def name(self) -> str:
        return self._collection.name

    @property
    def metadata(self) -> dict | None:
        return self._collection.metadata

    def count(self) -> int:
        return call_store(self.location, self._collection.count)

    def get(self, **kwargs: Any) -> Any:
        return call_store(self.location, self._collection.get, **kwargs)

    def query(self, **kwargs: Any) -> Any:
        return call_store(self.location, self._collection.query, **kwargs)

    def upsert(self, **kwargs: Any) -> None:
        call_store(self.location, self._collection.upsert, **kwargs)

    def update(self, **kwargs: Any) -> None:
        call_store(self.location, self._collection.update, **kwargs)

    def delete(self, **kwargs: Any) -> None:
        call_store(self.location, self._collection.delete, **kwargs)

    def __getattr__(self, name: str) -> Any:  # anything else (benchmarks, tests): the collection's own, unguarded
        return getattr(self._collection, name)
