"""Property-based tests of the stores' invariants, against the real SQLite rating store and the
real (embedded) Chroma catalog.

A model written in plain Python says what the ratings should be after any sequence of likes,
dislikes, forgets and resets, and what every query made of them returns; the catalog's upserts
must be idempotent whatever the order.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlm4rec_agent.grounding.schema import Attributes, GroundingRecord
from vlm4rec_agent.items import StoredItem
from vlm4rec_agent.settings import Settings
from vlm4rec_agent.store import ChromaCatalogIndex, SqlRatingStore, open_client

USERS = ["ann", "bob", "ünïcødé ✓"]
ITEMS = ["a", "b", "c", "d"]
operation = st.one_of(
    st.tuples(st.sampled_from(["like", "dislike", "forget"]), st.sampled_from(USERS), st.sampled_from(ITEMS)),
    st.tuples(st.just("reset"), st.sampled_from(USERS), st.none()),
)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    return open_client(Settings(home=tmp_path_factory.mktemp("properties")))


@pytest.fixture(scope="module")
def ratings_url(tmp_path_factory):
    return f"sqlite:///{(tmp_path_factory.mktemp('ratings') / 'ratings.sqlite').as_posix()}"


@settings(max_examples=25, deadline=None)
@given(st.lists(operation, max_size=25))
def test_ratings_match_a_simple_model_after_any_sequence(ratings_url, operations):
    store = SqlRatingStore.open(ratings_url, f"c{uuid.uuid4().hex}")  # a new catalog in the same database
    model: dict[str, dict[str, int]] = {user: {} for user in USERS}  # insertion order = rating order
    for action, user, item in operations:
        if action == "reset":
            assert store.reset(user) == len(model[user])
            model[user].clear()
        elif action == "forget":
            assert store.forget(user, item) == (item in model[user])
            model[user].pop(item, None)
        else:
            store.rate(user, item, 1 if action == "like" else -1)
            model[user].pop(item, None)  # a new rating replaces the old one and is the latest
            model[user][item] = 1 if action == "like" else -1
    for user in USERS:
        profile = store.profile(user)
        assert profile.liked == [i for i, v in model[user].items() if v > 0]
        assert profile.disliked == [i for i, v in model[user].items() if v < 0]
        assert set(profile.liked).isdisjoint(profile.disliked)  # never both
    assert store.count() == sum(len(m) for m in model.values())
    assert store.count_users() == sum(1 for m in model.values() if m)
    assert list(store.likes()) == [(u, i) for u in sorted(USERS) for i, v in model[u].items() if v > 0]
    liked_by = {item: {u for u in USERS if model[u].get(item) == 1} for item in ITEMS}
    together = {
        item: {other: len(liked_by[item] & liked_by[other]) for other in ITEMS if other != item} for item in ITEMS
    }
    assert store.liked_together(ITEMS) == {i: {o: n for o, n in together[i].items() if n} for i in ITEMS}
    store.close()


def _item(item_id: str, version: int) -> StoredItem:
    record = GroundingRecord(
        attributes=Attributes(category="lamp", colors=["red"]), grounder="basic", model_id="m", prompt_version="v"
    )
    return StoredItem(id=item_id, image=f"/{item_id}.jpg", title=f"{item_id} v{version}", record=record)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ITEMS), st.integers(0, 3)), min_size=1, max_size=12))
def test_upserts_are_idempotent_and_the_last_write_wins(client, writes):
    store = ChromaCatalogIndex.open(client, f"c{uuid.uuid4().hex}", "enc", dim=3)
    last: dict[str, int] = {}
    for item_id, version in writes:
        vector = np.array([[1.0, version, ITEMS.index(item_id)]], dtype=np.float32)
        store.upsert([_item(item_id, version)], vector / np.linalg.norm(vector), ["doc"])
        last[item_id] = version
    assert store.count() == len(last)
    stored = store.get(list(ITEMS), with_vectors=True)
    assert set(stored) == set(last)
    for item_id, version in last.items():
        assert stored[item_id].item.title == f"{item_id} v{version}"
        expected = np.array([1.0, version, ITEMS.index(item_id)])
        assert np.allclose(stored[item_id].vector, expected / np.linalg.norm(expected), atol=1e-6)
