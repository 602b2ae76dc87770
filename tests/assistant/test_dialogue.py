"""Multi-turn conversations with the offline dialogue manager, on the real engine and encoder."""

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


def liked(engine, user):
    return [i.id for i in engine.profile(user).liked]


def rated(engine, user) -> int:
    profile = engine.profile(user)
    return len(profile.liked) + len(profile.disliked)


def test_search_refine_exclude_like_why_more_start_over(assistant, loaded_engine):
    c = Conversation(user_id="ann")
    turn = assistant.respond(c, "show me dresses")
    assert turn.intent == "search" and set(ids(turn)[:2]) == {"red-dress", "blue-dress"}
    assert turn.text.startswith("Searching for “dresses” (category: dress)")

    turn = assistant.respond(c, "in blue")
    assert turn.intent == "refine" and ids(turn)[0] == "blue-dress"
    assert "Narrowing “dresses” to blue" in turn.text
    assert all("blue" in r.attributes.colors or "blue" in r.title.lower() for r in turn.results)

    turn = assistant.respond(c, "not silk")
    assert "blue-dress" not in ids(turn) and "avoiding silk" in turn.text  # the only blue dress is silk

    c.clear()
    assistant.respond(c, "show me dresses")
    turn = assistant.respond(c, "the first one looks great")
    first = c.results[0]
    assert turn.intent == "like" and f"Liked #1 *{first.title}*" in turn.text
    assert liked(loaded_engine, "ann") == [first.id]

    turn = assistant.respond(c, "why this one?")
    assert turn.intent == "why" and first.explanation in turn.text and "(score " in turn.text
    assert "Against your likes" in turn.text
    assert turn.text.count(first.explanation) == 1  # each thing is said once

    turn = assistant.respond(c, "more like the second one")
    assert turn.intent == "similar" and turn.text.startswith("More like #2") and len(turn.results) == 6

    turn = assistant.respond(c, "let us begin again")
    assert turn.intent == "reset" and turn.results == [] and c.results == []
    assert "Your 1 rating is kept" in turn.text and liked(loaded_engine, "ann")  # starting over keeps the profile


def test_result_lines_tell_results_apart_and_show_no_scores(assistant):
    c = Conversation(user_id="abe")
    turn = assistant.respond(c, "show me dresses")
    lines = [line for line in turn.text.splitlines() if line[:2] in ("1.", "2.")]
    assert lines[0] != lines[1] and "score" not in turn.text
    assert lines[0].startswith(f"1. **{turn.results[0].title}**")
    # what distinguishes the red linen dress from the blue silk one is named on its line
    red = next(line for line in lines if "Linen" in line)
    assert "red" in red and "blue" not in red


def test_a_count_is_not_a_reference_and_references_are_kept(assistant, loaded_engine):
    c = Conversation(user_id="bo")
    assistant.respond(c, "show me dresses")
    turn = assistant.respond(c, "I want 2 red t-shirts")
    assert turn.intent == "search" and not liked(loaded_engine, "bo")
    assistant.respond(c, "dresses")
    turn = assistant.respond(c, "keep number 2")
    assert turn.intent == "like" and liked(loaded_engine, "bo") == [c.results[1].id]
    turn = assistant.respond(c, "#1 is hideous")
    assert turn.intent == "dislike" and [i.id for i in loaded_engine.profile("bo").disliked] == [c.results[0].id]


def test_likes_lead_to_explained_recommendations(assistant):
    c = Conversation(user_id="ben")
    assert "not liked anything yet" in assistant.respond(c, "recommend something").text
    assistant.respond(c, "oak dining table")
    turn = assistant.respond(c, "I like the first one")
    assert c.results[0].id == "oak-table"
    turn = assistant.respond(c, "what should I buy?")
    assert turn.intent == "recommend" and ids(turn)[0] == "oak-chair"
    assert "with 1 item you liked" in turn.results[0].explanation
    assert "oak-table" not in ids(turn)


def test_a_profile_reset_waits_for_yes_and_can_be_undone(assistant, loaded_engine):
    c = Conversation(user_id="cat")
    assistant.respond(c, "dresses")
    assistant.respond(c, "like #1")
    assistant.respond(c, "I don't like the second one")
    for message in ("don't reset my profile, show me dresses", "how do I reset my profile?", "never reset my profile"):
        turn = assistant.respond(c, message)
        assert turn.intent != "reset_profile" and rated(loaded_engine, "cat") == 2, message
    turn = assistant.respond(c, "reset my profile")
    assert turn.intent == "reset_profile" and "Say *yes*" in turn.text and rated(loaded_engine, "cat") == 2
    turn = assistant.respond(c, "no")
    assert turn.intent == "cancel" and "kept" in turn.text and rated(loaded_engine, "cat") == 2
    assert assistant.respond(c, "yes").text.startswith("There is nothing waiting for a yes")
    assistant.respond(c, "reset my profile")
    turn = assistant.respond(c, "yes")
    assert turn.intent == "confirm" and "2 ratings forgotten" in turn.text and loaded_engine.profile("cat").is_empty
    turn = assistant.respond(c, "undo")
    profile = loaded_engine.profile("cat")
    assert turn.intent == "undo" and len(profile.liked) == 1 and len(profile.disliked) == 1


def test_a_question_waiting_for_yes_is_dropped_by_another_request(assistant, loaded_engine):
    c = Conversation(user_id="col")
    assistant.respond(c, "dresses")
    assistant.respond(c, "like #1")
    assistant.respond(c, "reset my profile")
    turn = assistant.respond(c, "show me lamps")
    assert turn.intent == "search" and c.pending is None
    assert assistant.respond(c, "yes").intent == "confirm" and liked(loaded_engine, "col")  # nothing was reset


def test_undo_takes_back_the_last_rating_only(assistant, loaded_engine):
    c = Conversation(user_id="cy")
    assert assistant.respond(c, "undo").text.startswith("There is nothing to undo")
    assistant.respond(c, "dresses")
    assistant.respond(c, "like #1")
    assistant.respond(c, "like #2")
    assistant.respond(c, "oops, undo that")
    assert liked(loaded_engine, "cy") == [c.results[0].id]
    assistant.respond(c, "#1 is not for me")  # a like turned into a dislike ...
    assistant.respond(c, "undo")  # ... is a like again
    assert liked(loaded_engine, "cy") == [c.results[0].id]


def test_references_out_of_range_and_before_any_results(assistant):
    c = Conversation(user_id="dan")
    turn = assistant.respond(c, "I like #2")
    assert turn.intent == "like" and "no results on screen yet; search first" in turn.text
    assistant.respond(c, "dresses")
    turn = assistant.respond(c, "I like #9")
    assert "There is no #9: I showed 6 items" in turn.text


def test_a_refinement_narrows_the_items_like_a_photo(assistant, product_image):
    c = Conversation(user_id="eve")
    photo = str(product_image("query.jpg", colour=(52, 148, 62)))
    turn = assistant.respond(c, "find something like this", photo=photo)
    assert turn.intent == "photo_similar" and "basic offline grounder (no VLM)" in turn.text
    assert ids(turn)[0] == "green-vase"
    shown = set(r.id for r in c.pool)
    turn = assistant.respond(c, "in red")
    assert turn.intent == "refine" and "Narrowing the items like your photo to red" in turn.text
    assert set(ids(turn)) <= shown and all("red" in r.attributes.colors for r in turn.results)
    turn = assistant.respond(c, "what would go with this?", photo=photo)
    assert turn.intent == "photo_complement" and turn.results is not None


def test_a_refinement_narrows_recommendations_too(assistant):
    c = Conversation(user_id="fox")
    assistant.respond(c, "oak dining table")
    assistant.respond(c, "I like the first one")
    assistant.respond(c, "recommend something")
    pool = {r.id for r in c.pool}
    turn = assistant.respond(c, "not oak")
    assert turn.intent == "refine" and "Narrowing your recommendations" in turn.text
    assert set(ids(turn)) <= pool and not any("oak" in r.attributes.materials for r in turn.results)


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


def test_a_new_value_of_a_field_replaces_the_old_one_and_asking_again_takes_an_avoidance_back():
    from vlm4rec_agent.assistant.dialogue import _narrowed

    assert _narrowed(["blue", "cotton"], ["leather"], ["red"], []) == (["cotton", "red"], ["leather"])
    assert _narrowed(["blue"], [], [], ["blue"]) == ([], ["blue"])
    assert _narrowed([], ["black"], ["black"], []) == (["black"], [])
    assert _narrowed(["cheaper looking"], [], ["blue"], []) == (["cheaper looking", "blue"], [])


def test_in_blue_then_what_about_red_shows_red_things(assistant):
    c = Conversation(user_id="ida")
    assistant.respond(c, "show me dresses")
    assistant.respond(c, "in blue")
    turn = assistant.respond(c, "what about red?")
    assert turn.intent == "refine" and "to red." in turn.text and ids(turn)[0] == "red-dress"


def test_a_refined_search_drops_the_value_it_replaces():
    from vlm4rec_agent.assistant.dialogue import _without_replaced

    assert _without_replaced("white bedside lamps", ["black"]) == "bedside lamps"
    assert _without_replaced("white linen dresses", ["cotton"]) == "white dresses"
    assert _without_replaced("white linen dresses", ["cheaper looking"]) == "white linen dresses"


def test_two_requests_in_one_message_are_both_done_in_order(assistant, loaded_engine):
    c = Conversation(user_id="jo")
    assistant.respond(c, "show me dresses")
    first, second = c.results[0], c.results[1]
    turn = assistant.respond(c, "I like #1, then more like #2")
    assert turn.intent == "like" and liked(loaded_engine, "jo") == [first.id]
    assert f"Liked #1 *{first.title}*" in turn.text and f"More like #2 *{second.title}*" in turn.text
    assert turn.results and second.id not in ids(turn)  # what is on screen now: the items like #2
    turn = assistant.respond(c, "show me dresses, not silk")  # one search that avoids silk, not two requests
    assert turn.intent == "search" and "blue-dress" not in ids(turn) and turn.text.count("Searching") == 1
