import json

import pytest

from vlm4rec_agent.catalogs import Columns, read_catalog
from vlm4rec_agent.errors import InvalidInputError, NotFoundError


def write_jsonl(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", "utf-8")
    return path


def test_jsonl_with_usual_names_needs_no_options(tmp_path):
    path = write_jsonl(
        tmp_path / "items.jsonl",
        [{"id": "000.379.80", "name": "MELODI", "type": "Pendant lamp", "color": "", "size": "28 cm",
          "description": "Gives a directed light.", "image": "images/000.379.80.jpg"}],
    )  # fmt: skip
    catalog = read_catalog(path)
    [item] = catalog.items
    assert item.id == "000.379.80"
    assert item.image == tmp_path / "images" / "000.379.80.jpg"  # relative to the catalog file
    assert item.title == "MELODI · Pendant lamp"
    assert item.text == "MELODI. Pendant lamp. Gives a directed light."
    assert item.extra == {"size": "28 cm"}  # what title and text do not already hold
    assert catalog.problems == []


def test_csv_like_the_clothing_labels(tmp_path):
    path = tmp_path / "labels.csv"
    inside = tmp_path / "images" / "def.jpg"
    path.write_text(f"id,label,kids,image\nabc,T-Shirt,False,images/abc.jpg\ndef,Dress,True,{inside}\n", "utf-8")
    items = read_catalog(path).items
    assert [i.id for i in items] == ["abc", "def"]
    assert items[0].title == "T-Shirt" and items[0].text == "T-Shirt."
    assert items[0].extra == {"kids": "False"}
    assert items[1].image == inside  # an absolute path inside the catalog's folder is fine


def test_semicolon_csv_is_sniffed(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("sku;photo;title\n1;a.jpg;Red chair\n", "utf-8")
    [item] = read_catalog(path).items
    assert (item.id, item.image.name, item.title) == ("1", "a.jpg", "Red chair")


def test_columns_can_be_named(tmp_path):
    path = write_jsonl(
        tmp_path / "c.jsonl", [{"code": 7, "pic": "x.png", "headline": "Blue vase", "notes": "glass", "blurb": "x"}]
    )
    columns = Columns(id="code", image="pic", title="headline", text=["headline", "notes"])
    [item] = read_catalog(path, columns).items
    assert item.id == "7" and item.image.name == "x.png"
    assert item.title == "Blue vase" and item.text == "Blue vase. glass."
    assert item.extra == {"blurb": "x"}  # columns not used for id, image, title or text


def test_missing_id_or_image_column_is_a_clear_error(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [{"code": 1, "image": "a.jpg"}])
    with pytest.raises(InvalidInputError, match="no column named id or item_id.*--id-column"):
        read_catalog(path)
    with pytest.raises(InvalidInputError, match="no column 'pic'.*--image-column"):
        read_catalog(path, Columns(id="code", image="pic"))


def test_bad_rows_become_problems_and_the_rest_is_read(tmp_path):
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"id": "a", "image": "a.jpg"},
            "{not json",
            "[1, 2]",
            {"id": "", "image": "b.jpg"},
            {"id": "c", "image": ""},
            {"id": "a", "image": "again.jpg"},
            {"id": "d", "image": "https://example.com/d.jpg"},
            {"id": "e", "image": "e.jpg"},
            {"image": "f.jpg"},
        ],
    )
    catalog = read_catalog(path)
    assert [i.id for i in catalog.items] == ["a", "e"]
    reasons = [str(p) for p in catalog.problems]
    assert any("line 2" in r and "not valid JSON" in r for r in reasons)
    assert any("line 3" in r and "not a JSON object" in r for r in reasons)
    assert any("empty id" in r for r in reasons)
    assert any("(item c)" in r and "no image" in r for r in reasons)
    assert any("duplicate id" in r and "line 1" in r for r in reasons)
    assert any("URL" in r for r in reasons)


def test_invalid_utf8_line_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'{"id": "a", "image": "a.jpg"}\n{"id": "\xff\xfe", "image": "b.jpg"}\n')
    catalog = read_catalog(path)
    assert [i.id for i in catalog.items] == ["a"]
    assert "not valid UTF-8" in str(catalog.problems[0])


def test_latin1_csv_is_read_with_a_warning(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes("id,image,title\n1,a.jpg,Caf\xe9 chair\n".encode("latin-1"))
    catalog = read_catalog(path)
    assert catalog.items[0].title == "Café chair"
    assert "not UTF-8" in str(catalog.problems[0]) and not catalog.problems[0].skips_row


def test_limit_counts_items(tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [{"id": str(i), "image": f"{i}.jpg"} for i in range(10)])
    assert len(read_catalog(path, limit=3).items) == 3
    with pytest.raises(InvalidInputError):
        read_catalog(path, limit=0)


def test_folder_of_images(tmp_path, draw):
    draw(tmp_path / "shop" / "dresses" / "red_linen-dress.jpg", (200, 30, 35))
    draw(tmp_path / "shop" / "lamp.png", (245, 245, 243))
    (tmp_path / "shop" / "notes.txt").write_text("not an image")
    draw(tmp_path / "shop" / ".hidden" / "x.jpg", (0, 0, 0))
    items = read_catalog(tmp_path / "shop").items
    assert [i.id for i in items] == ["dresses/red_linen-dress", "lamp"]
    assert items[0].title == "red linen dress"


def test_unusable_sources_are_clear_errors(tmp_path):
    with pytest.raises(NotFoundError, match="catalog not found"):
        read_catalog(tmp_path / "missing.jsonl")
    (tmp_path / "c.xml").write_text("<x/>")
    with pytest.raises(InvalidInputError, match="cannot tell the format"):
        read_catalog(tmp_path / "c.xml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="no images"):
        read_catalog(tmp_path / "empty")
    (tmp_path / "e.jsonl").write_text("\n\n")
    with pytest.raises(InvalidInputError, match="has no rows"):
        read_catalog(tmp_path / "e.jsonl")
