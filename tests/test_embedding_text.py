from vlm4rec_agent.embedding_text import build_embedding_text
from vlm4rec_agent.grounding.schema import Attributes


def test_layout_is_description_then_attributes_then_item_text():
    a = Attributes(
        category="dress",
        colors=["red", "white"],
        materials=["linen"],
        season=["summer"],
        description="A red linen dress.",
    )
    text = build_embedding_text(a, "Linen dress. For the beach.")
    assert text.split("\n") == [
        "A red linen dress.",
        "category: dress. colour: red, white. material: linen. season: summer.",
        "Linen dress. For the beach.",
    ]


def test_item_text_can_be_left_out_and_empty_parts_vanish():
    a = Attributes(colors=["blue"])
    assert build_embedding_text(a, "Blue vase", include_item_text=False) == "colour: blue."
    assert build_embedding_text(Attributes(), "  ") == ""
    assert build_embedding_text(Attributes(), None) == ""
