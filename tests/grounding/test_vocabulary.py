import pytest

from vlm4rec_agent.grounding.efficientnet_lite import imagenet_classes
from vlm4rec_agent.grounding.vocabulary import PhraseMatcher, load_vocabulary


@pytest.fixture(scope="module")
def vocab():
    return load_vocabulary()


def test_every_imagenet_class_named_by_the_vocabulary_exists(vocab):
    names = set(imagenet_classes())
    assert len(names) == 1000
    for category in vocab.categories.values():
        for class_name in category.imagenet:
            assert class_name in names, (category.name, class_name)


def test_query_is_read_into_attributes(vocab):
    a = vocab.parse("A linen dress for a beach wedding in summer")
    assert a.category == "dress"
    assert a.materials == ["linen"]
    assert a.occasion == ["beach", "wedding"]
    assert a.season == ["summer"]


def test_longest_phrase_wins_and_hyphenated_words_are_whole(vocab):
    assert vocab.parse("black t-shirt").category == "t-shirt"
    assert vocab.parse("a sweatshirt").category == "hoodie"
    assert vocab.parse("Table lamp, white").category == "lamp"
    assert vocab.parse("light grey sofa").colors == ["light grey"]


def test_synonyms_map_to_one_canonical_value(vocab):
    assert vocab.parse("gray couch").colors == ["grey"]
    assert vocab.parse("gray couch").category == "sofa"
    assert vocab.parse("boho rattan basket").style == ["bohemian"]


def test_words_inside_other_words_do_not_match(vocab):
    assert vocab.parse("worktop").category == "worktop"
    assert vocab.parse("functional").style == ["practical"]
    assert vocab.find("colors", "redundant tanned") == []


def test_text_without_vocabulary_gives_empty_attributes(vocab):
    assert vocab.parse("MALM").pairs() == []
    assert vocab.parse(None).pairs() == []


def test_phrase_matcher_reports_first_occurrence_order_once():
    matcher = PhraseMatcher({"oak": ["oak veneer"], "pine": []})
    assert matcher.find("Pine and oak veneer, more pine") == ["pine", "oak"]
