"""What the offline assistant reads into a message (no engine involved)."""

import pytest

from vlm4rec_agent.assistant.understanding import LAST, SELECTED, references, understand


@pytest.mark.parametrize(
    "message, kind, detail",
    [
        ("show me linen summer dresses", "search", {"query": "linen summer dresses"}),
        ("I'm looking for a red dress for a wedding", "search", {"query": "a red dress for a wedding"}),
        ("black leather boots, not suede", "search", {"query": "black leather boots", "exclude": ["suede"]}),
        ("I like linen dresses", "search", {"query": "linen dresses"}),
        ("in blue", "refine", {"include": ["blue"]}),
        ("cotton ones", "refine", {"include": ["cotton"]}),
        ("what about wool", "refine", {"include": ["wool"]}),
        ("not leather", "refine", {"include": [], "exclude": ["leather"]}),
        ("no black, please", "refine", {"exclude": ["black"]}),
        ("I like #3", "like", {"refs": [2]}),
        ("love it", "like", {"refs": [SELECTED]}),
        ("like 2 and 4", "like", {"refs": [1, 3]}),
        ("I don't like the first one", "dislike", {"refs": [0]}),
        ("not for me, the last one", "dislike", {"refs": [LAST]}),
        ("why this one?", "why", {"refs": [SELECTED]}),
        ("why #2", "why", {"refs": [1]}),
        ("more like the second one", "similar", {"refs": [1]}),
        ("recommend something for me", "recommend", {}),
        ("show my profile", "profile", {}),
        ("start over", "reset", {}),
        ("reset my profile", "reset_profile", {}),
        ("hello", "greet", {}),
        ("help", "help", {}),
    ],
)
def test_messages_mid_conversation(message, kind, detail):
    intent = understand(message, has_results=True, has_query=True)
    assert intent.kind == kind, intent
    for key, value in detail.items():
        assert getattr(intent, key) == value, intent


def test_without_results_on_screen():
    assert understand("show me the first collection of summer dresses").kind == "search"
    assert understand("in blue", has_results=False, has_query=False).kind == "search"
    assert understand("I like #2").kind == "like"  # the dialogue then says to search first
    assert understand("I like it").kind == "search"  # "it" points at nothing yet


def test_photos_are_matched_or_complemented():
    assert understand("find something like this", has_photo=True).kind == "photo_similar"
    assert understand("", has_photo=True).kind == "photo_similar"
    assert understand("what would go with this?", has_photo=True).kind == "photo_complement"
    assert understand("what can I wear it with", has_photo=True).kind == "photo_complement"


def test_references_in_order_of_mention():
    assert references("compare #4 with the second one") == [3, 1]
    assert references("number 5") == [4]
    assert references("that one") == [SELECTED]
    assert references("one of those red ones") == []


def test_same_words_same_meaning():
    assert understand("in blue", True, True) == understand("in blue", True, True)
