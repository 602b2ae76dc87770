"""Bad catalogs, end to end through the real ``Engine.ingest`` (real grounder, encoder, Chroma).

A catalog is often someone else's file. Whatever it holds (missing columns, duplicate ids, text
that is not UTF-8, paths that lead out of its folder, rows naming files that are not there),
the usable rows are stored, each unusable one is reported with a reason and what to do, a file
that cannot be read at all is a clear error, and the store is never half-written.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from vlm4rec_agent.catalogs import Columns
from vlm4rec_agent.cli import main
from vlm4rec_agent.cli_output import ingest_text
from vlm4rec_agent.engine import Engine
from vlm4rec_agent.errors import InvalidInputError, NotFoundError

from .conftest import check_store

RED, BLUE = (200, 30, 35), (40, 80, 200)


def photo(path: Path, colour=RED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (96, 96), (255, 255, 255))
    ImageDraw.Draw(image).rectangle((20, 20, 76, 76), fill=colour)
    image.save(path)
    return path


def jsonl(path: Path, rows: list[dict | str | bytes]) -> Path:
    """Rows as JSON lines; a str or bytes row is written as it is (to write broken lines)."""
    lines = [r if isinstance(r, bytes) else (r if isinstance(r, str) else json.dumps(r)).encode() for r in rows]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.fixture
def shop(engine, tmp_path) -> Engine:
    """An engine whose store already holds two items, so that a bad catalog could spoil them."""
    folder = tmp_path / "first"
    photo(folder / "a.jpg", RED), photo(folder / "b.jpg", BLUE)
    report = engine.ingest(
        jsonl(
            folder / "items.jsonl",
            [{"id": "kept-1", "title": "Sofa", "image": "a.jpg"}, {"id": "kept-2", "title": "Rug", "image": "b.jpg"}],
        )
    )
    assert report.added == 2
    return engine


KEPT = {"kept-1", "kept-2"}


def reasons(report) -> dict[str | None, str]:
    return {p.item_id: str(p) for p in report.skipped}


# --- catalogs that cannot be read at all: a clear error, nothing written --------------------------
def _no_id_column(folder: Path) -> tuple[Path, Columns | None]:
    photo(folder / "x.jpg")
    return jsonl(folder / "c.jsonl", [{"code": "x", "image": "x.jpg", "title": "Chair"}]), None


def _no_image_column(folder: Path) -> tuple[Path, Columns | None]:
    (folder / "c.csv").write_text("id,label,picture_url\nx,Chair,x.jpg\n", "utf-8")
    return folder / "c.csv", None


def _named_column_missing(folder: Path) -> tuple[Path, Columns | None]:
    return jsonl(folder / "c.jsonl", [{"id": "x", "image": "x.jpg"}]), Columns(id="sku_code")


def _excel_workbook(folder: Path) -> tuple[Path, Columns | None]:
    with zipfile.ZipFile(folder / "c.csv", "w") as book:  # an .xlsx is a zip of XML files
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/workbook.xml", "<workbook/>")
    return folder / "c.csv", None


def _header_only(folder: Path) -> tuple[Path, Columns | None]:
    (folder / "c.csv").write_text("id,image,title\n", "utf-8")
    return folder / "c.csv", None


def _image_root_missing(folder: Path) -> tuple[Path, Columns | None]:
    return jsonl(folder / "c.jsonl", [{"id": "x", "image": "x.jpg"}]), Columns(image_root=folder / "nowhere")


UNREADABLE = {
    "no id column": (_no_id_column, r"c.jsonl has no column named id or item_id.*line 1 has: code, image, title.*--id-column"),
    "no image column": (_no_image_column, r"c.csv has no column named image.*row 2 has: id, label, picture_url.*--image-column"),
    "named column missing": (_named_column_missing, r"has no column 'sku_code' \(line 1 has: id, image\).*--id-column"),
    "Excel workbook named .csv": (_excel_workbook, r"not a text file \(an Excel workbook.*save it as CSV \(UTF-8\)"),
    "header only": (_header_only, r"has no rows"),
    "image root missing": (_image_root_missing, r"image root is not a folder.*nowhere"),
}  # fmt: skip


@pytest.mark.parametrize("case", UNREADABLE, ids=list(UNREADABLE))
def test_unreadable_catalog_is_a_clear_error_and_writes_nothing(case, shop, tmp_path):
    make, message = UNREADABLE[case]
    (tmp_path / "bad").mkdir()
    path, columns = make(tmp_path / "bad")
    with pytest.raises((InvalidInputError, NotFoundError), match=message):
        shop.ingest(path, columns=columns)
    check_store(shop, KEPT)


# --- rows that cannot be used: reported, the rest stored ------------------------------------------
def test_duplicate_ids_keep_the_first_row_and_store_it_once(shop, tmp_path):
    folder = tmp_path / "dups"
    photo(folder / "red.jpg", RED), photo(folder / "blue.jpg", BLUE)
    catalog = jsonl(
        folder / "items.jsonl",
        [
            {"id": "chair", "title": "Oak chair", "image": "red.jpg"},
            {"id": "stool", "title": "Bar stool", "image": "blue.jpg"},
            {"id": "chair", "title": "Pine chair", "image": "blue.jpg"},
            {"id": " chair ", "title": "Spaced chair", "image": "blue.jpg"},  # the same id once trimmed
        ],
    )
    report = shop.ingest(catalog)
    assert report.added == 2
    assert [str(p) for p in report.skipped] == [
        "line 3 (item chair): duplicate id (first seen on line 1); kept the first",
        "line 4 (item chair): duplicate id (first seen on line 1); kept the first",
    ]
    assert shop.get_item("chair").title == "Oak chair"
    check_store(shop, KEPT | {"chair", "stool"})
    again = shop.ingest(catalog)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    check_store(shop, KEPT | {"chair", "stool"})


def test_jsonl_lines_that_are_not_utf8_are_skipped_with_the_byte_and_the_fix(shop, tmp_path):
    folder = tmp_path / "enc"
    photo(folder / "a.jpg"), photo(folder / "b.jpg", BLUE)
    catalog = jsonl(
        folder / "items.jsonl",
        [
            '{"id": "cafe-chair", "title": "Café chair", "image": "a.jpg"}',  # UTF-8: fine
            b'{"id": "latin-stool", "title": "Caf\xe9 stool", "image": "b.jpg"}',  # Latin-1
            b'{"id": "broken", "title": "Half a char \xc3", "image": "b.jpg"}',  # cut UTF-8 sequence
        ],
    )
    report = shop.ingest(catalog)
    assert report.added == 1
    assert [str(p) for p in report.skipped] == [
        "line 2: not valid UTF-8 text (byte 0xE9 at position 36); save the file as UTF-8",
        "line 3: not valid UTF-8 text (byte 0xC3 at position 40); save the file as UTF-8",
    ]
    assert shop.get_item("cafe-chair").title == "Café chair"
    check_store(shop, KEPT | {"cafe-chair"})


def test_terminal_escapes_and_control_characters_never_reach_the_store_or_the_terminal(shop, tmp_path, capsys):
    import argparse

    from vlm4rec_agent.cli import _emit
    from vlm4rec_agent.cli_output import item_text

    folder = tmp_path / "escapes"
    photo(folder / "a.jpg")
    title = "Lamp\x1b]0;owned\x07\x1b[2J\x1b]52;c;Y3VybA==\x07 \x00white"
    catalog = jsonl(
        folder / "items.jsonl",
        [{"id": "lamp", "title": title, "description": "Two\nlines\x1b[31m red", "image": "a.jpg"}],
    )
    assert shop.ingest(catalog).added == 1
    item = shop.get_item("lamp")
    assert "\x1b" not in item.title + item.text and "\x00" not in item.title and "\x07" not in item.title
    assert item.title.split() == ["Lamp", "white"] and "Two lines  red" in item.text
    _emit(
        argparse.Namespace(json=False), None, item_text(item) + " \x1b[2J\x9b0m"
    )  # a store written before the cleaning
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\x9b" not in shown and shown.startswith("lamp  Lamp")


def test_a_5_mb_title_and_a_10_mb_description_are_stored_cut_to_their_caps_with_a_note(shop, tmp_path):
    from vlm4rec_agent.catalogs import MAX_TEXT_CHARS, MAX_TITLE_CHARS

    folder = tmp_path / "long"
    photo(folder / "a.jpg"), photo(folder / "b.jpg", BLUE)
    catalog = jsonl(folder / "items.jsonl", [
        {"id": "huge", "title": "Lamp " * 1_000_000, "description": "bright " * 1_500_000, "image": "a.jpg"},
        {"id": "chair", "title": "Chair", "image": "b.jpg"},
    ])  # fmt: skip
    report = shop.ingest(catalog)
    assert report.added == 2 and not report.skipped
    item = shop.get_item("huge")
    assert len(item.title) <= MAX_TITLE_CHARS and len(item.text) <= MAX_TEXT_CHARS + MAX_TITLE_CHARS + 2
    assert [str(n) for n in report.notes] == [
        "line 1 (item huge): its title is 4,999,999 characters long; stored cut to 299 (the cap is 300)",
        "line 1 (item huge): its text is 15,500,001 characters long; stored cut to 9,999 (the cap is 10,000)",
    ]
    assert len(shop.search_answer("lamp", k=2).results) == 2  # and a search answers in a few kB, not megabytes


def test_a_csv_quote_never_closed_is_named_and_the_rows_it_swallowed_are_read_on(shop, tmp_path):
    folder = tmp_path / "quote"
    for name, colour in (("a.jpg", RED), ("b.jpg", BLUE), ("c.jpg", RED)):
        photo(folder / name, colour)
    catalog = folder / "items.csv"
    catalog.write_text('id,title,image\nsofa,"Sofa, 3 seats,a.jpg\nchair,Chair,b.jpg\nstool,Stool,c.jpg\n', "utf-8")
    report = shop.ingest(catalog)
    assert report.added == 2 and len(report.skipped) == 1
    assert str(report.skipped[0]).startswith("row 2: its 'title' cell opens a quote that is never closed, which "
                                             "swallowed the 2 lines after it")  # fmt: skip
    assert shop.get_item("chair").title == "Chair" and shop.get_item("stool").title == "Stool"
    check_store(shop, KEPT | {"chair", "stool"})


def test_a_line_nested_100000_deep_is_reported_and_the_rest_is_stored(shop, tmp_path):
    folder = tmp_path / "deep"
    photo(folder / "a.jpg"), photo(folder / "b.jpg", BLUE)
    deep = '{"id": "deep", "title": ' + "[" * 100_000 + "]" * 100_000 + ', "image": "a.jpg"}'
    catalog = jsonl(folder / "items.jsonl", [{"id": "chair", "title": "Chair", "image": "a.jpg"}, deep,
                                             {"id": "stool", "title": "Stool", "image": "b.jpg"}])  # fmt: skip
    report = shop.ingest(catalog)
    assert report.added == 2 and [str(p) for p in report.skipped] == [
        "line 2: nested too deeply to read; a catalog row is one flat JSON object"
    ]
    check_store(shop, KEPT | {"chair", "stool"})


@pytest.mark.parametrize(
    "encoding, warning",
    [("cp1252", "not UTF-8; read it as Windows-1252"), ("utf-16", None), ("utf-8-sig", None)],
    ids=["Windows-1252 (Excel)", "UTF-16 with BOM (Excel Unicode text)", "UTF-8 with BOM"],
)
def test_csv_in_another_encoding_is_read_correctly(encoding, warning, shop, tmp_path):
    folder = tmp_path / "csv"
    photo(folder / "a.jpg"), photo(folder / "b.jpg", BLUE)
    text = "id\ttitle\timage\nsofa\tCafé ‘Noir’ sofa\ta.jpg\nlamp\tLampe très chic\tb.jpg\n"
    (folder / "items.csv").write_bytes(text.encode(encoding))
    report = shop.ingest(folder / "items.csv")
    assert report.added == 2 and report.seen == 2 and report.skipped == []  # a note about the file skips no row
    assert [p.reason for p in report.notes] == (
        [f"file is {warning} (save it as UTF-8 to be sure of accents)"] if warning else []
    )
    shown = ingest_text(report)
    assert "0 skipped" in shown and ("note: " in shown) == bool(warning)
    assert shop.get_item("sofa").title == "Café ‘Noir’ sofa"
    check_store(shop, KEPT | {"sofa", "lamp"})


def test_csv_cell_too_large_for_the_csv_reader_loses_only_its_row(shop, tmp_path):
    folder = tmp_path / "big-cell"
    photo(folder / "a.jpg"), photo(folder / "b.jpg", BLUE)
    huge = "very long text " * 10_000  # 150 kB, over the csv module's 128 kB cell limit
    (folder / "items.csv").write_text(
        f"id,title,description,image\nx,Sofa,{huge},a.jpg\ny,Lamp,Bright,b.jpg\n", "utf-8"
    )
    report = shop.ingest(folder / "items.csv")
    assert report.added == 1
    assert [str(p) for p in report.skipped] == ["row 2: cannot be read as CSV (field larger than field limit (131072))"]
    check_store(shop, KEPT | {"y"})


# --- paths that lead out of the catalog's folder -----------------------------------------------
@pytest.fixture
def escaping(tmp_path) -> Path:
    """A catalog whose rows reach for files outside its folder, by every route, plus good rows."""
    folder = tmp_path / "shop"
    photo(folder / "images" / "good.jpg")
    photo(tmp_path / "elsewhere" / "private.jpg", BLUE)  # a real photo, but outside the catalog's folder
    os.symlink(tmp_path / "elsewhere" / "private.jpg", folder / "images" / "link-out.jpg")
    os.symlink(folder / "images" / "good.jpg", folder / "images" / "link-in.jpg")
    os.mkfifo(folder / "images" / "pipe.jpg")  # reading it would block forever
    photo(tmp_path / "elsewhere" / "deep" / "inner.jpg")
    os.symlink(tmp_path / "elsewhere" / "deep", folder / "images" / "door")  # a folder link leading out
    rows = [
        {"id": "good", "image": "images/good.jpg"},
        {"id": "absolute-inside", "image": str(folder / "images" / "good.jpg")},
        {"id": "link-in", "image": "images/link-in.jpg"},
        {"id": "dot-dot", "image": "../elsewhere/private.jpg"},
        {"id": "passwd", "image": "../../../../../../../../etc/passwd"},
        {"id": "absolute-outside", "image": "/etc/hostname"},
        {"id": "absolute-photo", "image": str(tmp_path / "elsewhere" / "private.jpg")},
        {"id": "link-out", "image": "images/link-out.jpg"},
        {"id": "home", "image": "~/.ssh/id_rsa"},
        {"id": "sneaky", "image": "images/../../elsewhere/private.jpg"},
        {"id": "through-door", "image": "images/door/inner.jpg"},
        {"id": "door-dot-dot", "image": "images/door/../private.jpg"},  # by name inside; in fact not
        {"id": "folder", "image": "images"},
        {"id": "pipe", "image": "images/pipe.jpg"},
        {"id": "nul", "image": "images/good.jpg\u0000.png"},
        {"id": "url", "image": "file:///etc/passwd"},
    ]
    for row in rows:  # texts apart, so that every item's vector is its own
        row["title"] = f"Model {row['id'].replace('-', ' ')}"
    return jsonl(folder / "items.jsonl", rows)


OUTSIDE = r"image path leads outside the catalog's folder .*; only images inside it are read \(move the photos there, or allow their folder with --image-root DIR\)"  # noqa: E501
ESCAPES = {
    "dot-dot": OUTSIDE,
    "passwd": OUTSIDE,
    "absolute-outside": OUTSIDE,
    "absolute-photo": OUTSIDE,
    "link-out": r"image path is a symbolic link to a file outside the catalog's folder",
    "home": OUTSIDE,
    "sneaky": OUTSIDE,
    "through-door": r"image path is a symbolic link to a file outside the catalog's folder",
    "door-dot-dot": r"image path is a symbolic link to a file outside the catalog's folder",
    "folder": r"a folder or a special file, not an image file",
    "pipe": r"a folder or a special file, not an image file",
    "nul": r"image path has a NUL character",
    "url": r"image is a URL \(file:///etc/passwd\); only local files",
}


def test_paths_outside_the_catalogs_folder_are_refused(escaping, shop):
    report = shop.ingest(escaping)
    assert report.added == 3, report.summary()  # good, absolute-inside, link-in
    found = reasons(report)
    assert set(found) == set(ESCAPES)
    for item_id, reason in ESCAPES.items():
        assert re.search(reason, found[item_id]), found[item_id]
    check_store(shop, KEPT | {"good", "absolute-inside", "link-in"})


def test_image_root_lets_a_catalog_reach_the_folder_it_names_and_no_further(escaping, shop):
    report = shop.ingest(escaping, columns=Columns(image_root=escaping.parent.parent))
    stored = {"good", "absolute-inside", "link-in", "dot-dot", "absolute-photo", "link-out", "sneaky"}
    stored |= {"through-door", "door-dot-dot"}
    assert report.added == len(stored), report.summary()
    found = reasons(report)
    assert set(found) == {"passwd", "absolute-outside", "home", "folder", "pipe", "nul", "url"}
    assert "outside the image root" in found["passwd"]
    check_store(shop, KEPT | stored)


def test_cli_image_root_flag(escaping, tmp_path, monkeypatch, model_cache, encoder, capsys):
    monkeypatch.setenv("VLM4REC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VLM4REC_MODEL_CACHE", str(model_cache))
    assert main(["ingest", str(escaping), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(["ingest", str(escaping), "--image-root", str(escaping.parent.parent), "--json"]) == 0
    widened = json.loads(capsys.readouterr().out)
    assert (plain["added"], widened["added"]) == (3, 6), (plain, widened)


# --- rows naming files that are not there -------------------------------------------------------
def test_missing_files_are_skipped_and_stored_once_they_appear(shop, tmp_path):
    folder = tmp_path / "missing"
    photo(folder / "here.jpg")
    catalog = jsonl(
        folder / "items.jsonl", [{"id": "here", "image": "here.jpg"}, {"id": "gone", "image": "photos/gone.jpg"}]
    )
    report = shop.ingest(catalog)
    assert report.added == 1
    assert re.fullmatch(r".*/photos/gone.jpg \(item gone\): image file not found", str(report.skipped[0]))
    check_store(shop, KEPT | {"here"})
    photo(folder / "photos" / "gone.jpg", BLUE)
    report = shop.ingest(catalog)
    assert (report.added, report.unchanged, report.skipped) == (1, 1, [])
    check_store(shop, KEPT | {"here", "gone"})


# --- folder catalogs ----------------------------------------------------------------------------
def test_folder_catalog_reports_what_it_cannot_use(shop, tmp_path):
    folder = tmp_path / "photos"
    photo(folder / "chair.jpg"), photo(folder / "lamps" / "desk-lamp.png", BLUE)
    photo(folder / "stool.jpg"), photo(folder / "stool.png", BLUE)  # two files, one id
    (folder / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    photo(tmp_path / "private" / "me.jpg")
    os.symlink(tmp_path / "private" / "me.jpg", folder / "me.jpg")
    report = shop.ingest(folder)
    assert report.added == 3, report.summary()
    found = reasons(report)
    assert found == {
        "logo": f"{folder / 'logo.svg'} (item logo): an SVG drawing cannot be read; convert it to PNG or JPEG",
        "me": found["me"],
        "stool": f"{folder / 'stool.png'} (item stool): duplicate id: stool.jpg has the same name; kept that one",
    }
    assert "is a symbolic link to a file outside the catalog's folder" in found["me"]
    check_store(shop, KEPT | {"chair", "lamps/desk-lamp", "stool"})
