from hypothesis import given, settings
from hypothesis import strategies as st

from vlm4rec_agent import explain
from vlm4rec_agent.grounding.schema import LIST_FIELDS, Attributes, GroundingRecord
from vlm4rec_agent.items import StoredItem


def stored(item_id: str, **attributes) -> StoredItem:
    record = GroundingRecord(attributes=Attributes(**attributes), grounder="basic", model_id="m", prompt_version="v")
    return StoredItem(id=item_id, image=f"/{item_id}.jpg", title=item_id.upper(), record=record)


def test_values_match_on_whole_words_and_simple_plurals():
    assert explain.values_match("dark grey", "grey")
    assert explain.values_match("Dresses", "dress")
    assert explain.values_match("mid-century", "mid century")
    assert not explain.values_match("red", "redwood")
    assert not explain.values_match("oak", "cloak")


def test_search_explanation_cites_what_the_query_names():
    item = stored("a", category="lamp", colors=["white"], style=["minimalist"], materials=["steel"])
    why = explain.explain_search(item, Attributes(category="lamp", colors=["white"]), "white lamp", 0.6)
    assert why.text == "Matches your search on category: lamp and colour: white."
    assert {(r.field, r.value) for r in why.reasons} == {("category", "lamp"), ("colors", "white")}


def test_search_explanation_cites_values_found_literally_in_the_query():
    item = stored("a", materials=["bouclé"], category="armchair")
    why = explain.explain_search(item, Attributes(), "a bouclé armchair", 0.5)
    assert [(r.field, r.value, r.matched_value) for r in why.reasons] == [
        ("category", "armchair", "armchair"),
        ("materials", "bouclé", "bouclé"),
    ]


def test_search_without_shared_attributes_says_so():
    why = explain.explain_search(stored("a", colors=["red"]), Attributes(colors=["blue"]), "blue", 0.31)
    assert why.reasons == [] and "similarity 0.31" in why.text


def test_profile_explanation_counts_the_liked_items_that_share_a_value():
    liked = [
        stored("bed", category="bed", style=["scandinavian"], materials=["oak"]),
        stored("chest", category="chest of drawers", style=["scandinavian"], materials=["pine"]),
    ]
    result = stored("table", category="table", style=["scandinavian"], materials=["oak"])
    why = explain.explain_profile(result, liked, liked[0], 0.7)
    assert why.reasons[0].field == "style" and why.reasons[0].item_ids == ["bed", "chest"]
    assert why.reasons[1].field == "materials" and why.reasons[1].item_ids == ["bed"]
    assert why.text == "Shares style: scandinavian and material: oak with 2 items you liked (BED, CHEST)."


def test_profile_explanation_falls_back_to_the_nearest_liked_item():
    why = explain.explain_profile(stored("x", colors=["red"]), [stored("y", colors=["blue"])], stored("y"), 0.42)
    assert why.text == "Close to Y, which you liked (similarity 0.42)." and why.reasons == []


def test_similar_explanation_names_the_source_item():
    why = explain.explain_similar(stored("x", category="sofa", colors=["grey"]), stored("y", category="sofa"), 0.8)
    assert why.text == "Shares category: sofa with Y."


# --- the property: every cited value exists on both sides ---------------------------------
WORDS = [
    "red",
    "dark red",
    "blue",
    "oak",
    "light oak",
    "linen",
    "dress",
    "dresses",
    "scandinavian",
    "summer",
    "beach",
    "wool",
]
values = st.lists(st.sampled_from(WORDS), max_size=4)
attribute_sets = st.fixed_dictionaries(
    {"category": st.none() | st.sampled_from(WORDS), **{f: values for f in LIST_FIELDS}}
)


@settings(max_examples=200, deadline=None)
@given(result=attribute_sets, others=st.lists(attribute_sets, min_size=1, max_size=4), query=attribute_sets,
       query_text=st.lists(st.sampled_from(WORDS + ["for", "a"]), max_size=6).map(" ".join))  # fmt: skip
def test_cited_values_exist_in_the_result_and_in_what_they_match(result, others, query, query_text):
    item = stored("r", **result)
    liked = [stored(f"l{i}", **o) for i, o in enumerate(others)]
    query_attributes = Attributes(**query)

    for reason in explain.explain_profile(item, liked, liked[0], 0.5).reasons:
        assert reason.value in item.attributes.values(reason.field)
        assert reason.item_ids
        for liked_id in reason.item_ids:
            other = next(i for i in liked if i.id == liked_id)
            assert any(explain.values_match(reason.value, v) for v in other.attributes.values(reason.field))
        assert any(reason.matched_value in i.attributes.values(reason.field) for i in liked if i.id in reason.item_ids)

    for reason in explain.explain_search(item, query_attributes, query_text, 0.5).reasons:
        assert reason.value in item.attributes.values(reason.field)
        in_query = reason.matched_value in query_attributes.values(reason.field)
        in_text = explain._words(reason.matched_value) in explain._words(query_text)
        assert in_query or in_text
