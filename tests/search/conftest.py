"""A small catalog with product types, series names and near-duplicates, for search tests.

It is built so that each rule has something to get wrong: skirts that say "summer" and dresses
that don't (the README's "summer dresses" once returned six skirts), a series name three items
carry (dense vectors do not match rare words), lamp shades beside pendant lamps (the vocabulary
calls both lamps), and four near-identical red skirts (a page of six must not be four of them).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..conftest import draw_product

# id, type, title, description, colour of the generated photo
SEARCH_CATALOG = [
    ("dress-navy", "Dress", "Navy dress", "A navy dress with long sleeves.", (30, 40, 110)),
    ("dress-green", "Dress", "Green dress", "A green dress for evenings.", (40, 140, 60)),
    ("skirt-red-1", "Skirt", "Red skirt", "A red summer skirt in cotton.", (200, 30, 35)),
    ("skirt-red-2", "Skirt", "Red skirt", "A red summer skirt in cotton.", (205, 32, 38)),
    ("skirt-red-3", "Skirt", "Red skirt", "A red summer skirt in cotton.", (198, 28, 30)),
    ("skirt-red-4", "Skirt", "Red skirt", "A red summer skirt in cotton.", (202, 35, 33)),
    ("skirt-blue", "Skirt", "Blue skirt", "A light blue summer skirt in linen.", (90, 140, 220)),
    ("top-white", "T-shirt", "White t-shirt", "A white cotton t-shirt for summer.", (245, 245, 245)),
    ("kallax-1", "Shelving unit", "KALLAX · Shelving unit", "Shelving unit in white, four compartments.", (240, 240, 240)),
    ("kallax-2", "Shelving unit", "KALLAX · Shelving unit", "Shelving unit in black-brown, eight compartments.", (60, 45, 35)),
    ("kallax-3", "Insert with door", "KALLAX · Insert with door", "Insert with door for a shelving unit.", (230, 230, 230)),
    ("billy-1", "Bookcase", "BILLY · Bookcase", "Bookcase in white with adjustable shelves.", (235, 235, 235)),
    ("lamp-1", "Pendant lamp", "MELODI · Pendant lamp", "Pendant lamp in white, gives a diffused light; its bulb lasts 25,000 hours.", (250, 250, 245)),
    ("lamp-2", "Pendant lamp, 3-armed", "RANARP · Pendant lamp, 3-armed", "Black steel pendant lamp.", (20, 20, 20)),
    ("shade-1", "Lamp shade", "HEMSTA · Lamp shade", "Lamp shade in white fabric.", (250, 248, 240)),
    ("shade-2", "Pendant lamp shade", "SOLLEFTEA · Pendant lamp shade", "Pendant lamp shade, pink.", (230, 160, 170)),
    ("tlamp-1", "Table lamp", "LAUTERS · Table lamp", "Table lamp in ash and white.", (200, 180, 150)),
    ("cushion-cover", "Cushion cover", "GURLI · Cushion cover", "Cushion cover in beige cotton.", (220, 200, 170)),
    ("quilt-cover", "Quilt cover and pillowcase", "DVALA · Quilt cover and pillowcase", "Duvet cover in white cotton for the bed.", (245, 245, 250)),
]  # fmt: skip


def write_search_catalog(folder: Path) -> Path:
    rows = []
    for item_id, kind, title, description, colour in SEARCH_CATALOG:
        draw_product(folder / "images" / f"{item_id}.jpg", colour)
        rows.append({"id": item_id, "type": kind, "title": title, "description": description, "image": f"images/{item_id}.jpg"})  # fmt: skip
    path = folder / "items.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", "utf-8")
    return path


@pytest.fixture(scope="module")
def search_catalog(tmp_path_factory) -> Path:
    return write_search_catalog(tmp_path_factory.mktemp("search-catalog"))


@pytest.fixture(scope="module")
def search_engine(tmp_path_factory, search_catalog, encoder, grounder, model_cache):
    from vlm4rec_agent.engine import Engine
    from vlm4rec_agent.settings import Settings

    settings = Settings(home=tmp_path_factory.mktemp("search-home"), model_cache=model_cache)
    with Engine(settings, encoder=encoder, grounder=grounder) as engine:
        assert engine.ingest(search_catalog).added == len(SEARCH_CATALOG)
        yield engine
