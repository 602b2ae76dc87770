"""Read a catalog (JSONL, CSV or a folder of images) into :class:`Item` objects.

With the usual column names no options are needed: the id comes from ``id`` (or ``item_id``,
``product_id``, ``sku``, ``asin``), the photo from ``image`` (or ``image_path``, ``img``, ``path``,
``file``, ``filename``, ``photo``), the title from ``title`` or ``name`` (with ``type``,
``category`` or ``label`` added for display), and the text that describes the item from every
present column of :data:`TEXT_COLUMNS`. :class:`Columns` overrides any of these. Image paths are
relative to the catalog file. Rows that cannot be used become :class:`CatalogProblem` entries;
they never stop the rest of the catalog from being read.

A catalog is often someone else's file, so it reaches only the images inside its own folder:
a path that leads elsewhere (``../../etc/passwd``, an absolute path, a symbolic link pointing
out) is a problem, not a file that gets read. ``Columns(image_root=DIR)`` (``--image-root``)
moves that fence to another folder, for catalogs whose photos are kept apart from the file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .errors import InvalidInputError, NotFoundError
from .ids import ITEM_ID_RULE, MAX_ID_LENGTH, id_problem, nfc, shown_id
from .items import Item, MetadataValue
from .terminal_text import printable

ID_COLUMNS = ("id", "item_id", "product_id", "sku", "asin")
IMAGE_COLUMNS = ("image", "image_path", "img", "path", "file", "filename", "photo")
TITLE_COLUMNS = ("title", "name", "product_name")
KIND_COLUMNS = ("type", "category", "label")
TEXT_COLUMNS = (
    "title", "name", "product_name", "type", "category", "label", "brand",
    "color", "colour", "material", "description", "text", "details",
)  # fmt: skip
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".jfif", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
# Pictures a folder catalog holds but that cannot be read: reported, not silently left out.
UNREADABLE_EXTENSIONS = {
    ".svg": "an SVG drawing",
    ".svgz": "an SVG drawing",
    ".heic": "a HEIC photo",
    ".heif": "a HEIF photo",
}
FOLDER_EXTENSIONS = IMAGE_EXTENSIONS | set(UNREADABLE_EXTENSIONS)  # what a folder catalog lists
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
CSV_SUFFIXES = {".csv", ".tsv"}
MAX_LISTED_COLUMNS = 20
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class Columns(BaseModel):
    """Which columns hold what; ``None`` means "use the usual names".

    ``image_root`` is the folder the image paths may lead into; by default the catalog's own
    folder (or the image folder itself), so that a catalog cannot make this app read other files.
    """

    id: str | None = None
    image: str | None = None
    title: str | None = None
    kind: str | None = None
    text: list[str] | None = None
    image_root: Path | None = None


# Caps on what one item stores (documented in README, "Your own catalog"): a title, the text that
# describes it (description, type, ...) and each other field.
MAX_TITLE_CHARS = 300
MAX_TEXT_CHARS = 10_000
MAX_FIELD_CHARS = 1_000


@dataclass
class CatalogProblem:
    where: str  # "line 12", "row 3" or a file path
    reason: str
    item_id: str | None = None
    skips_row: bool = True  # False for a remark about the whole file (every row was still read)

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
    columns = columns or Columns()
    fence = _Fence(columns.image_root or (path if path.is_dir() else path.parent), columns.image_root is not None)
    if path.is_dir():
        return _read_folder(path, limit, fence)
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        rows = _jsonl_rows(path)
    elif suffix in CSV_SUFFIXES:
        rows = _csv_rows(path)
    else:
        raise InvalidInputError(
            f"cannot tell the format of {path.name}", "use a .jsonl or .csv file, or a folder of images"
        )
    return _items_from_rows(path, rows, columns, limit, fence)


class _Fence:
    """The folder a catalog's images must be in; says why a path is refused.

    Paths are resolved as the system would open them (symbolic links followed, ``..`` taken after
    them). The folders of a catalog's photos are few, so each is resolved once; a photo then
    costs one ``lstat``.
    """

    def __init__(self, root: Path, given: bool):
        root = Path(root).expanduser()
        if not root.is_dir():
            raise NotFoundError(f"image root is not a folder: {root}", "give the folder that holds the photos")
        self.root = os.path.realpath(root)
        self.named_root = os.path.normpath(os.path.abspath(root))
        self.given = given
        self._folders: dict[str, str] = {}

    def _resolve(self, image: Path) -> tuple[str, os.stat_result | None]:
        """The real path of ``image`` and its status (``None`` when there is no such file)."""
        # Not abspath: it would drop "link/.." by name, where the system goes where the link leads.
        folder, name = os.path.split(os.path.join(os.getcwd(), image))
        if name in ("", ".", ".."):
            resolved = os.path.realpath(image)
        else:
            if folder not in self._folders:
                self._folders[folder] = os.path.realpath(folder)
            resolved = os.path.join(self._folders[folder], name)
        try:
            status = os.lstat(resolved)
        except (OSError, ValueError):
            return resolved, None
        if stat.S_ISLNK(status.st_mode):
            resolved = os.path.realpath(resolved)
            try:
                status = os.stat(resolved)
            except (OSError, ValueError):
                status = None
        return resolved, status

    def problem(self, image: Path) -> str | None:
        """Why ``image`` may not be read (outside the fence, or not a regular file), else ``None``."""
        resolved, status = self._resolve(image)
        if resolved != self.root and not resolved.startswith(self.root.rstrip(os.sep) + os.sep):
            by_name = os.path.normpath(os.path.abspath(image)).startswith(self.named_root.rstrip(os.sep) + os.sep)
            how = "is a symbolic link to a file" if by_name else "leads"
            where = "the image root" if self.given else "the catalog's folder"
            return (
                f"image path {how} outside {where} {self.root}; only images inside it are read "
                "(move the photos there, or allow their folder with --image-root DIR)"
            )
        if status is not None and not stat.S_ISREG(status.st_mode):
            return "image path is a folder or a special file, not an image file"
        return None


def _jsonl_rows(path: Path):
    with open(path, "rb") as handle:
        if handle.read(2) in UTF16_BOMS:
            lines = io.StringIO(_utf16(path, path.read_bytes()))
        else:
            handle.seek(0)
            lines = handle
        for number, raw in enumerate(lines, start=1):
            where = f"line {number}"
            if not raw.strip():
                continue
            try:
                row = json.loads(raw if isinstance(raw, str) else raw.decode("utf-8-sig"))
            except UnicodeDecodeError as error:
                bad = f"byte 0x{raw[error.start]:02X} at position {error.start + 1}"
                yield where, CatalogProblem(where, f"not valid UTF-8 text ({bad}); save the file as UTF-8")
                continue
            except json.JSONDecodeError as error:
                yield where, CatalogProblem(where, f"not valid JSON ({error.msg})")
                continue
            except RecursionError:  # "[[[[..." thousands deep: the parser gives up; the rest is read on
                yield where, CatalogProblem(where, "nested too deeply to read; a catalog row is one flat JSON object")
                continue
            if not isinstance(row, dict):
                yield where, CatalogProblem(where, "not a JSON object")
                continue
            yield where, row


def _utf16(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-16")
    except UnicodeDecodeError:
        raise InvalidInputError(
            f"{path.name} starts like UTF-16 text but is not valid UTF-16", "save it as UTF-8"
        ) from None


def _decode_csv(path: Path) -> tuple[str, str | None]:
    """The file's text, and a warning when it had to be guessed at."""
    data = path.read_bytes()
    if data[:2] in UTF16_BOMS:
        return _utf16(path, data), None
    if data.startswith(b"PK\x03\x04") or b"\x00" in data[:4096]:
        raise InvalidInputError(
            f"{path.name} is not a text file (an Excel workbook or another binary file?)",
            "save it as CSV (UTF-8) or JSONL",
        )
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    for encoding, label in (("cp1252", "Windows-1252"), ("latin-1", "Latin-1")):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, f"file is not UTF-8; read it as {label} (save it as UTF-8 to be sure of accents)"
    raise AssertionError("Latin-1 decodes any bytes")


def _csv_rows(path: Path):
    text, warning = _decode_csv(path)
    if warning:
        yield str(path), CatalogProblem(str(path), warning, skips_row=False)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    if delimiter == ",":
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            pass
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    number = 1
    while True:
        number += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # e.g. a cell over the csv module's size limit; the next rows still count
            yield f"row {number}", CatalogProblem(f"row {number}", f"cannot be read as CSV ({error})")
            continue
        row.pop(None, None)  # cells beyond the header
        swallowed = _swallowed(row, delimiter, len(reader.fieldnames or ()))
        if swallowed is None:
            yield f"row {number}", row
            continue
        column, lines, closed = swallowed
        lost = " (the last of them, where a quote closes, is lost)" if closed else ""
        yield (
            f"row {number}",
            CatalogProblem(
                f"row {number}",
                f"its {column!r} cell opens a quote that is never closed, which swallowed the {len(lines)} lines after "
                f"it; this row is skipped and those lines are read as rows{lost}; close the quote (a quote inside a "
                'cell is written "")',
            ),
        )
        for line in lines[:-1] if closed else lines:
            number += 1
            for cells in csv.DictReader(io.StringIO(line), fieldnames=reader.fieldnames, delimiter=delimiter):
                cells.pop(None, None)
                yield f"row {number}", cells
        number += 1 if closed else 0


def _swallowed(row: dict, delimiter: str, width: int) -> tuple[str, list[str], bool] | None:
    """A cell that took in the rows after it (a quote opened and never closed): its column, the
    swallowed lines, and whether a quote closed it at last (then its last line is cut). None when
    the row's multi-line cells hold only text (a quoted description with line breaks is fine)."""
    cells = list(row.items())
    for position, (column, cell) in enumerate(cells):
        if not isinstance(cell, str) or "\n" not in cell:
            continue
        lines = [line for line in cell.split("\n")[1:] if line.strip()]
        if width > 1 and lines and sum(line.count(delimiter) >= width - 1 for line in lines) >= max(1, len(lines) // 2):
            closed = any(value is not None for _, value in cells[position + 1 :])
            return column, lines, closed
    return None


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
            found = [str(k)[:40] for k in row][:MAX_LISTED_COLUMNS]
            more = f" and {len(row) - len(found)} more" if len(row) > len(found) else ""
            raise InvalidInputError(
                f"{path.name} has no {wanted} ({where} has: {', '.join(found) or 'no columns'}{more})",
                f"say which column to use with {flag}",
            )
        keys.append(key)
    return keys[0], keys[1]


def _join_text(parts: list[str]) -> str:
    cleaned = [re.sub(r"\s+", " ", p).strip().rstrip(".") for p in parts]
    cleaned = [p for p in cleaned if p]
    return ". ".join(cleaned) + "." if cleaned else ""


def _items_from_rows(path: Path, rows, columns: Columns, limit: int | None, fence: _Fence) -> Catalog:
    catalog = Catalog(source=path)
    seen: dict[str, tuple[str, str]] = {}  # id -> (the row that had it first, the id as written there)
    keys: tuple[str, str] | None = None
    for where, row in rows:  # a row, or the problem that kept it from being read
        if isinstance(row, CatalogProblem):
            catalog.problems.append(row)
            continue
        keys = keys or _resolve_key_columns(path, where, row, columns)
        item = _item_from_row(path, where, row, keys, columns, catalog, fence)
        if item is None:
            continue
        written = str(_scalar(row.get(keys[0])))
        if item.id in seen:
            first, first_written = seen[item.id]
            how = (
                ""
                if written == first_written
                else ", written in another Unicode form: the same id once normalised (NFC)"
            )
            catalog.problems.append(
                CatalogProblem(where, f"duplicate id (first seen on {first}{how}); kept the first", item.id)
            )
            continue
        seen[item.id] = (where, written)
        catalog.items.append(item)
        if limit is not None and len(catalog.items) >= limit:
            break
    if not catalog.items and not catalog.problems:
        raise InvalidInputError(f"catalog {path} has no rows")
    return catalog


def _item_from_row(
    path: Path, where: str, row: dict, keys: tuple[str, str], columns: Columns, catalog: Catalog, fence: _Fence
) -> Item | None:
    id_key, image_key = keys
    item_id = _scalar(row.get(id_key))
    if item_id is None:
        catalog.problems.append(
            CatalogProblem(where, f"empty id in column {id_key!r}; every row needs one ({ITEM_ID_RULE})")
        )
        return None
    item_id = nfc(str(item_id))  # "Cafe" + a combining accent and "Café" are one id
    problem = id_problem(item_id, MAX_ID_LENGTH)
    if problem:
        catalog.problems.append(
            CatalogProblem(where, f"id {shown_id(item_id)} {problem}; {ITEM_ID_RULE} (fix it in the file)")
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
    image = _image_path(path, image_value)
    problem = "image path has a NUL character" if image is None else fence.problem(image)
    if problem:
        catalog.problems.append(CatalogProblem(where, problem, item_id))
        return None

    title_keys = (
        [columns.title] if columns.title else [k for k in (_first(row, TITLE_COLUMNS), _first(row, KIND_COLUMNS)) if k]
    )
    title = " · ".join(dict.fromkeys(str(v) for k in title_keys if (v := _scalar(row.get(k))) is not None))
    text_keys = columns.text if columns.text is not None else [k for k in row if k.lower() in TEXT_COLUMNS]
    text_keys = sorted(text_keys, key=lambda k: TEXT_COLUMNS.index(k.lower()) if k.lower() in TEXT_COLUMNS else 99)
    text = _join_text([str(v) for k in text_keys if (v := _scalar(row.get(k))) is not None])
    kind_key = columns.kind or _first(row, KIND_COLUMNS)
    kind = str(_scalar(row.get(kind_key)) or "") if kind_key else ""
    used = {id_key, image_key, *title_keys, *text_keys, *([kind_key] if kind_key else [])}
    extra = {k: v for k, raw in row.items() if k not in used and (v := _scalar(raw)) is not None}
    extra = {k: printable(v, keep_lines=True) if isinstance(v, str) else v for k, v in extra.items()}
    # A catalog's text is someone else's: NUL, ANSI and OSC escapes never reach the store (or a
    # terminal), and no field is longer than its cap (a 5 MB title would come back with every search).
    capped = lambda name, value, cap: _capped(catalog, where, item_id, name, value, cap)  # noqa: E731
    title = capped("title", printable(title), MAX_TITLE_CHARS)
    text = capped("text", printable(text, keep_lines=True), MAX_TEXT_CHARS)
    extra = {k: capped(k, v, MAX_FIELD_CHARS) if isinstance(v, str) else v for k, v in extra.items()}
    return Item(id=item_id, image=image, title=title, text=text, kind=capped("type", printable(kind), MAX_FIELD_CHARS),
                extra=extra, where=where)  # fmt: skip


def _capped(catalog: Catalog, where: str, item_id: str, name: str, value: str, cap: int) -> str:
    """``value`` cut to ``cap`` characters (at a word where one is near), with a note naming the row."""
    if len(value) <= cap:
        return value
    cut = value[:cap]
    space = cut.rfind(" ", cap - 40)
    cut = cut[:space] if space > 0 else cut
    reason = f"its {name} is {len(value):,} characters long; stored cut to {len(cut):,} (the cap is {cap:,})"
    catalog.problems.append(CatalogProblem(where, reason, item_id, skips_row=False))
    return cut


def _image_path(catalog: Path, value: str) -> Path | None:
    """The photo a row names, relative to the catalog's folder; ``None`` if no path can hold it."""
    if "\x00" in value:
        return None
    image = Path(value)
    if value.startswith("~"):
        try:
            image = image.expanduser()
        except RuntimeError:  # ~someone who is not a user here
            pass
    return image if image.is_absolute() else catalog.parent / image


def _read_folder(folder: Path, limit: int | None, fence: _Fence) -> Catalog:
    catalog = Catalog(source=folder)
    files = sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in FOLDER_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )  # fmt: skip
    if not files:
        raise InvalidInputError(
            f"no images in {folder}", f"a folder catalog holds {', '.join(sorted(IMAGE_EXTENSIONS))} files"
        )
    seen: dict[str, tuple[str, str]] = {}  # id -> (the name of the file that has it, the id as written there)
    for file in files:
        written = file.relative_to(folder).with_suffix("").as_posix()
        relative = nfc(written)  # macOS writes names in NFD: "Cafe" + U+0301 is "Café"
        kind = UNREADABLE_EXTENSIONS.get(file.suffix.lower())
        problem = f"{kind} cannot be read; convert it to PNG or JPEG" if kind else fence.problem(file)
        if not problem and (broken := id_problem(relative, MAX_ID_LENGTH)):
            problem = f"its id {shown_id(relative)} {broken}; {ITEM_ID_RULE} (rename the file)"
            relative = None
        elif not problem and relative in seen:
            first, first_written = seen[relative]
            how = "" if first_written == written else " once normalised (NFC)"
            problem = f"duplicate id: {first} has the same name{how}; kept that one"
        if problem:
            catalog.problems.append(CatalogProblem(str(file), problem, relative))
            continue
        if limit is not None and len(catalog.items) >= limit:
            break
        seen[relative] = (file.name, written)
        title = re.sub(r"[_-]+", " ", file.stem).strip()
        catalog.items.append(Item(id=relative, image=file, title=title, where=str(file)))
    return catalog
