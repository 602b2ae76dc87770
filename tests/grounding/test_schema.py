from vlm4rec_agent.grounding.schema import CITABLE_FIELDS, Attributes, GroundingRecord, normalize_value


def test_values_are_normalised_and_deduplicated():
    a = Attributes(
        category="  Table   Lamp. ",
        colors=["White", "white ", "", None, "Dark  Grey"],
        style="Scandinavian, minimalist",
    )
    assert a.category == "table lamp"
    assert a.colors == ["white", "dark grey"]
    assert a.style == ["scandinavian", "minimalist"]


def test_category_accepts_a_list_and_takes_the_first_real_value():
    assert Attributes(category=["", "Dress", "skirt"]).category == "dress"
    assert Attributes(category=[]).category is None


def test_unknown_fields_are_ignored_and_missing_ones_default_to_empty():
    a = Attributes.model_validate({"category": "shirt", "brand_new_field": 3})
    assert a.colors == [] and a.description == "" and a.category == "shirt"


def test_pairs_lists_every_citable_value():
    a = Attributes(category="dress", colors=["red"], materials=["linen", "cotton"], season=["summer"])
    assert set(a.pairs()) == {
        ("category", "dress"),
        ("colors", "red"),
        ("materials", "linen"),
        ("materials", "cotton"),
        ("season", "summer"),
    }
    assert all(field in CITABLE_FIELDS for field, _ in a.pairs())
    assert a.values("category") == ["dress"] and Attributes().values("category") == []


def test_overlong_values_are_clipped_and_lists_bounded():
    a = Attributes(colors=[f"colour {i}" for i in range(20)], category="x" * 500)
    assert len(a.colors) == 8
    assert len(a.category) == 60


def test_normalize_value_handles_non_strings():
    assert normalize_value(None) == ""
    assert normalize_value(3) == "3"


def test_record_round_trips_through_json():
    record = GroundingRecord(
        attributes=Attributes(category="lamp", colors=["white"], description="A white lamp."),
        grounder="basic",
        model_id="m",
        prompt_version="v1",
        notice="basic",
        evidence={"imagenet_top3": [["table lamp", 0.5]]},
    )
    again = GroundingRecord.model_validate_json(record.model_dump_json())
    assert again == record
    assert "basic grounder (m, prompt v1)" == again.source
