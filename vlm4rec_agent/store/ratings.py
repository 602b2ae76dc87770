"""Shoppers' likes and dislikes, one Chroma record per (user, item).

A rating is its own record, so concurrent likes by one shopper never overwrite each other and a
repeated like is an idempotent upsert. Keeping ratings in Chroma means that app processes sharing
a Chroma server share profiles too. Chroma needs a vector per record; ratings carry a constant
one-dimensional placeholder and are only ever read by metadata.
"""

from __future__ import annotations

import json
import time
from typing import Literal

import chromadb

from ..text_input import validate_user_id  # noqa: F401 (imported from here before)
from .connection import GuardedCollection, call_store, store_location
from .protocols import Profile

_PLACEHOLDER = [[0.0]]


class RatingStore:
    def __init__(self, collection: GuardedCollection):
        self._collection = collection

    @classmethod
    def open(cls, client: chromadb.ClientAPI, catalog_name: str) -> RatingStore:
        location = store_location(client)
        name = f"{catalog_name}__ratings"
        collection = call_store(location, client.get_or_create_collection, name, embedding_function=None)
        return cls(GuardedCollection(collection, location))

    @staticmethod
    def _record_id(user: str, item_id: str) -> str:
        return json.dumps([user, item_id], ensure_ascii=False)

    def rate(self, user: str, item_id: str, value: Literal[1, -1]) -> None:
        self._collection.upsert(
            ids=[self._record_id(user, item_id)],
            embeddings=_PLACEHOLDER,
            metadatas=[{"user": user, "item": item_id, "value": int(value), "at": time.time()}],
        )

    def forget(self, user: str, item_id: str) -> bool:
        """Remove one rating; True when there was one."""
        record_id = self._record_id(user, item_id)
        if not self._collection.get(ids=[record_id], include=[])["ids"]:
            return False
        self._collection.delete(ids=[record_id])
        return True

    def profile(self, user: str) -> Profile:
        result = self._collection.get(where={"user": user}, include=["metadatas"])
        ratings = sorted(result["metadatas"], key=lambda m: m.get("at", 0.0))
        return Profile(
            user=user,
            liked=[m["item"] for m in ratings if m["value"] > 0],
            disliked=[m["item"] for m in ratings if m["value"] < 0],
        )

    def reset(self, user: str) -> int:
        ids = self._collection.get(where={"user": user}, include=[])["ids"]
        if ids:
            self._collection.delete(ids=ids)
        return len(ids)

    def users(self) -> set[str]:
        result = self._collection.get(include=["metadatas"])
        return {m["user"] for m in result["metadatas"]}

    def count(self) -> int:
        return self._collection.count()
