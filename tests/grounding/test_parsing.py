import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlm4rec_agent.grounding.parsing import find_object, parse_answer
from vlm4rec_agent.grounding.vocabulary import load_vocabulary

FULL = {
    "category": "Table Lamp",
    "colors": ["White"],
    "materials": ["metal", "linen"],
    "style": ["minimalist"],
    "pattern": ["solid"],
    "occasion": ["bedroom"],
    "season": [],
    "description": "A calm white lamp.",
}


@pytest.fixture(scope="module")
def vocab():
    return load_vocabulary()


def test_complete_json_is_ok_and_normalised(vocab):
    parsed = parse_answer(json.dumps(FULL), vocab)
    assert parsed.status == "ok" and parsed.problems == []
    assert parsed.attributes.category == "table lamp" and parsed.attributes.colors == ["white"]


@pytest.mark.parametrize(
    "raw",
    [
        "```json\n" + json.dumps(FULL) + "\n```",
        "Here it is: " + json.dumps(FULL) + " Hope that helps {not json}.",
        json.dumps(FULL).replace('"', "'"),  # single quotes
        json.dumps(FULL)[:-1] + ",}",  # trailing comma
        "```\n" + json.dumps(FULL, indent=2),  # fence never closed
    ],
)
def test_wrapped_or_sloppy_json_is_still_read(vocab, raw):
    parsed = parse_answer(raw, vocab)
    assert parsed.status == "ok", parsed.problems
    assert parsed.attributes.materials == ["metal", "linen"]


def test_renamed_keys_and_comma_strings_are_accepted(vocab):
    raw = json.dumps(
        {"type": "sofa", "colour": "grey, blue", "material": "velvet", "usage": "living room", "summary": "Soft."}
    )
    a = parse_answer(raw, vocab).attributes
    assert (a.category, a.colors, a.materials, a.occasion, a.description) == (
        "sofa",
        ["grey", "blue"],
        ["velvet"],
        ["living room"],
        "Soft.",
    )


def test_missing_fields_give_a_partial_record_with_a_built_description(vocab):
    parsed = parse_answer('{"category": "coat", "colors": ["navy"]}', vocab)
    assert parsed.status == "partial"
    assert "missing materials" in parsed.problems and "description built from the attributes" in parsed.problems
    assert parsed.attributes.description == "A navy coat."


def test_an_answer_cut_off_by_the_token_limit_keeps_what_was_complete(vocab):
    raw = '{"category": "coat", "colors": ["navy", "bl'
    parsed = parse_answer(raw, vocab)
    assert parsed.status == "partial" and parsed.attributes.colors == ["navy"]
    assert parse_answer('{"category": "coat", "descr', vocab).attributes.category == "coat"


def test_a_wrong_type_loses_only_that_field(vocab):
    parsed = parse_answer('{"category": {"name": "x"}, "colors": ["red"], "description": "Red."}', vocab)
    assert parsed.status == "partial" and parsed.attributes.category is None and parsed.attributes.colors == ["red"]
    assert any("category is an object" in p for p in parsed.problems)


def test_prose_is_kept_as_the_description_and_marked(vocab):
    raw = "This is a black leather jacket, great for winter."
    parsed = parse_answer(raw, vocab)
    assert parsed.status == "unparsed" and parsed.attributes.description == raw
    assert parsed.attributes.materials == ["leather"] and parsed.attributes.season == ["winter"]
    assert parse_answer('{"foo": 1}', vocab).status == "unparsed"
    assert parse_answer("", vocab).status == "unparsed"


def test_find_object_skips_apostrophes_in_prose():
    assert find_object('It\'s here: {"a": "it\'s"} ok') == {"a": "it's"}


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=400)
    | st.from_regex(r"[\{\}\[\]\"':, a-z]{0,80}", fullmatch=True)
)
def test_parsing_never_raises_on_any_answer(raw):
    parsed = parse_answer(raw, load_vocabulary())
    assert parsed.status in ("ok", "partial", "unparsed")
