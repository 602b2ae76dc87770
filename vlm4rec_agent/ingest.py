"""Ingestion: catalog items -> grounded, embedded, stored.

1. hash each item (image bytes + text + the pipeline that would process it) and skip the items
   whose stored hash is the same: a second ingest of an unchanged catalog only reads files; a row
   whose id an item of another catalog file has is skipped and named (see :mod:`.item_sources`);
2. one grounding batch at a time (``VLM4REC_GROUNDING_BATCH_SIZE`` items): answers already in
   the grounding cache are taken without opening the image; the other images are opened and
   grounded. Every 64 grounded items are handed to a second thread that builds the embedding
   texts, encodes and upserts them while the next images are grounded (the two stages overlap;
   at most one group waits, so memory stays bounded). When the VLM stops answering, or grounding
   is interrupted, the batches grounded before are stored first, so the next run goes on from
   there (and the VLM's answers, those of the last batch too, are in its cache).
3. with an image encoder (``VLM4REC_IMAGE_ENCODER``), each photo's image vector is stored too (the
   basic grounder's classifier and the default encoder share one forward pass), items stored
   before without one get theirs without being grounded again, and photos that are the same as
   another item's are reported as likely duplicates.

A bad item (missing, damaged or non-image file) is skipped with its reason; nothing else is lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .catalogs import CatalogProblem
from .embedding_text import EMBEDDING_TEXT_VERSION, build_embedding_text
from .encoding import TextEncoder
from .errors import Vlm4recError
from .grounding.protocol import (
    Grounder,
    GroundingFailure,
    GroundingInput,
    GroundingOutcome,
    checked,
    first_stop,
    grounder_identity,
)
from .grounding.schema import GroundingRecord
from .ids import nfd
from .image_encoding import SAME_PHOTO, ImageEncoder
from .images import open_image
from .item_sources import UNKNOWN_SOURCE, held_elsewhere
from .items import Item, StoredItem, file_sha256
from .store.catalog import StoredCatalog
from .store.connection import DamagedStoreError

log = logging.getLogger(__name__)

# Grounded items are encoded and stored in groups of this many (the encoder and Chroma work
# best on larger batches), and whatever is grounded is stored when an ingest stops early.
STORE_EVERY = 64
Progress = bool | Callable[[int, int], None]


@dataclass
class IngestReport:
    source: str
    seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    fallback: int = 0  # stored with the basic grounder standing in for the configured VLM
    skipped: list[CatalogProblem] = field(default_factory=list)
    notes: list[CatalogProblem] = field(default_factory=list)  # about the whole file; no row was left out
    seconds: dict[str, float] = field(default_factory=dict)
    rebuilt: bool = False  # the catalog's vector index was damaged, so it was emptied and built again
    cancelled: bool = False  # stopped early on request (the app is stopping); what was grounded is stored
    pruned: int = 0  # items of this catalog file that are gone from it, removed with --prune
    unattributed: int = 0  # with --prune: stored items whose catalog file is not known (left alone)
    visual_added: int = 0  # unchanged items stored before without an image vector, given one now
    same_photos: list[tuple[str, str, float]] = field(default_factory=list)  # (item, other item, similarity)
    learned: str = ""  # the attribute heads learned after this ingest, if they were

    taught: int = 0  # grounded by the heads in the VLM's stead (VLM4REC_VLM_SAMPLE)

    @property
    def stored(self) -> int:
        return self.added + self.updated

    def add(self, other: IngestReport) -> IngestReport:
        """This report and another of the same ingest (a second pass over other items) as one."""
        for name in ("added", "updated", "unchanged", "fallback", "visual_added", "taught"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.skipped += other.skipped
        self.notes += other.notes
        self.same_photos += [p for p in other.same_photos if p not in self.same_photos]
        self.seconds = {
            k: round(self.seconds.get(k, 0) + other.seconds.get(k, 0), 3) for k in {*self.seconds, *other.seconds}
        }
        self.cancelled = self.cancelled or other.cancelled
        self.rebuilt = self.rebuilt or other.rebuilt
        self.learned = other.learned or self.learned
        return self

    @property
    def items_per_second(self) -> float:
        total = self.seconds.get("total", 0.0)
        return self.stored / total if total > 0 else 0.0

    def summary(self) -> str:
        parts = [
            f"{self.added} added",
            f"{self.updated} updated",
            f"{self.unchanged} unchanged",
            f"{len(self.skipped)} skipped",
        ]
        if self.fallback:
            parts.append(f"{self.fallback} grounded by the basic fallback")
        if self.taught:
            parts.append(f"{self.taught} grounded by heads learned from the VLM's answers")
        if self.visual_added:
            parts.append(f"{self.visual_added} unchanged given image vectors")
        if self.same_photos:
            shown = ", ".join(f"{a} = {b}" for a, b, _ in self.same_photos[:3])
            more = f" and {len(self.same_photos) - 3} more" if len(self.same_photos) > 3 else ""
            parts.append(
                f"{len(self.same_photos)} pairs of items with the same photo, likely duplicates ({shown}{more})"
            )
        if self.pruned:
            parts.append(f"{self.pruned} removed (gone from the catalog; their likes are kept)")
        if self.rebuilt:
            parts.append("the damaged catalog was rebuilt (ingest its other catalog files again too)")
        if self.cancelled:
            parts.append("stopped early (run it again to go on)")
        line = f"{self.source}: {self.seen} items read; " + ", ".join(parts)
        if self.stored:
            line += f" in {self.seconds.get('total', 0):.1f} s ({self.items_per_second:.1f} items/s)"
        if self.learned:
            line += f"; {self.learned}"
        return line


def _stored_hash(content_hash: str, record: GroundingRecord, taught: bool = False) -> str:
    """A record made by the fallback grounder is stored under a hash that no plan matches, so the
    next ingest grounds the item again with the configured VLM; one the heads made in the VLM's
    stead (``VLM4REC_VLM_SAMPLE``) under a hash only such an ingest matches."""
    if record.status == "fallback":
        return f"fallback:{content_hash}"
    return f"{TAUGHT}{content_hash}" if taught else content_hash


TAUGHT = "taught:"


class _Clock:
    """Seconds per stage; stages in the two threads overlap, so they can add up to more than total."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def pipeline_identity(grounder: Grounder, encoder_name: str, embed_item_text: bool) -> str:
    """Everything besides the item itself that decides what gets stored for it."""
    return f"{grounder_identity(grounder)}|{encoder_name}|text-v{EMBEDDING_TEXT_VERSION}|item-text={embed_item_text}"


@dataclass
class IngestPlan:
    todo: list[tuple[Item, str, str]]  # (item, image hash, content hash)
    existing: set[str]
    moved: list[str] = field(default_factory=list)  # unchanged items that take this catalog file as theirs
    without_image_vector: list[Item] = field(default_factory=list)  # unchanged, stored before with none


class Ingestor:
    """Runs one ingest. ``open_store`` is called only once something must be written.

    ``source`` is recorded with every item (what ``--prune`` goes by); a row whose id an item of
    another catalog file has is left to that file unless ``replace`` (see :mod:`.item_sources`);
    ``cancel``, when set, stops the ingest after the batch in hand (what was grounded is stored);
    every write happens inside ``writing()`` (the engine refuses writes once it is closed).
    """

    def __init__(
        self,
        grounder: Grounder,
        encoder_name: str,
        load_encoder: Callable[[], TextEncoder],
        existing_store: StoredCatalog | None,
        open_store: Callable[[int], StoredCatalog],
        *,
        image_encoder: Callable[[], ImageEncoder] | None = None,
        embed_item_text: bool = True,
        grounding_batch_size: int = 16,
        max_image_pixels: int = 120_000_000,
        cancel: threading.Event | None = None,
        writing: Callable[[], AbstractContextManager] = nullcontext,
        stands_in_for: Grounder | None = None,
        replace: bool = False,
    ):
        self.grounder = grounder
        self.replace = replace
        self.encoder_name = encoder_name
        self._load_encoder = load_encoder
        self.store = existing_store
        self._open_store = open_store
        self.embed_item_text = embed_item_text
        self.batch_size = grounding_batch_size
        self.max_image_pixels = max_image_pixels
        self.cancel = cancel
        self.writing = writing
        self.source = ""
        self._image_encoder = image_encoder  # None: no image vectors are stored
        # The grounder whose place this one takes (the heads grounding in a VLM's stead): items are
        # hashed as that one would hash them, and marked, so that only such an ingest skips them.
        self.stands_in_for = stands_in_for

    def run(
        self, items: Sequence[Item], source: str, problems: Sequence[CatalogProblem] = (), progress: Progress = False
    ) -> IngestReport:
        clock = _Clock()
        self.source = source
        skipped = [p for p in problems if p.skips_row]
        report = IngestReport(
            source=source,
            seen=len(items) + len(skipped),
            skipped=skipped,
            notes=[p for p in problems if not p.skips_row],
        )
        with clock.stage("total"):
            with clock.stage("hash"):
                plan = self._plan(items, report)
            log.info("%s: %d items to ground and store, %d unchanged", source, len(plan.todo), report.unchanged)
            try:
                self._ground_and_store(plan, report, clock, progress)
            except Vlm4recError as error:  # say what was kept, so that a re-run is not feared
                error.message += f"; {report.stored} of {len(plan.todo)} items were stored before the ingest stopped"
                raise
        report.seconds = {k: round(v, 3) for k, v in clock.seconds.items()}
        return report

    def _ground_and_store(self, plan: IngestPlan, report: IngestReport, clock: _Clock, progress: Progress) -> None:
        """Ground batch after batch; encode and store every ``STORE_EVERY`` grounded items in the writer thread."""
        bar = tqdm(total=len(plan.todo), unit="item", desc="ingest", disable=progress is not True or not plan.todo)
        done, grounded = 0, []
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vlm4rec-store")
        pending: Future | None = None
        try:
            for start in range(0, len(plan.todo), self.batch_size):
                if self.cancel is not None and self.cancel.is_set():
                    report.cancelled = True
                    break
                chunk = plan.todo[start : start + self.batch_size]
                grounded += self._load_and_ground(chunk, report, clock)
                if len(grounded) >= STORE_EVERY:
                    if pending is not None:
                        pending.result()  # one group in flight at most; its errors surface here
                    pending = writer.submit(self._store, grounded, plan.existing, report, clock)
                    grounded = []
                done += len(chunk)
                log.debug("grounded %d/%d items", done, len(plan.todo))
                bar.update(len(chunk))
                if callable(progress):
                    progress(done, len(plan.todo))
        finally:  # even when grounding fails or is interrupted, keep what was grounded
            try:
                if pending is not None:
                    pending.result()
            finally:
                writer.shutdown(wait=True)
                if grounded:
                    self._store(grounded, plan.existing, report, clock)
                bar.close()
        if plan.without_image_vector and not report.cancelled:
            self._add_image_vectors(plan.without_image_vector, report, clock)

    def _add_image_vectors(self, items: list[Item], report: IngestReport, clock: _Clock) -> None:
        """Image vectors for unchanged items stored without one (before visual vectors existed)."""
        log.info("%d unchanged items get image vectors", len(items))
        for start in range(0, len(items), STORE_EVERY):
            if self.cancel is not None and self.cancel.is_set():
                report.cancelled = True
                return
            batch, images = [], []
            with clock.stage("load"):
                for item in items[start : start + STORE_EVERY]:
                    try:
                        images.append(open_image(item.image, self.max_image_pixels))
                        batch.append(item)
                    except Vlm4recError as error:
                        report.notes.append(CatalogProblem(str(item.image), f"no image vector: {error}", item.id))
            if batch:
                vectors = self._image_vectors(images, clock)
                with clock.stage("store"), self.writing():
                    self.store.upsert_visual([i.id for i in batch], vectors)
                self._find_same_photos([i.id for i in batch], vectors, report)
                report.visual_added += len(batch)

    def _image_vectors(self, images: list, clock: _Clock):
        with clock.stage("image vectors"):
            return self._image_encoder().encode(images)

    def _find_same_photos(self, ids: list[str], vectors, report: IngestReport) -> None:
        visual = self.store.visual if self.store is not None else None
        if visual is not None:
            known = {(a, b) for a, b, _ in report.same_photos}
            report.same_photos += [p for p in visual.same_photos(ids, vectors, SAME_PHOTO) if p[:2] not in known]

    def _plan(self, items: Sequence[Item], report: IngestReport) -> IngestPlan:
        pipeline = pipeline_identity(self.stands_in_for or self.grounder, self.encoder_name, self.embed_item_text)
        if self.store is not None:
            self._rebuild_if_damaged(report)
        stored = self.store.hashes([i.id for i in items]) if self.store else {}
        items = self._keep_stored_forms(items, stored)
        # an id that another catalog file's item has: that item is kept (see item_sources)
        elsewhere = {i: s for i, (_, s, _) in stored.items() if s not in (UNKNOWN_SOURCE, self.source)}
        if elsewhere:
            left = held_elsewhere(items, elsewhere, self.replace, report.skipped, report.notes)
            items = [i for i in items if i.id not in left]
        hashed = []
        for item in items:
            try:
                image_hash = file_sha256(item.image)
            except OSError as error:
                reason = (
                    "image file not found"
                    if isinstance(error, FileNotFoundError)
                    else f"cannot read image file ({error.strerror})"
                )
                report.skipped.append(CatalogProblem(str(item.image), reason, item.id))
                continue
            hashed.append((item, image_hash, item.content_hash(image_hash, pipeline)))
        taught = self.stands_in_for is not None  # what the heads stored in the VLM's stead counts as done

        def unchanged(item_id: str, content_hash: str) -> bool:
            found = stored.get(item_id, ("", "", ""))[0]
            return found == content_hash or (taught and found == f"{TAUGHT}{content_hash}")

        todo = [(i, ih, ch) for i, ih, ch in hashed if not unchanged(i.id, ch)]
        report.unchanged = len(hashed) - len(todo)
        changed = {i.id for i, _, _ in todo}
        # changed, and stored before catalog files were recorded: from an unknown file, kept
        unknown = {i.id: UNKNOWN_SOURCE for i, _, _ in todo if i.id in stored and stored[i.id][1] == UNKNOWN_SOURCE}
        if unknown:
            left = held_elsewhere([i for i, _, _ in todo], unknown, self.replace, report.skipped, report.notes)
            todo = [row for row in todo if row[0].id not in left]
        # unchanged, but stored before sources and types were recorded, or taken from another file (--replace)
        relabel = {
            i.id: i.kind for i, _, _ in hashed if i.id not in changed and stored[i.id][1:] != (self.source, i.kind)
        }
        if relabel:
            with self.writing():
                self.store.relabel(relabel, self.source)
        plan = IngestPlan(todo=todo, existing=set(stored), moved=list(relabel))
        if self._image_encoder is not None and self.store is not None:
            unchanged = [i for i, _, _ in hashed if i.id not in changed]
            visual = self.store.visual
            have = visual.present([i.id for i in unchanged]) if visual is not None else set()
            plan.without_image_vector = [i for i in unchanged if i.id not in have]
        return plan

    def _keep_stored_forms(self, items: Sequence[Item], stored: dict[str, tuple[str, str, str]]) -> Sequence[Item]:
        """A store written before ids were normalised may hold an item under its decomposed id (a
        macOS folder's names): the row, read in NFC, goes on writing that item, which stays one
        item with its likes. ``stored`` gains what is found."""
        forms = {nfd(i.id): i.id for i in items if i.id not in stored and nfd(i.id) != i.id}
        found = self.store.hashes(list(forms)) if forms and self.store is not None else {}
        if not found:
            return items
        stored.update(found)
        kept = {forms[form]: form for form in found}
        # model_copy does not validate: the id stays as the store holds it
        return [i.model_copy(update={"id": kept[i.id]}) if i.id in kept else i for i in items]

    def _rebuild_if_damaged(self, report: IngestReport) -> None:
        """A catalog whose vector index Chroma cannot read is emptied, so this ingest rebuilds it.

        The catalog is derived data (photos + text -> records -> vectors) and the grounding cache
        keeps the VLM's answers; likes live in their own collection and are not touched.
        """
        try:
            self.store.check()
        except DamagedStoreError as error:
            log.warning("%s; rebuilding the catalog %r from this ingest", error.message, self.store.name)
            dim = self.store.dim
            self.store.drop()
            self.store = self._open_store(dim) if dim else None
            report.rebuilt = True

    def _ground(
        self, inputs: list[GroundingInput], items: list[Item], report: IngestReport
    ) -> list[GroundingRecord | None]:
        """A record per input, or None for one that is skipped (its reason goes in the report).

        A failure that means the VLM did not answer or cannot be used raises its one-line error:
        the ingest stops there, after storing what the earlier batches grounded (the answers of
        this batch are in the grounding cache, so a re-run does not ask for them again).
        """
        outcomes = self._outcomes(inputs)
        stop = first_stop(outcomes)
        if stop is not None:
            raise stop.error()
        records: list[GroundingRecord | None] = []
        for outcome, item in zip(outcomes, items):
            if isinstance(outcome, GroundingFailure):
                report.skipped.append(CatalogProblem(str(item.image), f"not grounded: {outcome}", item.id))
                records.append(None)
            else:
                records.append(outcome)
        return records

    def _outcomes(self, inputs: list[GroundingInput]) -> list[GroundingOutcome]:
        try:
            outcomes = self.grounder.ground(inputs)
        except Vlm4recError:
            raise  # a misconfigured grounder fails every item: say so once
        except Exception as error:  # a grounder that raises breaks its contract; one input must not sink a batch
            if len(inputs) == 1:
                return [GroundingFailure(f"the grounder failed on this image ({type(error).__name__}: {error})")]
            log.warning("grounding a batch failed (%s); retrying item by item", error)
            return [self._outcomes([one])[0] for one in inputs]
        return checked(self.grounder, inputs, outcomes)

    def _load_and_ground(
        self, chunk: list[tuple[Item, str, str]], report: IngestReport, clock: _Clock
    ) -> list[tuple[Item, str, GroundingRecord, np.ndarray | None]]:
        """(item, content hash, record, image vector or None) of each item of ``chunk`` that was grounded."""
        known = self._cached(chunk)
        wanted = self._image_encoder is not None  # the photos of cached answers are opened for their image vectors
        loaded: list[tuple[int, Item, str, GroundingInput]] = []
        with clock.stage("load"):
            for n, (item, image_hash, content_hash) in enumerate(chunk):
                if n in known and not wanted:
                    continue
                try:
                    image = open_image(item.image, self.max_image_pixels)
                except Vlm4recError as error:
                    if n not in known:
                        report.skipped.append(CatalogProblem(str(item.image), str(error), item.id))
                    continue
                loaded.append(
                    (n, item, content_hash, GroundingInput(image=image, text=item.text or None, image_hash=image_hash))
                )
        to_ground = [row for row in loaded if row[0] not in known]
        with clock.stage("ground"):
            records = (
                self._ground([g for *_, g in to_ground], [i for _, i, _, _ in to_ground], report) if to_ground else []
            )
        fresh = {item.id: (item, ch, rec) for (_, item, ch, _), rec in zip(to_ground, records) if rec is not None}
        cached = {chunk[n][0].id: (chunk[n][0], chunk[n][2], rec) for n, rec in known.items()}
        rows = [row for item, _, _ in chunk if (row := fresh.get(item.id) or cached.get(item.id))]
        vectors = {}
        if wanted:
            opened = [(item.id, g.image) for _, item, _, g in loaded if item.id in fresh or item.id in cached]
            if opened:
                vectors = dict(zip([i for i, _ in opened], self._image_vectors([im for _, im in opened], clock)))
        return [(item, ch, rec, vectors.get(item.id)) for item, ch, rec in rows]

    def _cached(self, chunk: list[tuple[Item, str, str]]) -> dict[int, GroundingRecord]:
        """Answers the grounder already has (its cache), found without opening any image."""
        return self.grounder.lookup([(image_hash, item.text or None) for item, image_hash, _ in chunk])

    def _store(
        self,
        ready: list[tuple[Item, str, GroundingRecord, np.ndarray | None]],
        existing: set[str],
        report: IngestReport,
        clock: _Clock,
    ) -> None:
        log.debug("encoding and storing %d items", len(ready))
        texts = [build_embedding_text(rec.attributes, item.text, self.embed_item_text) for item, _, rec, _ in ready]
        with clock.stage("load encoder"):
            encoder = self._load_encoder()
        with clock.stage("encode"):
            vectors = encoder.encode(texts)
        with clock.stage("store"), self.writing():
            if self.store is None:
                self.store = self._open_store(encoder.dim)
            stored = [
                StoredItem(id=item.id, image=str(item.image.resolve()), title=item.title, text=item.text,
                           kind=item.kind, extra=item.extra, record=rec, content_hash=_stored_hash(ch, rec, self.stands_in_for is not None))
                for item, ch, rec, _ in ready
            ]  # fmt: skip
            log.debug("writing %d items to the store", len(stored))
            self.store.upsert(stored, vectors, texts, source=self.source)
            seen = [(item.id, v) for item, _, _, v in ready if v is not None]
            if seen:
                self.store.upsert_visual([i for i, _ in seen], np.stack([v for _, v in seen]))
            log.debug("stored %d items", len(stored))
        if seen:
            self._find_same_photos([i for i, _ in seen], np.stack([v for _, v in seen]), report)
        report.fallback += sum(rec.status == "fallback" for _, _, rec, _ in ready)
        for item, _, _, _ in ready:
            if item.id in existing:
                report.updated += 1
            else:
                report.added += 1
