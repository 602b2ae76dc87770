import pytest

from vlm4rec_agent.errors import InvalidInputError
from vlm4rec_agent.store import ChromaRatingStore, open_client, validate_user_id


@pytest.fixture
def ratings(settings):
    return ChromaRatingStore.open(open_client(settings), "catalog")


def test_likes_and_dislikes_in_the_order_they_were_given(ratings):
    ratings.rate("alice", "a", 1)
    ratings.rate("alice", "b", -1)
    ratings.rate("alice", "c", 1)
    profile = ratings.profile("alice")
    assert profile.liked == ["a", "c"] and profile.disliked == ["b"]
    assert profile.rated == {"a", "b", "c"}


def test_rating_again_replaces_and_repeats_are_idempotent(ratings):
    ratings.rate("alice", "a", 1)
    ratings.rate("alice", "a", 1)
    assert ratings.count() == 1
    ratings.rate("alice", "a", -1)
    assert ratings.profile("alice").disliked == ["a"] and ratings.profile("alice").liked == []


def test_users_never_see_each_others_ratings(ratings):
    ratings.rate("alice", "a", 1)
    ratings.rate("bob", "b", 1)
    assert ratings.profile("alice").liked == ["a"]
    assert ratings.profile("bob").liked == ["b"]
    assert ratings.users() == {"alice", "bob"}
    assert ratings.profile("carol").is_empty


def test_forget_and_reset(ratings):
    for item in "abc":
        ratings.rate("alice", item, 1)
    ratings.rate("bob", "a", 1)
    assert ratings.forget("alice", "b") is True
    assert ratings.forget("alice", "b") is False
    assert ratings.profile("alice").liked == ["a", "c"]
    assert ratings.reset("alice") == 2
    assert ratings.profile("alice").is_empty and ratings.profile("bob").liked == ["a"]


def test_ids_with_separators_cannot_collide(ratings):
    ratings.rate('a","b', "c", 1)
    ratings.rate("a", '","b","c', 1)
    assert ratings.profile('a","b').liked == ["c"]
    assert ratings.profile("a").liked == ['","b","c']


def test_ratings_persist_across_clients(ratings, settings):
    ratings.rate("alice", "a", 1)
    assert ChromaRatingStore.open(open_client(settings), "catalog").profile("alice").liked == ["a"]


def test_user_ids_are_checked():
    assert validate_user_id("  alice ") == "alice"
    for bad in ("", "   ", None, "x" * 200, "bad\nid"):
        with pytest.raises(InvalidInputError):
            validate_user_id(bad)
