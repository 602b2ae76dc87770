"""The SQL rating store, on SQLite and (marked slow) PostgreSQL: see ``ratings`` in conftest.py."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from chroma_server import free_port
from vlm4rec_agent.errors import ConfigurationError, InvalidInputError, StoreError
from vlm4rec_agent.settings import Settings
from vlm4rec_agent.store import SqlRatingStore, sql_ratings, validate_user_id
from vlm4rec_agent.store.protocols import RatingStore


def test_it_is_a_rating_store(ratings):
    assert isinstance(ratings, RatingStore)


def test_likes_and_dislikes_in_the_order_they_were_given(ratings):
    ratings.rate("alice", "a", 1)
    ratings.rate("alice", "b", -1)
    ratings.rate("alice", "c", 1)
    profile = ratings.profile("alice")
    assert profile.liked == ["a", "c"] and profile.disliked == ["b"]
    assert profile.rated == {"a", "b", "c"}


def test_rating_again_replaces_and_repeats_are_idempotent(ratings):
    ratings.rate("alice", "a", 1)
    ratings.rate("alice", "b", 1)
    ratings.rate("alice", "a", 1)
    assert ratings.count() == 2
    assert ratings.profile("alice").liked == ["b", "a"]  # the repeat is the latest
    ratings.rate("alice", "a", -1)
    assert ratings.profile("alice").disliked == ["a"] and ratings.profile("alice").liked == ["b"]
    with pytest.raises(ValueError):
        ratings.rate("alice", "a", 0)


def test_users_never_see_each_others_ratings(ratings):
    ratings.rate("alice", "a", 1)
    ratings.rate("bob", "b", 1)
    assert ratings.profile("alice").liked == ["a"]
    assert ratings.profile("bob").liked == ["b"]
    assert ratings.count_users() == 2 and ratings.count() == 2
    assert ratings.profile("carol").is_empty


def test_forget_and_reset(ratings):
    for item in "abc":
        ratings.rate("alice", item, 1)
    ratings.rate("bob", "a", 1)
    assert ratings.forget("alice", "b") is True
    assert ratings.forget("alice", "b") is False
    assert ratings.profile("alice").liked == ["a", "c"]
    assert ratings.reset("alice") == 2
    assert ratings.reset("alice") == 0
    assert ratings.profile("alice").is_empty and ratings.profile("bob").liked == ["a"]
    assert ratings.count_users() == 1


def test_ids_with_separators_and_any_script_cannot_collide(ratings):
    ratings.rate('a","b', "c", 1)
    ratings.rate("a", '","b","c', 1)
    ratings.rate("ünïcødé ✓", "'; DROP TABLE vlm4rec_ratings; --", -1)
    assert ratings.profile('a","b').liked == ["c"]
    assert ratings.profile("a").liked == ['","b","c']
    assert ratings.profile("ünïcødé ✓").disliked == ["'; DROP TABLE vlm4rec_ratings; --"]


def test_ratings_persist_across_opens(ratings, ratings_url):
    ratings.rate("alice", "a", 1)
    ratings.close()
    again = SqlRatingStore.open(ratings_url, "catalog")
    assert again.profile("alice").liked == ["a"]
    again.close()


def test_catalogs_sharing_one_database_stay_apart(ratings, ratings_url):
    other = SqlRatingStore.open(ratings_url, "other-catalog")
    ratings.rate("alice", "a", 1)
    other.rate("alice", "b", -1)
    other.rate("bob", "b", 1)
    assert ratings.profile("alice").liked == ["a"] and ratings.count_users() == 1
    assert other.profile("alice").disliked == ["b"] and other.count() == 2
    assert list(ratings.likes()) == [("alice", "a")] and ratings.liked_together(["b"]) == {"b": {}}
    other.close()


def test_likes_are_every_like_user_by_user_across_pages(ratings, monkeypatch):
    monkeypatch.setattr(sql_ratings, "PAGE", 3)  # several pages, with ties broken by item id
    for user, items in [("bob", "zyx"), ("alice", "abcd"), ("carol", "q")]:
        for item in items:
            ratings.rate(user, item, 1)
    ratings.rate("alice", "e", -1)
    expected = [("alice", i) for i in "abcd"] + [("bob", i) for i in "zyx"] + [("carol", "q")]
    assert list(ratings.likes()) == expected
    assert [(r.user, r.item, r.value) for r in ratings.all_ratings()][4] == ("alice", "e", -1)


def test_liked_together_counts_shoppers_who_liked_both(ratings):
    likes = {"ann": "abc", "bob": "ab", "cat": "ad", "dan": "bd"}
    for user, items in likes.items():
        for item in items:
            ratings.rate(user, item, 1)
    ratings.rate("eve", "a", 1)
    ratings.rate("eve", "c", -1)  # a dislike is not liked together
    together = ratings.liked_together(["a", "d", "nobody-likes-this", "a"])
    assert together == {"a": {"b": 2, "c": 1, "d": 1}, "d": {"a": 1, "b": 1}, "nobody-likes-this": {}}
    assert list(together["a"]) == ["b", "c", "d"]  # most shared first, then by id
    assert ratings.liked_together(["a"], limit=1) == {"a": {"b": 2}}
    assert ratings.liked_together([]) == {}
    with pytest.raises(ValueError):
        ratings.liked_together(["a"], limit=0)


def test_threads_rating_at_once_lose_nothing(ratings):
    def shopper(n: int) -> None:
        for i in range(25):
            ratings.rate("ann", f"t{n}-{i:02d}", 1 if i % 3 else -1)
            ratings.rate(f"user-{n}", f"x{i}", 1)

    threads = [threading.Thread(target=shopper, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    profile = ratings.profile("ann")
    assert len(profile.rated) == 150 and ratings.count() == 300 and ratings.count_users() == 7
    for n in range(6):  # each thread's likes in the order it made them
        assert [i for i in profile.liked if i.startswith(f"t{n}-")] == [f"t{n}-{i:02d}" for i in range(25) if i % 3]


def test_user_ids_are_checked():
    assert validate_user_id("  alice ") == "alice"
    for bad in ("", "   ", None, "x" * 200, "bad\nid"):
        with pytest.raises(InvalidInputError):
            validate_user_id(bad)


# --- the database behind it ---------------------------------------------------------------
def test_by_default_a_sqlite_file_in_home_in_wal_mode(tmp_path):
    settings = Settings(home=tmp_path / "home")
    assert settings.ratings_database_url == f"sqlite:///{(tmp_path / 'home' / 'ratings.sqlite').as_posix()}"
    store = SqlRatingStore.open(settings.ratings_database_url, "catalog")
    store.rate("alice", "a", 1)
    store.close()
    with sqlite3.connect(tmp_path / "home" / "ratings.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("SELECT user_id, item_id, value FROM vlm4rec_ratings").fetchall() == [("alice", "a", 1)]
    assert (
        Settings(home=tmp_path, ratings_url="sqlite:////elsewhere.db").ratings_database_url == "sqlite:////elsewhere.db"
    )


def test_the_queries_a_request_makes_are_index_searches(tmp_path):
    store = SqlRatingStore.open(f"sqlite:///{tmp_path}/r.sqlite", "catalog")
    store.close()
    queries = {
        "profile": "SELECT item_id, value FROM vlm4rec_ratings WHERE collection='c' AND user_id='u' ORDER BY rated_at",
        "count_users": "SELECT count(DISTINCT user_id) FROM vlm4rec_ratings WHERE collection='c'",
        "likers": "SELECT user_id FROM vlm4rec_ratings WHERE collection='c' AND item_id IN ('x', 'y') AND value=1",
    }
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        for name, query in queries.items():
            plan = " ".join(row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + query))
            assert "SCAN" not in plan and ("INDEX" in plan or "PRIMARY KEY" in plan), (name, plan)


@pytest.mark.parametrize(
    "url, message",
    [
        ("not a url", "VLM4REC_RATINGS_URL is not a database URL"),
        ("nosuchdb://ann:s3cret@host/db", "a kind of database SQLAlchemy does not know (nosuchdb)"),
        ("mysql+nosuchdriver://ann:s3cret@host/db", "a kind of database SQLAlchemy does not know"),
        ("postgresql+psycopg2://ann:s3cret@host/db", "the database driver for postgresql+psycopg2 is not installed"),
        ("sqlite://", "an in-memory SQLite database forgets every like"),
        ("sqlite:///:memory:", "an in-memory SQLite database forgets every like"),
    ],
)
def test_unusable_urls_are_one_line_configuration_errors(url, message):
    if "psycopg2" in url:
        try:
            import psycopg2  # noqa: F401

            pytest.skip("psycopg2 is installed here")
        except ImportError:
            pass
    with pytest.raises(ConfigurationError) as caught:
        SqlRatingStore.open(url, "catalog")
    text = str(caught.value)
    assert message in text and "\n" not in text and "s3cret" not in text, text
    assert "VLM4REC_RATINGS_URL" in text or "pip install" in text


def test_an_unreachable_server_is_a_clear_error_without_its_password():
    pytest.importorskip("psycopg")
    url = f"postgresql+psycopg://ann:s3cret@127.0.0.1:{free_port()}/shop"
    with pytest.raises(StoreError) as caught:
        SqlRatingStore.open(url, "catalog")
    text = str(caught.value)
    assert text.startswith("cannot reach the ratings database at postgresql+psycopg://ann:***@127.0.0.1:"), text
    assert "s3cret" not in text and "\n" not in text and "start the database server" in text


def test_a_sqlite_file_that_cannot_be_made_is_a_clear_error(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create the folder .* for the ratings database.*VLM4REC_HOME"):
        SqlRatingStore.open(f"sqlite:///{tmp_path}/a-file/ratings.sqlite", "catalog")
    (tmp_path / "a-folder.sqlite").mkdir()
    with pytest.raises(StoreError, match="cannot use the ratings database .*a-folder.sqlite"):
        SqlRatingStore.open(f"sqlite:///{tmp_path}/a-folder.sqlite", "catalog")


def test_settings_show_the_ratings_url_without_its_password():
    settings = Settings(ratings_url="postgresql+psycopg://ann:s3cret@db.internal:5432/shop")
    assert settings.model_dump(mode="json")["ratings_url"] == "postgresql+psycopg://ann:***@db.internal:5432/shop"
    assert settings.ratings_database_url == "postgresql+psycopg://ann:s3cret@db.internal:5432/shop"
    assert "s3cret" not in repr(settings)
