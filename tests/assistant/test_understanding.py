"""What the offline assistant reads into a message: the exact rules alone, then the learned
classifier with them on the real sentence encoder, then the labelled sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from vlm4rec_agent.assistant import slots
from vlm4rec_agent.assistant.intent_model import INTENTS, Examples
from vlm4rec_agent.assistant.slots import LAST, SELECTED
from vlm4rec_agent.assistant.understanding import FORGETTING, Context, understanding_for
from vlm4rec_agent.evaluation.understanding_eval import read_labelled, score

DATA = Path(__file__).parent / "data"
SCREEN = Context(results=6, source="search", query="summer dresses")
PHOTO_RESULTS = Context(results=6, source="photo")
NOTHING = Context()


# --- the rules: references, counts, exclusions, what a refinement wants ---------------------------
@pytest.mark.parametrize(
    "text, refs",
    [
        ("i like #3", [2]),
        ("the second one looks great", [1]),
        ("keep number 5", [4]),
        ("number three is lovely", [2]),
        ("like 2 and 5", [1, 4]),
        ("2 please", [1]),
        ("#2 is hideous", [1]),
        ("the 3rd is cute", [2]),
        ("the first two", [0, 1]),
        ("the last two", [-2, -1]),
        ("the last one", [LAST]),
        ("compare #4 with the second one", [3, 1]),
        ("that one", [SELECTED]),
        ("i want 2 red t-shirts", []),  # a count, not a reference
        ("show me 3 piece suits", []),
        ("i need 2 pillows", []),
        ("one of those red ones", []),
    ],
)
def test_references_in_order_and_counts_that_are_not_references(text, refs):
    assert slots.references(text) == refs


def test_exclusions_wanted_words_and_search_text():
    assert slots.exclusions("linen dresses, not leather") == ("linen dresses", ["leather"])
    assert slots.exclusions("not black or brown")[1] == ["black", "brown"]
    assert slots.exclusions("without the floral ones")[1] == ["floral"]
    assert slots.exclusions("less formal")[1] == ["formal"]
    assert slots.wanted("any of those in green?") == ["green"]
    assert slots.wanted("only the cotton ones") == ["cotton"]
    assert slots.wanted("those but cheaper looking") == ["cheaper looking"]  # no attribute: kept as words
    assert slots.wanted("not leather") == [] and slots.wanted("less formal") == []
    assert slots.search_text("show me some linen dresses please") == ("linen dresses", [])
    assert slots.search_text("a blue dress but not silk") == ("blue dress", ["silk"])
    assert slots.search_text("hmm, what about bookcases") == ("bookcases", [])


def test_questions_and_negated_clauses():
    assert slots.is_question("how do i reset my profile?") and slots.is_question("would resetting delete my likes")
    assert not slots.is_question("reset my profile")
    clearing = __import__("re").compile(r"\breset\b")
    assert slots.negated("don't reset my profile", clearing) and slots.negated("never reset my profile", clearing)
    assert not slots.negated("reset my profile, not the search", clearing)


def test_the_examples_file_is_checked():
    examples = Examples.load()
    assert set(examples.intents) == set(INTENTS) and len(examples.texts) >= 300
    with pytest.raises(ValueError, match=r"x.txt:2: unknown intent \[shout\]"):
        Examples.parse("[search]\n[shout]\nhey\n", "x.txt")
    with pytest.raises(ValueError, match="before any"):
        Examples.parse("hello\n", "x.txt")


# --- the classifier with the rules, on the real encoder -------------------------------------------
@pytest.fixture(scope="module")
def understanding(encoder):
    return understanding_for(encoder)


@pytest.mark.parametrize(
    "message, context, kind, detail",
    [
        ("the second one looks great", SCREEN, "like", {"refs": [1]}),
        ("keep number 5", SCREEN, "like", {"refs": [4]}),
        ("#2 is hideous", SCREEN, "dislike", {"refs": [1]}),
        ("I don't like #3", SCREEN, "dislike", {"refs": [2]}),
        ("love it", SCREEN, "like", {"refs": [SELECTED]}),
        ("remind me what I picked", SCREEN, "profile", {}),
        ("let us begin again", SCREEN, "reset", {}),
        ("why #1?", SCREEN, "why", {"refs": [0]}),
        ("more like the last one", SCREEN, "similar", {"refs": [LAST]}),
        ("I want 2 red t-shirts", SCREEN, "search", {"refs": [], "query": "red t-shirts"}),
        ("in blue", PHOTO_RESULTS, "refine", {"include": ["blue"]}),
        ("not leather", SCREEN, "refine", {"include": [], "exclude": ["leather"]}),
        ("cheaper looking", SCREEN, "refine", {"include": ["cheaper looking"]}),
        ("in blue", NOTHING, "search", {"query": "blue"}),  # nothing on screen to narrow
        ("recommend something for me", NOTHING, "recommend", {}),
        ("hello", NOTHING, "greet", {}),
        ("would a rug suit this sofa?", Context(photo=True), "photo_complement", {}),
        ("find something like this", Context(photo=True), "photo_similar", {}),
        ("do you have this in blue?", Context(photo=True), "photo_similar", {"include": ["blue"]}),
        ("", Context(photo=True), "photo_similar", {}),
    ],
)
def test_shoppers_messages_in_context(understanding, message, context, kind, detail):
    intent = understanding.read(message, context)
    assert intent.kind == kind, intent
    for key, value in detail.items():
        assert getattr(intent, key) == value, intent


@pytest.mark.parametrize(
    "message, kind",
    [
        ("don't reset my profile, show me dresses", "search"),
        ("how do I reset my profile?", "help"),
        ("never reset my profile", "cancel"),
        ("what does 'reset my profile' do", "help"),
        ("would resetting delete my likes?", "help"),
        ("please don't wipe my likes", "cancel"),
    ],
)
def test_negations_questions_and_quotes_never_clear_anything(understanding, message, kind):
    intent = understanding.read(message, SCREEN)
    assert intent.kind == kind and intent.kind not in FORGETTING, intent
    if kind == "search":
        assert intent.query == "dresses" and "nothing is cleared" in intent.note


def test_a_yes_answers_only_a_question_that_was_asked(understanding):
    waiting = Context(results=6, source="search", query="lamps", pending="reset_profile")
    assert understanding.read("yes please", waiting).kind == "confirm"
    assert understanding.read("no, keep them", waiting).kind == "cancel"
    assert understanding.read("show me rugs", waiting).kind == "search"  # another request drops the question


def test_the_same_words_in_the_same_context_mean_the_same(understanding):
    assert understanding.read("in blue", SCREEN) == understanding.read("in blue", SCREEN)


# --- the labelled sets ----------------------------------------------------------------------------
def test_the_labelled_sets_are_large_varied_and_well_formed():
    sets = {name: read_labelled(DATA / f"messages_{name}.jsonl") for name in ("tune", "dev", "heldout")}
    rows = [row for labelled in sets.values() for row in labelled]
    assert len(rows) >= 300 and len({r.id for r in rows}) == len(rows)
    assert {r.intent for r in sets["heldout"]} == set(INTENTS)
    assert all(r.intent in INTENTS for r in rows)


@pytest.mark.parametrize("name, least", [("tune", 0.95), ("dev", 0.95), ("heldout", 0.95)])
def test_intent_accuracy_on_the_labelled_sets(understanding, name, least):
    """The held-out set was written apart and never tuned on (bench/understanding.py prints the
    table, per intent, with intervals); the floors guard what was measured."""
    result = score(understanding, read_labelled(DATA / f"messages_{name}.jsonl"))
    assert result.accuracy >= least, result.wrong
    assert result.destructive == [], "a clearing intent was read into a message that did not ask for it"


def test_the_examples_vectors_are_cached_and_a_damaged_cache_is_made_again(encoder, tmp_path):
    from vlm4rec_agent.assistant.intent_model import IntentModel

    class Counting:
        name, dim = encoder.name, encoder.dim

        def __init__(self):
            self.texts = 0

        def encode(self, texts):
            self.texts += len(texts)
            return encoder.encode(texts)

    examples = Examples.parse("[search]\nshow me dresses\nred lamps\n[greet]\nhello\nthanks\n", "tiny.txt")
    first = Counting()
    assert (
        max(IntentModel(first, examples, tmp_path).probabilities("hi there").items(), key=lambda kv: kv[1])[0]
        == "greet"
    )
    assert first.texts == 4 + 1 and len(list(tmp_path.glob("*.npy"))) == 1
    again = Counting()
    IntentModel(again, examples, tmp_path).probabilities("hi")
    assert again.texts == 1  # only the message: the examples' vectors came from the cache
    next(tmp_path.glob("*.npy")).write_bytes(b"not an array")
    damaged = Counting()
    IntentModel(damaged, examples, tmp_path).probabilities("hi")
    assert damaged.texts == 4 + 1
