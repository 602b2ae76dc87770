"""Read a catalog (JSONL, CSV or a folder of images) into :class:`Item` objects.

With the usual column names no options are needed: the id comes from ``id`` (or ``item_id``,
``product_id``, ``sku``, ``asin``), the photo from ``image`` (or ``image_path``, ``img``, ``path``,
``file``, ``filename``, ``photo``), the title from ``title`` or ``name`` (with ``type``,
``category`` or ``label`` added for display), and the text that describes the item from every
present column of :data:`TEXT_COLUMNS`. :class:`Columns` overrides any of these. Image paths are
relative to the catalog file. Rows that cannot be used become :class:`CatalogProblem` entries;
they never stop the rest of the catalog from being read.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .errors import InvalidInputError, NotFoundError
from .items import Item, MetadataValue

ID_COLUMNS = ("id", "item_id", "product_id", "sku", "asin")
IMAGE_COLUMNS = ("image", "image_path", "img", "path", "file", "filename", "photo")
TITLE_COLUMNS = ("title", "name", "product_name")
KIND_COLUMNS = ("type", "category", "label")
TEXT_COLUMNS = (
    "title", "name", "product_name", "type", "category", "label", "brand",
    "color", "colour", "material", "description", "text", "details",
)  # fmt: skip
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
CSV_SUFFIXES = {".csv", ".tsv"}
MAX_ID_LENGTH = 256


class Columns(BaseModel):
    """Which columns hold what; ``None`` means "use the usual names"."""

    id: str | None = None
    image: str | None = None
    title: str | None = None
    text: list[str] | None = None


@dataclass
class CatalogProblem:
    where: str  # "line 12", "row 3" or a file path
    reason: str
    item_id: str | None = None

    def __str__(self) -> str:
        who = f" (item {self.item_id})" if self.item_id else ""
        return f"{self.where}{who}: {self.reason}"


@dataclass
class Catalog:
    source: Path
    items: list[Item] = field(default_factory=list)
    problems: list[CatalogProblem] = field(default_factory=list)


def read_catalog(source: str | Path, columns: Columns | None = None, limit: int | None = None) -> Catalog:
    """Read every usable item of a catalog file or image folder (at most ``limit`` items)."""
    path = Path(source).expanduser()
    if not path.exists():
        raise NotFoundError(f"catalog not found: {path}", "give the path of a JSONL or CSV file, or a folder of images")
    if limit is not None and limit < 1:
        raise InvalidInputError(f"--limit must be at least 1, got {limit}")
    if path.is_dir():
        return _read_folder(path, limit)
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        rows = _jsonl_rows(path)
    elif suffix in CSV_SUFFIXES:
        rows = _csv_rows(path)
    else:
        raise InvalidInputError(
            f"cannot tell the format of {path.name}", "use a .jsonl or .csv file, or a folder of images"
        )
    return _items_from_rows(path, rows, columns or Columns(), limit)


def _jsonl_rows(path: Path):
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"line {number}"
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8-sig"))
            except UnicodeDecodeError:
                yield where, None, "not valid UTF-8 text"
                continue
            except json.JSONDecodeError as error:
                yield where, None, f"not valid JSON ({error.msg})"
                continue
            if not isinstance(row, dict):
                yield where, None, "not a JSON object"
                continue
            yield where, row, None


def _csv_rows(path: Path):
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        yield str(path), None, "file is not UTF-8; read it as Latin-1 (save it as UTF-8 to be sure of accents)"
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    if delimiter == ",":
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            pass
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    for number, row in enumerate(reader, start=2):
        row.pop(None, None)  # cells beyond the header
        yield f"row {number}", row, None


def _scalar(value: Any) -> MetadataValue | None:
    if value is None:
        return None
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, list):
        parts = [str(v).strip() for v in value if v is not None and str(v).strip()]
        return ", ".join(parts) or None
    return json.dumps(value, ensure_ascii=False)


def _first(row: dict, names: tuple[str, ...], with_value: bool = True) -> str | None:
    """The row's first column among ``names`` (case-insensitive), optionally only a non-empty one."""
    lowered = {k.lower(): k for k in row}
    for name in names:
        key = lowered.get(name)
        if key is not None and (not with_value or _scalar(row[key]) is not None):
            return key
    return None


def _resolve_key_columns(path: Path, where: str, row: dict, columns: Columns) -> tuple[str, str]:
    """Which columns hold the id and the image, decided from the first row."""
    keys = []
    for flag, given, usual in (
        ("--id-column", columns.id, ID_COLUMNS),
        ("--image-column", columns.image, IMAGE_COLUMNS),
    ):
        key = given or _first(row, usual, with_value=False)
        if key is None or key not in row:
            wanted = f"column {key!r}" if key else f"column named {' or '.join(usual)}"
            raise InvalidInputError(
                f"{path.name} has no {wanted} ({where} has: {', '.join(map(str, row))})",
                f"say which column to use with {flag}",
            )
        keys.append(key)
    return keys[0], keys[1]


def _join_text(parts: list[str]) -> str:
    cleaned = [re.sub(r"\s+", " ", p).strip().rstrip(".") for p in parts]
    cleaned = [p for p in cleaned if p]
    return ". ".join(cleaned) + "." if cleaned else ""


def _items_from_rows(path: Path, rows, columns: Columns, limit: int | None) -> Catalog:
    catalog = Catalog(source=path)
    seen: dict[str, str] = {}
    keys: tuple[str, str] | None = None
    for where, row, problem in rows:
        if problem:
            catalog.problems.append(CatalogProblem(where, problem))
            continue
        keys = keys or _resolve_key_columns(path, where, row, columns)
        item = _item_from_row(path, where, row, keys, columns, catalog)
        if item is None:
            continue
        if item.id in seen:
            catalog.problems.append(
                CatalogProblem(where, f"duplicate id (first seen on {seen[item.id]}); kept the first", item.id)
            )
            continue
        seen[item.id] = where
        catalog.items.append(item)
        if limit is not None and len(catalog.items) >= limit:
            break
    if not catalog.items and not catalog.problems:
        raise InvalidInputError(f"catalog {path} has no rows")
    return catalog


def _item_from_row(
    path: Path, where: str, row: dict, keys: tuple[str, str], columns: Columns, catalog: Catalog
) -> Item | None:
    id_key, image_key = keys
    item_id = _scalar(row.get(id_key))
    if item_id is None:
        catalog.problems.append(CatalogProblem(where, f"empty id in column {id_key!r}"))
        return None
    item_id = str(item_id)
    if len(item_id) > MAX_ID_LENGTH or not item_id.isprintable():
        catalog.problems.append(
            CatalogProblem(where, f"id is longer than {MAX_ID_LENGTH} characters or has control characters")
        )
        return None
    image_value = _scalar(row.get(image_key))
    if image_value is None:
        catalog.problems.append(CatalogProblem(where, f"no image in column {image_key!r}", item_id))
        return None
    image_value = str(image_value)
    if re.match(r"^[a-z][a-z0-9+.-]*://", image_value, re.IGNORECASE):
        catalog.problems.append(
            CatalogProblem(
                where,
                f"image is a URL ({image_value[:80]}); only local files are supported, download it first",
                item_id,
            )
        )
        return None
    image = Path(image_value).expanduser()
    if not image.is_absolute():
        image = path.parent / image

    title_keys = (
        [columns.title] if columns.title else [k for k in (_first(row, TITLE_COLUMNS), _first(row, KIND_COLUMNS)) if k]
    )
    title = " · ".join(dict.fromkeys(str(v) for k in title_keys if (v := _scalar(row.get(k))) is not None))
    text_keys = columns.text if columns.text is not None else [k for k in row if k.lower() in TEXT_COLUMNS]
    text_keys = sorted(text_keys, key=lambda k: TEXT_COLUMNS.index(k.lower()) if k.lower() in TEXT_COLUMNS else 99)
    text = _join_text([str(v) for k in text_keys if (v := _scalar(row.get(k))) is not None])
    used = {id_key, image_key, *title_keys, *text_keys}
    extra = {k: v for k, raw in row.items() if k not in used and (v := _scalar(raw)) is not None}
    return Item(id=item_id, image=image, title=title, text=text, extra=extra)


def _read_folder(folder: Path, limit: int | None) -> Catalog:
    catalog = Catalog(source=folder)
    files = sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )  # fmt: skip
    if not files:
        raise InvalidInputError(
            f"no images in {folder}", f"a folder catalog holds {', '.join(sorted(IMAGE_EXTENSIONS))} files"
        )
    for file in files[:limit]:
        relative = file.relative_to(folder).with_suffix("").as_posix()
        title = re.sub(r"[_-]+", " ", file.stem).strip()
        catalog.items.append(Item(id=relative, image=file, title=title))
    return catalog
