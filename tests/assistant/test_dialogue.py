"""Multi-turn conversations with the offline dialogue manager, on the real engine."""

from __future__ import annotations

import pytest

from vlm4rec_agent.assistant.conversation import Conversation
from vlm4rec_agent.assistant.dialogue import DialogueManager
from vlm4rec_agent.tools import ShopTools


@pytest.fixture
def assistant(loaded_engine, tmp_path):
    return DialogueManager(ShopTools(loaded_engine, image_roots=[tmp_path]))


def ids(turn):
    return [r.id for r in turn.results]


def test_search_refine_exclude_like_why_more_start_over(assistant, loaded_engine):
    c = Conversation(user_id="ann")
    turn = assistant.respond(c, "show me dresses")
    assert turn.intent == "search" and set(ids(turn)[:2]) == {"red-dress", "blue-dress"}
    assert turn.text.startswith("Searching for “dresses” (category: dress)")

    turn = assistant.respond(c, "in blue")
    assert turn.intent == "refine" and ids(turn)[0] == "blue-dress"
    assert "Narrowing “dresses” in blue" in turn.text
    assert all("blue" in r.attributes.colors or "blue" in r.title.lower() for r in turn.results)

    turn = assistant.respond(c, "not silk")
    assert "blue-dress" not in ids(turn) and "avoiding silk" in turn.text  # the only blue dress is silk

    c.clear()
    assistant.respond(c, "show me dresses")
    turn = assistant.respond(c, "I like #1")
    first = c.results[0]
    assert turn.intent == "like" and f"Liked #1 *{first.title}*" in turn.text
    assert loaded_engine.profile("ann").liked[0].id == first.id

    turn = assistant.respond(c, "why this one?")
    assert turn.intent == "why" and first.explanation in turn.text and "Against your likes" in turn.text

    turn = assistant.respond(c, "more like the second one")
    second = turn.text.split("*")[1]
    assert turn.intent == "similar" and second and len(turn.results) == 6

    turn = assistant.respond(c, "start over")
    assert turn.results == [] and c.results == [] and "Your 1 ratings are kept" in turn.text
    assert loaded_engine.profile("ann").liked  # starting over keeps the profile


def test_likes_lead_to_explained_recommendations(assistant):
    c = Conversation(user_id="ben")
    assert "not liked anything yet" in assistant.respond(c, "recommend something").text
    assistant.respond(c, "oak dining table")
    turn = assistant.respond(c, "I like the first one")
    assert "oak-table" in turn.text or c.results[0].id == "oak-table"
    turn = assistant.respond(c, "what should I buy?")
    assert turn.intent == "recommend" and ids(turn)[0] == "oak-chair"
    assert "with 1 item you liked" in turn.results[0].explanation
    assert "oak-table" not in ids(turn)


def test_dislikes_and_profile(assistant):
    c = Conversation(user_id="cat")
    assistant.respond(c, "dresses")
    assistant.respond(c, "like #1")
    turn = assistant.respond(c, "I don't like the second one")
    assert turn.intent == "dislike" and "1 liked, 1 disliked" in turn.text
    turn = assistant.respond(c, "show my profile")
    assert turn.profile.liked and turn.profile.disliked
    turn = assistant.respond(c, "reset my profile")
    assert "2 ratings forgotten" in turn.text and not turn.profile.liked


def test_references_out_of_range_and_before_any_results(assistant):
    c = Conversation(user_id="dan")
    turn = assistant.respond(c, "I like #2")
    assert turn.intent == "like" and "no results on screen yet; search first" in turn.text
    assistant.respond(c, "dresses")
    turn = assistant.respond(c, "I like #9")
    assert "There is no #9: I showed 6 items" in turn.text


def test_photo_find_similar_and_what_goes_with_it(assistant, product_image):
    c = Conversation(user_id="eve")
    photo = str(product_image("query.jpg", colour=(52, 148, 62)))
    turn = assistant.respond(c, "find something like this", photo=photo)
    assert turn.intent == "photo_similar" and "basic offline grounder (no VLM)" in turn.text
    assert ids(turn)[0] == "green-vase"
    turn = assistant.respond(c, "what would go with this?", photo=photo)
    assert turn.intent == "photo_complement" and turn.results is not None


def test_a_photo_outside_the_allowed_folders_is_refused(loaded_engine, product_image, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    assistant = DialogueManager(ShopTools(loaded_engine, image_roots=[elsewhere]))
    turn = assistant.respond(Conversation(user_id="fay"), "like this", photo=str(product_image()))
    assert "not available to this app" in turn.text and turn.results is None


def test_streaming_ends_with_the_whole_answer(assistant):
    c = Conversation(user_id="gus")
    turns = list(assistant.stream(c, "show me dresses"))
    assert len(turns) > 1 and turns[-1].text.startswith(turns[0].text)
    assert turns[-1].results and all(len(a.text) <= len(b.text) for a, b in zip(turns, turns[1:]))


def test_an_empty_catalog_says_how_to_fill_it(engine):
    turn = DialogueManager(ShopTools(engine)).respond(Conversation(user_id="hal"), "dresses")
    assert "is empty" in turn.text and "vlm4rec ingest" in turn.text


def test_a_photo_the_heads_abstain_on_is_said_to_be_unlike_the_catalog():
    from vlm4rec_agent.assistant.dialogue import DialogueManager as Dialogue
    from vlm4rec_agent.grounding.schema import Attributes, GroundingRecord

    record = GroundingRecord(attributes=Attributes(colors=["grey"]), grounder="basic", model_id="m", prompt_version="p",
                             evidence={"learned": {"abstained": True, "novelty": 0.45}})  # fmt: skip
    assert Dialogue._looks(record).startswith("Your photo does not look like anything in this catalog")
    taught = record.model_copy(update={"evidence": {"learned": {"category": {"value": "dress"}}},
                                       "attributes": Attributes(category="dress")})  # fmt: skip
    assert "taught by this catalog's photos" in Dialogue._looks(taught)
