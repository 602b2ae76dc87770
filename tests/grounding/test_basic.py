import re

from PIL import Image, ImageDraw

from vlm4rec_agent.grounding.basic import NOTICE
from vlm4rec_agent.grounding.protocol import Grounder, GroundingInput, grounder_identity
from vlm4rec_agent.grounding.registry import available_grounders, make_grounder
from vlm4rec_agent.grounding.schema import Attributes, describe_attributes


def product(colour, size=160):
    image = Image.new("RGB", (size, size), (255, 255, 255))
    ImageDraw.Draw(image).rectangle((30, 30, 130, 130), fill=colour)
    return image


def test_basic_grounder_follows_the_protocol_and_says_what_it_is(grounder):
    assert isinstance(grounder, Grounder)
    record = grounder.ground([GroundingInput(product((200, 30, 35)))])[0]
    assert record.grounder == "basic"
    assert record.notice == NOTICE and "no vision-language model" in record.notice
    assert record.model_id and record.prompt_version.startswith("basic-rules-v")
    assert grounder_identity(grounder) == f"basic|{record.model_id}|{record.prompt_version}"


def test_item_text_gives_category_materials_style_and_occasion(grounder):
    text = "Linen dress. Red summer dress in linen, casual and romantic, for the beach."
    record = grounder.ground([GroundingInput(product((200, 30, 35)), text=text)])[0]
    a = record.attributes
    assert a.category == "dress"
    assert a.colors == ["red"]
    assert a.materials == ["linen"]
    assert set(a.style) == {"casual", "romantic"}
    assert "beach" in a.occasion and "summer" in a.season
    assert record.evidence["category_source"] == "item text"
    assert record.evidence["colour_source"] == "item text"


def test_without_text_colours_come_from_pixels(grounder):
    record = grounder.ground([GroundingInput(product((40, 80, 200)))])[0]
    assert record.attributes.colors[0] == "blue"
    assert record.evidence["colour_source"] == "pixels"
    assert "solid" in record.attributes.pattern
    assert len(record.evidence["imagenet_top3"]) == 3


def test_category_defaults_follow_from_the_category(grounder):
    record = grounder.ground([GroundingInput(product((128, 128, 128)), text="Bed frame")])[0]
    assert record.attributes.category == "bed"
    assert "bedroom" in record.attributes.occasion


def test_batches_keep_their_order(grounder):
    colours = [(200, 30, 35), (40, 80, 200), (50, 150, 60), (20, 20, 22), (240, 210, 40)]
    records = grounder.ground([GroundingInput(product(c)) for c in colours])
    assert [r.attributes.colors[0] for r in records] == ["red", "blue", "green", "black", "yellow"]
    assert grounder.ground([]) == []


def test_description_only_uses_attribute_values():
    a = Attributes(
        category="sofa",
        colors=["light grey", "grey", "blue"],
        materials=["cotton"],
        style=["cosy"],
        occasion=["living room"],
    )
    text = describe_attributes(a)
    assert text == "A light grey and blue sofa in cotton. Style: cosy. Occasion: living room."
    words = set(re.findall(r"[a-z]+", text.lower())) - {"a", "an", "and", "in", "style", "occasion", "season"}
    allowed = {w for _, v in a.pairs() for w in v.split()}
    assert words <= allowed


def test_registry_builds_the_configured_grounder_and_refuses_unknown_names(settings):
    import pytest

    from vlm4rec_agent.errors import ConfigurationError

    assert "basic" in available_grounders()
    assert make_grounder(settings).name == "basic"
    with pytest.raises(ConfigurationError, match="unknown grounder 'llava'.*basic"):
        make_grounder(settings.model_copy(update={"grounder": "llava"}))
