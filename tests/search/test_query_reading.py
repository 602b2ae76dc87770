"""How a query is read: its product type (the head of its noun phrase), misspellings, type phrases."""

from __future__ import annotations

import pytest

from vlm4rec_agent.grounding.vocabulary import load_vocabulary
from vlm4rec_agent.kinds import head, named_type, singular, suffixes
from vlm4rec_agent.search.query import correct_word, edit_distance, parse_query, query_category


@pytest.mark.parametrize(
    ("kind", "expected_head", "expected_suffixes"),
    [
        ("Pendant lamp, 3-armed", "pendant lamp", ["pendant lamp", "lamp"]),
        ("Wash-stand with 2 drawers", "wash-stand", ["wash-stand"]),
        ("Table lamp base", "table lamp base", ["table lamp base", "lamp base", "base"]),
        ("Chest of 3 drawers", "chest of drawer", ["chest of drawer", "drawer"]),  # never "of drawer"
        ("Curtains, 1 pair", "curtain", ["curtain"]),
        ("Shelves", "shelf", ["shelf"]),
        ("T-Shirt", "t-shirt", ["t-shirt"]),
        ("", "", []),
    ],
)
def test_a_type_is_named_by_the_endings_of_its_head(kind, expected_head, expected_suffixes):
    assert head(kind) == expected_head
    assert suffixes(kind) == expected_suffixes


def test_singular_handles_the_plurals_of_product_nouns():
    assert [singular(w) for w in ["lamps", "boxes", "dresses", "shelves", "bodies", "glass", "trousers"]] == [
        "lamp", "box", "dress", "shelf", "body", "glass", "trouser",
    ]  # fmt: skip


PHRASES = frozenset(
    {"pendant lamp", "lamp", "lamp shade", "shade", "sofa-bed", "bed", "t-shirt", "shirt", "cover", "table"}
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("pendant lamps", "pendant lamp"),
        ("a pendant lamp for the kitchen table", "pendant lamp"),  # before "for": the lamp, not the table
        ("lamp shade", "lamp shade"),  # the longest phrase
        ("sofa bed", "sofa-bed"),  # hyphens do not matter
        ("white t shirts", "t-shirt"),
        ("a shirt", "shirt"),  # "shirt" never names a t-shirt
        ("something for the table", "table"),  # nothing before "for": the whole query
        ("something nice", None),
    ],
)
def test_the_type_a_query_names_is_its_longest_last_phrase(query, expected):
    assert named_type(query, PHRASES) == expected


@pytest.mark.parametrize(
    ("query", "category"),
    [
        ("show me summer dresses", "dress"),
        ("a warm jacket for winter", "outerwear"),
        ("a dress for a summer wedding", "dress"),
        ("shoes to go with a dress", "shoes"),  # the head, not the first category named
        ("something for my bed", "bed"),  # no category before "for": the first anywhere
    ],
)
def test_the_category_of_a_query_is_the_head_of_its_noun_phrase(query, category):
    assert query_category(query, load_vocabulary()) == category


def test_misspelt_words_are_put_right_against_the_vocabulary():
    assert correct_word("dreses") == "dress"
    assert correct_word("jakcet") == "jacket"  # a swap of two letters is one edit
    assert correct_word("trowsers") == "trousers"
    assert correct_word("dress") is None  # a word of the vocabulary
    assert correct_word("abc") is None  # too short to tell
    assert correct_word("qwertyuiop") is None
    parsed = parse_query("summer dreses")
    assert parsed.corrections == {"dreses": "dress"}
    assert parsed.category == "dress" and parsed.attributes.season == ["summer"]


def test_edit_distance_stops_at_its_limit():
    assert edit_distance("chair", "chiar", 2) == 1
    assert edit_distance("kitten", "sitting", 3) == 3
    assert edit_distance("abc", "abcdefgh", 2) == 3  # over the limit: limit + 1
