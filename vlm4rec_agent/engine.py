"""The engine: the few functions that the CLI, the app and the agent tools all call.

Everything is loaded lazily and once (see :mod:`vlm4rec_agent.parts`): a ``like`` never loads a
model, a ``search`` never loads the grounder, and an ingest of an unchanged catalog loads
neither. An engine owns what it opened (the Chroma client, the ratings database, the VLM's HTTP
client, background ingests, the warm-up thread) and releases it in :meth:`Engine.close`; use it
as a context manager::

    with Engine(Settings()) as engine:
        engine.search("white bedside lamp")
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .catalogs import Catalog, CatalogProblem, Columns, read_catalog
from .collaborative.live_model import LiveModel
from .encoding import TextEncoder, make_encoder, stored_encoder_name
from .errors import EngineClosed, InvalidInputError, NotFoundError
from .grounding.basic import BasicGrounder
from .grounding.learned import LearnedGrounder
from .grounding.learned_heads import Heads
from .grounding.protocol import Grounder
from .grounding.registry import make_grounder
from .grounding.schema import GroundingRecord
from .group_files import GroupsAdded, read_group_file
from .ids import item_id_forms, nfd
from .image_budget import ImageLimit
from .image_encoding import (
    ImageEncoder,
    image_encoder_wanted,
    make_image_encoder,
    scene_views,
    stored_image_encoder_name,
)
from .ingest import Ingestor, IngestReport, Progress
from .ingest_job import IngestJob
from .items import Item, StoredItem
from .learning import HeadsKeeper, split_sample
from .memo import Memo
from .parts import Part, WriteGate
from .photo_grounding import ImageSource, ground_photos, photo_inputs
from .profiles import profile_view, stored_user
from .retrieval import Result, Retriever, SearchAnswer
from .scoring import Scorer, make_scorer
from .search.hybrid import SearchOptions
from .settings import Settings
from .store import (
    ChromaCatalogIndex,
    Filters,
    RatingStore,
    open_client,
    open_rating_store,
)
from .store.catalog import StoredCatalog
from .store.protocols import GroupSet, GroupStore
from .store.sql_groups import NoGroupStore, SqlGroupStore
from .store.sql_ratings import SqlRatingStore
from .store.tantivy_index import TantivyLexicalIndex
from .store.visual_index import ChromaVisualIndex
from .text_input import clean_text
from .views import ProfileView

log = logging.getLogger(__name__)

ITEM_COUNT_AGE_S = 5.0  # how stale the item count on a status line may be


class Stats(BaseModel):
    items: int
    users: int
    ratings: int
    collection: str
    store: str
    encoder: str
    grounder: str


class PhotoMatch(BaseModel):
    """What a query photo was grounded into, and the items like it."""

    record: GroundingRecord
    results: list[Result]
    visual: bool = False  # the photo's image vectors were compared (False: its words alone)


class Engine:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        grounder: Grounder | None = None,
        encoder: TextEncoder | None = None,
        scorer: Scorer | None = None,
        ratings: RatingStore | None = None,
        image_encoder: ImageEncoder | None = None,
    ):
        self.settings = s = settings or Settings()
        self._grounder: Part[Grounder] = Part("grounder", self._make_grounder, grounder, _close)
        self._encoder: Part[TextEncoder] = Part("encoder", lambda: make_encoder(s), encoder)
        self._image_encoder: Part[ImageEncoder] = Part("image encoder", lambda: make_image_encoder(s), image_encoder)
        self._client = Part("store client", lambda: open_client(s), close=_close)
        self._ratings: Part[RatingStore] = Part("ratings", self._open_ratings, ratings, _close)
        self._scorer = scorer
        self._index: StoredCatalog | None = None
        self._lexical: Part[TantivyLexicalIndex] = Part(
            "lexical index", lambda: TantivyLexicalIndex(s.lexical_path), close=_close
        )
        self._stop_sync = threading.Event()
        self._index_lock = threading.Lock()  # opening or creating the catalog's collection
        self._has_items = False  # once true, stays true (only a prune or a rebuild empties a catalog)
        self._item_count: Memo[int] = Memo(size=1, max_age_s=ITEM_COUNT_AGE_S)
        self._retriever: Retriever | None = None
        self._gate = WriteGate()  # close() waits for the writes in progress and admits no more
        self._jobs: list[IngestJob] = []
        self._groups: Part[GroupStore] = Part("group sets", self._open_groups)
        self._live: Part[LiveModel] = Part("collaborative model", self._open_live_model, close=_close)
        self.heads = HeadsKeeper(s.home / "heads" / f"{s.collection}.npz", s.heads_min_confidence)

    # --- lifetime --------------------------------------------------------------------------
    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self, wait_s: float = 0.5) -> None:
        """Stop background ingests (each keeps what it stored), then release every part this engine opened.

        A background ingest is asked to stop and waited for at most ``wait_s`` seconds; a write in
        progress always finishes first, and no write starts after. Closing twice is harmless.
        """
        if self._gate.closed:
            return
        self._stop_sync.set()
        for job in self._jobs:
            job.cancel()
        for job in self._jobs:
            job.wait(wait_s)
        self._gate.close()
        for part in (self._live, self._grounder, self._ratings, self._encoder, self._lexical, self._client):
            try:
                part.close()
            except Exception as error:  # closing must go on: the other parts still need releasing
                log.warning("closing the %s failed: %s", part.name, error)

    @property
    def closed(self) -> bool:
        return self._gate.closed

    # --- parts, built on first use -------------------------------------------------------
    @property
    def grounder(self) -> Grounder:
        return self._grounder.get()

    @property
    def encoder(self) -> TextEncoder:
        return self._encoder.get()

    @property
    def encoder_name(self) -> str:
        built = self._encoder.built
        if built is None and (name := stored_encoder_name(self.settings)) is not None:
            return name  # known without loading the model
        return self.encoder.name

    def _make_grounder(self) -> Grounder:
        """The configured grounder; the basic one is taught by the catalog's heads when image vectors are kept."""
        grounder = make_grounder(self.settings)
        if isinstance(grounder, BasicGrounder) and image_encoder_wanted(self.settings):
            return self._taught_grounder(grounder)
        return grounder

    def _nearest_items(self, vectors) -> list[float]:
        """Each image vector's similarity to its nearest catalog item (1.0 where nothing can be compared)."""
        catalog = self._existing_catalog()
        visual = catalog.visual if catalog is not None else None
        if visual is None:
            return [1.0] * len(vectors)
        return [row[0][1] if row else 1.0 for row in visual.query(vectors, 1)]

    def learn(self) -> Heads | None:
        """Learn the catalog's attribute heads now, from every item's photo and what its text names."""
        name = self.image_encoder_name
        if name is None:
            raise InvalidInputError(
                "no image encoder is configured, so there are no image vectors to learn from",
                "unset VLM4REC_IMAGE_ENCODER=none and ingest the catalog again",
            )
        return self.heads.learn(self.catalog, name, lambda: self._gate.closed)

    def _learn_if_due(self, report: IngestReport) -> None:
        name, catalog = self.image_encoder_name, self._existing_catalog()
        if self.settings.learn_heads and name is not None and catalog is not None and not report.cancelled:
            report.learned = self.heads.learn_if_due(catalog, name, lambda: self._gate.closed)

    @property
    def image_encoder(self) -> ImageEncoder | None:
        """What makes the items' image vectors; None when ``VLM4REC_IMAGE_ENCODER=none``."""
        if self._image_encoder.built is None and not image_encoder_wanted(self.settings):
            return None
        return self._image_encoder.get()

    @property
    def image_encoder_name(self) -> str | None:
        built = self._image_encoder.built
        if built is not None:
            return built.name
        if not image_encoder_wanted(self.settings):
            return None
        return stored_image_encoder_name(self.settings) or self._image_encoder.get().name

    def _open_visual(self, client, catalog: str) -> Callable[[int | None], ChromaVisualIndex | None] | None:
        if self.image_encoder_name is None:
            return None
        return lambda dim: ChromaVisualIndex.open(client, catalog, self.image_encoder_name, dim)

    @property
    def scorer(self) -> Scorer:
        if self._scorer is None:
            self._scorer = make_scorer(self.settings)
        return self._scorer

    @property
    def client(self):
        return self._client.get()

    @property
    def ratings(self) -> RatingStore:
        return self._ratings.get()

    def _open_ratings(self) -> RatingStore:
        """Likes and dislikes in SQL; on first open, any that an earlier version kept in Chroma are moved in."""
        return open_rating_store(self.settings, lambda: self.client)

    @property
    def groups(self) -> GroupStore:
        """The imported group sets (rooms, outfits), kept beside the ratings (a rating store given to
        the engine that is not SQL holds none)."""
        return self._groups.get()

    def _open_groups(self) -> GroupStore:
        ratings = self.ratings
        return SqlGroupStore(ratings) if isinstance(ratings, SqlRatingStore) else NoGroupStore()

    @property
    def collaborative(self) -> LiveModel:
        """What the catalog's shoppers liked together (and its imported groups), kept up to date."""
        return self._live.get()

    def _open_live_model(self) -> LiveModel:
        return LiveModel(self.ratings, self.groups, self._kinds_of, self.settings.collaborative_refresh_s)

    def _kinds_of(self, ids: Sequence[str]) -> dict[str, str]:
        catalog = self._existing_catalog()
        return catalog.kinds(ids) if catalog is not None else {}

    def _existing_catalog(self) -> StoredCatalog | None:
        if self._gate.closed:
            raise EngineClosed("the engine is closed; its catalog is no longer available")
        if self._index is not None:
            return self._index
        client = self.client  # outside the index lock: opening a server's client is a network call
        with self._index_lock:
            if self._index is None:
                dense = ChromaCatalogIndex.open(client, self.settings.collection, self.encoder_name)
                self._index = self._with_lexical(dense) if dense is not None else None
            return self._index

    def _create_catalog(self, dim: int) -> StoredCatalog:
        client = self.client
        with self._index_lock:
            dense = ChromaCatalogIndex.open(client, self.settings.collection, self.encoder_name, dim=dim)
            self._index = self._with_lexical(dense)
            return self._index

    def _with_lexical(self, dense: ChromaCatalogIndex) -> StoredCatalog:
        """The catalog with its lexical index, brought in step with the vector index on open."""
        lexical = self._lexical.get()
        visual = self._open_visual(self.client, dense.name)
        catalog = StoredCatalog(dense, lexical, self.settings.lexical_path / "synced.json", visual)
        shared = bool(self.settings.chroma_host)  # other processes write too: look for their writes
        done = catalog.sync(check_writes=shared)
        if done:
            log.info("lexical index of %r: %d items brought in step", dense.name, done)
        if shared:
            self._start_lexical_sync(catalog)
        return catalog

    def _start_lexical_sync(self, catalog: StoredCatalog) -> None:
        """Catch the lexical index up with other processes' writes every ``lexical_sync_s`` seconds."""

        def run() -> None:
            while not self._stop_sync.wait(self.settings.lexical_sync_s):
                try:
                    with self._gate.write():
                        catalog.sync()
                except EngineClosed:
                    return
                except Exception as error:  # the next round tries again; searches go on meanwhile
                    log.warning("catching up the lexical index failed: %s", error)

        threading.Thread(target=run, name="vlm4rec-lexical-sync", daemon=True).start()

    @property
    def catalog(self) -> StoredCatalog:
        """The stored catalog; a clear error when nothing has been ingested yet."""
        index = self._existing_catalog()
        if index is not None and not self._has_items:
            self._has_items = index.count() > 0
        if index is None or not self._has_items:
            raise NotFoundError(
                f"the catalog {self.settings.collection!r} is empty",
                "add items with `vlm4rec ingest CATALOG_FILE_OR_FOLDER`",
            )
        return index

    @property
    def retriever(self) -> Retriever:
        """One retriever per catalog, so that its memos (query and profile vectors) live on."""
        catalog = self.catalog
        retriever = self._retriever
        if retriever is None or retriever.catalog is not catalog:
            retriever = Retriever(
                catalog,
                self.ratings,
                lambda: self.encoder,
                self.scorer,
                self.settings.personalization_weight,
                self.search_options,
                lambda: self.collaborative.current(),
            )
            self._retriever = retriever
        return retriever

    def item_count(self) -> int:
        """How many items the catalog holds, at most a few seconds old (cheap enough for a status line)."""

        def count() -> int:
            index = self._existing_catalog()
            return index.count() if index is not None else 0

        return self._item_count.get("items", count)

    def warm_up_in_background(self, then: Callable[[], object] | None = None) -> threading.Thread:
        """Load the encoder and the grounder in a thread, so that the first answer does not wait for
        them; ``then`` (the assistant's own warm-up) runs after them in that thread."""

        def warm() -> None:
            try:
                self.encoder.encode(["warm up"])
                self.grounder  # noqa: B018 - building it loads its models' vocabulary
                if then is not None:
                    then()
            except EngineClosed:
                pass
            except Exception as error:  # a part that cannot load says so when it is used
                log.warning("warming up: %s", error)

        thread = threading.Thread(target=warm, name="vlm4rec-warm-up", daemon=True)
        thread.start()
        return thread

    # --- catalog ---------------------------------------------------------------------------
    def ingest(
        self,
        source: str | Path,
        *,
        columns: Columns | None = None,
        limit: int | None = None,
        progress: Progress = False,
        prune: bool = False,
        cancel: threading.Event | None = None,
        replace: bool = False,
    ) -> IngestReport:
        """Read a catalog (JSONL, CSV or image folder) and store every new or changed item.

        With ``prune``, items that came from this catalog file and are gone from it are removed
        (their likes and dislikes are kept, so they count again if the item comes back). A row
        whose id an item of another catalog file has is skipped with a note, unless ``replace``
        (see :mod:`vlm4rec_agent.item_sources`).
        """
        if prune and limit is not None:
            raise InvalidInputError("--prune needs the whole catalog", "run it without --limit")
        catalog = read_catalog(source, columns, limit)
        if prune:
            _check_prunable(catalog)
        report = self.ingest_items(
            catalog.items,
            source=str(catalog.source.resolve()),
            problems=catalog.problems,
            progress=progress,
            cancel=cancel,
            replace=replace,
        )
        if prune and not report.cancelled:
            self._prune(catalog, report)
        return report

    def ingest_items(
        self,
        items: Sequence[Item],
        *,
        source: str = "items",
        problems: Sequence[CatalogProblem] = (),
        progress: Progress = False,
        cancel: threading.Event | None = None,
        replace: bool = False,
    ) -> IngestReport:
        """Ground, embed and store items. With ``VLM4REC_VLM_SAMPLE=N`` and a VLM grounder, the VLM
        grounds a fixed sample of N items (the same on every run), heads are learned from its
        answers, and they ground the rest in its stead (each record says so)."""
        grounder, sample = self.grounder, self.settings.vlm_sample
        if sample and len(items) > sample and grounder.name != "basic" and self.image_encoder_name is not None:
            chosen, rest = split_sample(items, sample)
            report = self._ingest_pass(chosen, grounder, source, problems, progress, cancel, replace=replace)
            if report.cancelled or not rest:
                return report
            self.heads.learn(self.catalog, self.image_encoder_name, lambda: self._gate.closed)
            if self.heads.current() is None:
                log.warning("too few items to learn heads from: the VLM grounds the other %d items too", len(rest))
                return report.add(self._ingest_pass(rest, grounder, source, (), progress, cancel, replace=replace))
            taught = self._taught_grounder()
            second = self._ingest_pass(rest, taught, source, (), progress, cancel, grounder, replace)
            second.taught = second.stored
            return report.add(second)
        return self._ingest_pass(items, grounder, source, problems, progress, cancel, replace=replace)

    def _taught_grounder(self, basic: BasicGrounder | None = None) -> LearnedGrounder:
        return LearnedGrounder(
            basic or BasicGrounder(), self.heads.current, lambda: self.image_encoder, self._nearest_items
        )

    def _ingest_pass(
        self,
        items: Sequence[Item],
        grounder: Grounder,
        source: str,
        problems: Sequence[CatalogProblem],
        progress: Progress,
        cancel: threading.Event | None,
        stands_in_for: Grounder | None = None,
        replace: bool = False,
    ) -> IngestReport:
        s = self.settings
        ingestor = Ingestor(
            grounder,
            self.encoder_name,
            lambda: self.encoder,
            self._existing_catalog(),
            self._create_catalog,
            image_encoder=(lambda: self.image_encoder) if self.image_encoder_name else None,
            embed_item_text=s.embed_item_text,
            grounding_batch_size=s.grounding_batch_size,
            max_image_pixels=s.max_image_pixels,
            cancel=cancel,
            writing=self._gate.write,
            stands_in_for=stands_in_for,
            replace=replace,
        )
        try:
            report = ingestor.run(items, source, problems, progress)
            if stands_in_for is None:
                self._learn_if_due(report)
            return report
        finally:
            if ingestor.store is not None and ingestor.store is not self._index:  # rebuilt after damage
                self._index = ingestor.store
            self._item_count.clear()

    def start_ingest(self, source: str | Path, *, limit: int | None = None, replace: bool = False) -> IngestJob:
        """Ingest a catalog in a background thread that this engine owns (and stops when it closes)."""
        if self._gate.closed:
            raise EngineClosed("the engine is closed; nothing more is ingested")
        job = IngestJob(
            lambda progress, cancel: self.ingest(
                source, limit=limit, progress=progress, cancel=cancel, replace=replace
            ),
            source,
        ).start()
        self._jobs.append(job)
        return job

    def _prune(self, catalog: Catalog, report: IngestReport) -> None:
        index = self._existing_catalog()
        if index is None:
            return
        present = {item.id for item in catalog.items} | {p.item_id for p in catalog.problems if p.item_id}
        present |= {nfd(i) for i in present}  # an item a store written before holds under its decomposed id
        gone = [item_id for item_id in index.ids_from(str(catalog.source.resolve())) if item_id not in present]
        if gone:
            with self._gate.write():
                index.delete(gone)
            self._has_items = False  # counted again on next use
            self._item_count.clear()
        report.pruned = len(gone)
        report.unattributed = index.count_without_source()

    @property
    def _photo_limit(self) -> ImageLimit:
        """How large a photo given to describe or search by may be (uploads, tool arguments)."""
        return ImageLimit.upload(self.settings.max_upload_pixels)

    def describe(self, image: ImageSource, text: str | None = None) -> GroundingRecord:
        """Ground one image (and optional item text) into attributes, without storing anything."""
        return self.describe_many([image], [text])[0]

    def describe_many(
        self, images: Sequence[ImageSource], texts: Sequence[str | None] | None = None
    ) -> list[GroundingRecord]:
        """Ground several images (each with its optional item text) into attributes, in order,
        without storing anything (see :mod:`vlm4rec_agent.photo_grounding`). They are photos from
        outside the catalog, held to ``max_upload_pixels``."""
        inputs = photo_inputs(images, texts, self._photo_limit)
        return ground_photos(self.grounder, inputs, self.settings.grounding_batch_size)

    def get_item(self, item_id: str) -> StoredItem:
        return self.catalog.require(item_id).item

    # --- retrieval -------------------------------------------------------------------------
    @property
    def search_options(self) -> SearchOptions:
        s = self.settings
        return SearchOptions(
            fusion=s.search_fusion,
            lexical_weight=s.search_lexical_weight,
            diversity=s.search_diversity,
            min_similarity=s.search_min_similarity,
        )

    def search(
        self, query: str, *, k: int = 10, user: str | None = None, filters: Filters | None = None
    ) -> list[Result]:
        """Items that match a description in words, personalised by the user's profile if given."""
        return self.search_answer(query, k=k, user=user, filters=filters).results

    def search_answer(
        self,
        query: str,
        *,
        k: int = 10,
        user: str | None = None,
        filters: Filters | None = None,
        options: SearchOptions | None = None,
    ) -> SearchAnswer:
        """:meth:`search` with what the faces show beside the results: a note when nothing fits, a
        filter matches nothing or too few items of the named type exist, and how the query was read."""
        return self.retriever.search(query, k, stored_user(self.ratings, user) if user else None, filters, options)

    def recommend(self, user: str, *, k: int = 10, filters: Filters | None = None) -> list[Result]:
        """Items for a shopper from what they liked and disliked, never ones they already rated (nor an
        item whose photo is the same as a rated one's: one product under two ids)."""
        return self.retriever.recommend(stored_user(self.ratings, user), k, filters)

    def similar(
        self,
        item_id: str | None = None,
        image: ImageSource | None = None,
        *,
        k: int = 10,
        filters: Filters | None = None,
        scene: bool = False,
    ) -> list[Result]:
        """Items like a stored item, or like a photo (a room photo with ``scene``). Give exactly one."""
        if (item_id is None) == (image is None):
            raise InvalidInputError(
                "give either an item id or a photo to find similar items for, not both",
                "an id from a search's results, or a photo (`vlm4rec similar ITEM_ID` or `--image PHOTO`)",
            )
        if item_id is not None:
            return self.retriever.similar_to_item(item_id, k, filters)
        return self.match_photo(image, k=k, filters=filters, scene=scene).results

    def match_photo(
        self, image: ImageSource, *, k: int = 10, filters: Filters | None = None, scene: bool = False
    ) -> PhotoMatch:
        """Ground a photo once, and find the items like it: both come back.

        The photo's image vector and its grounded description are fused (see
        :mod:`vlm4rec_agent.photo_search`); ``scene`` (a room photo: "shop the look") compares each
        item with the whole photo and with its corners, so that the things in it are found.
        """
        retriever = self.retriever  # an empty catalog is refused before the photo is grounded
        [photo] = photo_inputs([image], None, self._photo_limit)
        [record] = ground_photos(self.grounder, [photo], 1)
        picture = photo.image
        encoder = self.image_encoder if retriever.catalog.visual is not None else None
        views = encoder.encode(scene_views(picture) if scene else [picture]) if encoder is not None else None
        results = retriever.similar_to_photo(
            record, views, k, filters, self.settings.embed_item_text, self.settings.photo_visual_weight
        )
        return PhotoMatch(record=record, results=results, visual=views is not None)

    def closeness(self, text: str, ids: Sequence[str]) -> dict[str, float]:
        """How close each item is to a text ("cheaper looking"): what narrows a shown set by words."""
        return self.retriever.closeness(clean_text(text), ids)

    def explain(self, user: str, item_id: str) -> Result:
        """Why an item suits (or does not suit) a shopper, from the attributes they liked."""
        return self.retriever.explain_for_user(stored_user(self.ratings, user), item_id)

    # --- groups (rooms, outfits) that other shoppers put together ---------------------------
    def add_groups(self, path: str | Path, name: str | None = None, noun: str = "group") -> GroupsAdded:
        """Import a JSONL of groups (the `eval --groups` format) for the collaborative part to learn
        from; a set of the same name is replaced. Items not in the catalog are left out and counted."""
        catalog = self.catalog  # an empty catalog is refused: groups of nothing teach nothing
        found = read_group_file(path, name, noun, lambda ids: catalog.kinds(ids).keys())
        with self._gate.write():
            added = self.groups.add(found.name, found.noun, found.source, found.groups)
        self._refresh_collaborative()
        return GroupsAdded(set=added, unknown_items=found.unknown_items)

    def group_sets(self) -> list[GroupSet]:
        return self.groups.sets()

    def remove_groups(self, name: str) -> GroupSet:
        with self._gate.write():
            removed = self.groups.remove(name)
        if removed is None:
            known = ", ".join(s.name for s in self.groups.sets()) or "none"
            raise NotFoundError(f"no group set named {name!r}", f"group sets here: {known}")
        self._refresh_collaborative()
        return removed

    def _refresh_collaborative(self) -> None:
        live = self._live.built
        if live is not None:
            live.refresh()

    # --- profiles --------------------------------------------------------------------------
    def _rate(self, user: str, item_id: str, value: int) -> ProfileView:
        user = stored_user(self.ratings, user)
        item = self.get_item(item_id)  # its id as stored: what the rating must name
        with self._gate.write():
            self.ratings.rate(user, item.id, value)
        return self.profile(user)

    def like(self, user: str, item_id: str) -> ProfileView:
        """Record a like; returns the shopper's profile as it now is."""
        return self._rate(user, item_id, 1)

    def dislike(self, user: str, item_id: str) -> ProfileView:
        """Record a dislike; returns the shopper's profile as it now is."""
        return self._rate(user, item_id, -1)

    def forget(self, user: str, item_id: str) -> ProfileView:
        """Remove one like or dislike."""
        user, forms = stored_user(self.ratings, user), item_id_forms(item_id)
        with self._gate.write():
            forgotten = any(self.ratings.forget(user, form) for form in forms)
        if not forgotten:
            raise NotFoundError(f"user {user!r} has not rated item {forms[0]!r}")
        return self.profile(user)

    def reset(self, user: str) -> int:
        """Forget every rating of a user; returns how many there were."""
        user = stored_user(self.ratings, user)
        with self._gate.write():
            return self.ratings.reset(user)

    def profile(self, user: str) -> ProfileView:
        return profile_view(self.ratings.profile(stored_user(self.ratings, user)), self._existing_catalog())

    def stats(self) -> Stats:
        """Counts of items, shoppers and ratings (exact: each is a query to its store)."""
        store = self._existing_catalog()
        ratings = self.ratings
        return Stats(
            items=store.count() if store else 0,
            users=ratings.count_users(),
            ratings=ratings.count(),
            collection=self.settings.collection,
            store=self.settings.store_location,
            encoder=store.encoder_name if store else self.encoder_name,
            grounder=self.settings.grounder,
        )


def _check_prunable(catalog: Catalog) -> None:
    """Refuse to prune when some rows could not be read at all: their items cannot be told from removed ones."""
    unreadable = [p for p in catalog.problems if p.skips_row and not p.item_id]
    if unreadable:
        first = unreadable[0]
        raise InvalidInputError(
            f"--prune refused: {len(unreadable)} row(s) of {catalog.source.name} could not be read "
            f"({first.where}: {first.reason}), so the items they hold cannot be told apart from removed ones",
            "fix those rows, or ingest without --prune",
        )


def _close(part: Grounder | RatingStore | Any) -> None:
    """Grounders and rating stores have ``close`` in their protocols; Chroma's clients have it too."""
    part.close()
