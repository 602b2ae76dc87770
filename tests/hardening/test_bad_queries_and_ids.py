"""Bad queries and bad ids, through every face: the engine, the shopping tools and the offline chat.

Each case gets a clear message (what was wrong, what to do) or a correct result; afterwards the
catalog is whole and nobody's ratings have changed. Queries are cleaned, not just checked:
terminal escapes and control characters are removed before encoding, so "red\\x00dress" finds
what "red dress" finds. A query over 2,000 characters is refused with the limit, not cut: the
encoder reads about 1,000 characters, and results for silently dropped words mislead.
"""

from __future__ import annotations

import unicodedata

import pytest

from vlm4rec_agent.assistant import Conversation
from vlm4rec_agent.assistant.dialogue import DialogueManager
from vlm4rec_agent.engine import Engine
from vlm4rec_agent.errors import InvalidInputError, NotFoundError, Vlm4recError
from vlm4rec_agent.settings import Settings
from vlm4rec_agent.tools import ShopTools
from vlm4rec_agent.views import ProfileView, ResetDone

from .conftest import check_store, ratings_snapshot

CATALOG_IDS = {
    "red-dress", "red-skirt", "blue-dress", "navy-blazer", "black-boots",
    "white-lamp", "oak-table", "oak-chair", "grey-sofa", "green-vase",
}  # fmt: skip
MEGABYTE_QUERY = "red dress " * 104_858  # 1,048,580 characters


@pytest.fixture(scope="module")
def world(tmp_path_factory, model_cache, encoder, grounder, catalog_writer):
    """One ingested catalog for the module, with two shoppers who already rated items."""
    home = tmp_path_factory.mktemp("bad-queries")
    engine = Engine(Settings(home=home / "home", model_cache=model_cache), encoder=encoder, grounder=grounder)
    engine.ingest(catalog_writer(home / "catalog"))
    engine.like("alice", "red-dress")
    engine.dislike("alice", "black-boots")
    engine.like("bob", "oak-table")
    return engine, ShopTools(engine, image_roots=[home]), DialogueManager(ShopTools(engine))


@pytest.fixture
def unchanged(world):
    """After the test: the store is whole and every rating is as it was."""
    engine = world[0]
    before = ratings_snapshot(engine)
    yield
    assert ratings_snapshot(engine) == before
    check_store(engine, CATALOG_IDS)


def visible(text: str) -> bool:
    """No control character in a chat answer except line breaks."""
    return not any(unicodedata.category(c) == "Cc" and c != "\n" for c in text)


# --- queries that are refused ----------------------------------------------------------------
REFUSED = {
    "empty": ("", "the search query is empty"),
    "whitespace": (" \n\t  ", "the search query is empty"),
    "only control characters": ("\x00\x01\x1b\x7f", "only control or invisible characters"),
    "only invisible format characters": ("\u200b\u200f\u202e\ufeff", "only control or invisible characters"),
    "one over the limit": ("a" * 2001, "is 2,001 characters long; the limit is 2,000"),
    "one megabyte": (MEGABYTE_QUERY, "is 1,048,580 characters long; the limit is 2,000"),
}


@pytest.fixture
def work(monkeypatch, encoder):
    """What a refused text cost: the texts encoded and the characters cleaned, while a test runs."""
    import vlm4rec_agent.text_input as text_input

    spent = {"encoded": [], "cleaned": 0}
    real_encode, real_clean = encoder.encode, text_input.clean_text

    def encode(texts):
        spent["encoded"] += list(texts)
        return real_encode(texts)

    def clean(text):
        spent["cleaned"] += len(text or "")
        return real_clean(text)

    monkeypatch.setattr(encoder, "encode", encode)
    monkeypatch.setattr(text_input, "clean_text", clean)
    return spent


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_query_that_cannot_be_searched_gets_a_clear_message(world, unchanged, case, work):
    engine, shop, _ = world
    query, message = REFUSED[case]
    for face in (lambda: engine.search(query, k=3), lambda: shop.search_catalog(query, k=3)):
        with pytest.raises(InvalidInputError, match=message) as refused:
            face()
        assert refused.value.hint and len(str(refused.value)) < 200  # says what to do, and briefly
    assert work["encoded"] == []  # refused before anything is encoded
    assert work["cleaned"] <= 2 * 20 * 2000  # a text over 20 times the limit is refused before it is read


def test_the_chat_refuses_a_megabyte_message_quickly_and_says_the_limit(world, unchanged, work):
    _, _, chat = world
    turn = chat.respond(Conversation(user_id="carol"), MEGABYTE_QUERY)
    assert work["encoded"] == [] and work["cleaned"] == 0  # refused from its length alone
    assert turn.text.startswith("Sorry, I could not read that: your message is 1,048,580 characters long")
    assert "I read at most 2,000" in turn.text and turn.results is None


def test_the_chat_answers_an_empty_or_invisible_message_with_help(world, unchanged):
    _, _, chat = world
    for message in ("", "   ", "\x00\x1b[2J\u200b"):
        turn = chat.respond(Conversation(user_id="carol"), message)
        assert turn.intent == "help" and "I can search the catalog" in turn.text


# --- queries that give results -----------------------------------------------------------------
def result_ids(results) -> list[str]:
    return [r.item.id for r in results]


@pytest.mark.parametrize(
    "query",
    ["red\x00dress", "\x1b[31mred dress\x1b[0m", "red\r\ndress", "red\tdress\x7f", "\u202ered dress\u200b"],
    ids=["NUL", "ANSI colour escapes", "CRLF", "tab and DEL", "bidi override and zero-width space"],
)
def test_control_characters_are_removed_and_the_query_finds_what_its_words_find(world, unchanged, query):
    engine, shop, chat = world
    expected = result_ids(engine.search("red dress", k=4))
    assert result_ids(engine.search(query, k=4)) == expected
    found = shop.search_catalog(query, k=4)
    assert [r.id for r in found.results] == expected and found.query == "red dress"
    turn = chat.respond(Conversation(user_id="carol"), query)
    assert turn.intent == "search" and visible(turn.text) and "“red dress”" in turn.text
    assert [r.id for r in turn.results][:2] == expected[:2]


@pytest.mark.parametrize(
    "query",
    ["👗👠🔴", "👩‍👩‍👧 ✨", "فستان أحمر", "שמלה אדומה", "Платье 赤いドレス"],
    ids=["emoji", "emoji with joiners", "Arabic", "Hebrew", "Cyrillic and Japanese"],
)
def test_emoji_and_other_scripts_find_nothing_and_say_so_without_crashing(world, unchanged, query):
    """The English encoder and the catalog's English words cannot read these: nothing fits, and
    the answer says what the catalog holds instead of showing three unrelated items."""
    engine, shop, chat = world
    assert engine.search(query, k=3) == []
    page = shop.search_catalog(query, k=3)
    assert page.results == [] and page.note.startswith("Nothing in the catalog fits") and "dress" in page.note
    turn = chat.respond(Conversation(user_id="carol"), query)
    assert turn.intent == "search" and turn.results == [] and visible(turn.text)
    assert "Nothing in the catalog fits" in turn.text and "It holds, for example:" in turn.text


def test_words_the_catalog_holds_count_amid_emoji_and_control_characters(world, unchanged):
    engine, shop, chat = world
    results = engine.search("red 👗 فستان\x00\x1b[2J dress", k=3)
    assert len(results) == 3 and set(result_ids(results)) <= CATALOG_IDS
    assert result_ids(results)[0] == "red-dress" and all(0.0 <= r.score <= 1.0 for r in results)
    assert len(shop.search_catalog("red 👗 فستان\x00\x1b[2J dress", k=3).results) == 3


def test_a_mixed_query_keeps_its_words(world, unchanged):
    engine, _, chat = world
    turn = chat.respond(Conversation(user_id="carol"), "red 👗 فستان\x00\x1b[2J dress")
    assert "“red 👗 فستان dress”" in turn.text and "colour: red" in turn.text
    assert result_ids(engine.search("red 👗 فستان\x00\x1b[2J dress", k=1)) == ["red-dress"]


# --- item ids -------------------------------------------------------------------------------------
ITEM_RULE = "item ids are printable text of at most 256 characters"  # every refusal names the rule
BAD_ITEM_IDS = {
    "unknown": ("nope", NotFoundError, "no item 'nope' in the catalog"),
    "empty": ("", InvalidInputError, f"the item id is empty; {ITEM_RULE}"),
    "whitespace": ("   ", InvalidInputError, f"the item id is empty; {ITEM_RULE}"),
    "10k characters": ("x" * 10_000, InvalidInputError, f"item id 'x{{40}}'… is 10,000 characters long; {ITEM_RULE}"),
    "a NUL after a real id": (
        "red-dress\x00",
        InvalidInputError,
        rf"item id 'red-dress\\x00' contains a control character \(U\+0000\); {ITEM_RULE}",
    ),
    "a line break": (
        "red-dress\nblue-dress",
        InvalidInputError,
        rf"contains a control character \(U\+000A\); {ITEM_RULE}",
    ),
    "a zero-width space": (
        "red\u200bdress",
        InvalidInputError,
        r"an invisible formatting character \(U\+200B zero width",
    ),
    "a number, not text": (7, InvalidInputError, "the item id must be text, not int"),
}


@pytest.mark.parametrize("case", list(BAD_ITEM_IDS))
def test_a_bad_item_id_gets_a_clear_message_and_nothing_is_written(world, unchanged, case):
    engine, shop, _ = world
    item_id, error, message = BAD_ITEM_IDS[case]
    faces = {
        "like": lambda: shop.like_item("alice", item_id),
        "dislike": lambda: shop.dislike_item("carol", item_id),
        "explain": lambda: shop.explain_item("alice", item_id),
        "similar": lambda: engine.similar(item_id=item_id, k=3),
        "get": lambda: engine.get_item(item_id),
    }
    for face, call in faces.items():
        with pytest.raises(error, match=message) as refused:
            call()
        assert len(str(refused.value)) < 300, face  # a 10k id is never echoed back whole
    if item_id:
        with pytest.raises(error, match=message):
            shop.similar_items(item_id=item_id)
    else:
        with pytest.raises(InvalidInputError, match="give either an item id or a photo"):
            shop.similar_items(item_id=item_id)
    assert engine.profile("carol").disliked == []


# --- user ids -------------------------------------------------------------------------------------
USER_RULE = "user ids are printable text of at most 128 characters"
BAD_USER_IDS = {
    "empty": ("", f"the user id is empty; {USER_RULE}"),
    "whitespace": (" \t ", f"the user id is empty; {USER_RULE}"),
    "10k characters": ("u" * 10_000, f"user id 'u{{40}}'… is 10,000 characters long; {USER_RULE}"),
    "129 characters": ("u" * 129, f"is 129 characters long; {USER_RULE}"),
    "a NUL": ("alice\x00", rf"user id 'alice\\x00' contains a control character \(U\+0000\); {USER_RULE}"),
    "a line break": ("alice\nbob", r"contains a control character \(U\+000A\)"),
    "an escape sequence": ("\x1b[2Jalice", r"user id '\\x1b\[2Jalice' contains a control character \(U\+001B\)"),
    "a bidi override": ("ali\u202ece", r"an invisible formatting character \(U\+202E right-to-left override\)"),
    "a number, not text": (12345, "the user id must be text, not int"),
}


@pytest.mark.parametrize("case", list(BAD_USER_IDS))
def test_a_bad_user_id_gets_a_clear_message_and_nothing_is_written(world, unchanged, case):
    _, shop, _ = world
    user, message = BAD_USER_IDS[case]
    faces = {
        "like": lambda: shop.like_item(user, "red-dress"),
        "dislike": lambda: shop.dislike_item(user, "red-dress"),
        "reset": lambda: shop.reset_profile(user),
        "show": lambda: shop.show_profile(user),
        "recommend": lambda: shop.recommend_for_user(user),
        "explain": lambda: shop.explain_item(user, "red-dress"),
    }
    if user:  # an empty user id in a search means "no personalisation"
        faces["search"] = lambda: shop.search_catalog("dress", user_id=user)
    for face, call in faces.items():
        with pytest.raises(InvalidInputError, match=message) as refused:
            call()
        assert refused.value.hint and len(str(refused.value)) < 200, face


def test_an_unknown_user_is_a_new_shopper_not_an_error(world, unchanged):
    engine, shop, _ = world
    assert shop.show_profile("nobody-yet") == ProfileView(user="nobody-yet")
    assert shop.reset_profile("nobody-yet") == ResetDone(user="nobody-yet", removed=0)
    with pytest.raises(NotFoundError, match="no ratings for user 'nobody-yet'"):
        shop.recommend_for_user("nobody-yet")
    with pytest.raises(NotFoundError, match="has no liked items"):
        shop.explain_item("nobody-yet", "red-dress")
    assert len(shop.search_catalog("dress", user_id="nobody-yet").results) > 0


def test_a_user_id_with_surrounding_spaces_is_the_same_shopper(world):
    engine, shop, _ = world
    shop.like_item("  dora  ", "green-vase")
    try:
        assert [i.id for i in engine.profile("dora").liked] == ["green-vase"]
    finally:
        engine.reset("dora")


def test_a_bad_result_count_gets_a_clear_message(world, unchanged):
    _, shop, _ = world
    for k in ("many", None, float("nan")):
        with pytest.raises(Vlm4recError, match="k must be a whole number from 1 to 100"):
            shop.search_catalog("dress", k=k)
    for k in (10_000, -5, 0):  # one rule for every face: the engine's, refused rather than silently clamped
        with pytest.raises(Vlm4recError, match="k must be between 1 and 100"):
            shop.search_catalog("dress", k=k)
    assert len(shop.search_catalog("dress", k=100).results) == 10  # all the catalog has


def test_the_chat_refers_to_results_that_do_not_exist_without_writing(world, unchanged):
    _, _, chat = world
    conversation = Conversation(user_id="alice")
    assert "There are no results on screen yet" in chat.respond(conversation, "I like #2").text
    chat.respond(conversation, "dresses")
    shown = len(conversation.results)
    assert f"There is no #99: I showed {shown} items" in chat.respond(conversation, "I like #99").text
