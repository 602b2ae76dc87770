"""The engine: the few functions that the CLI, the app and the agent tools all call.

Everything is loaded lazily: a ``like`` never loads a model, a ``search`` never loads the
grounder, and an ingest of an unchanged catalog loads neither.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

from PIL import Image
from pydantic import BaseModel

from .catalogs import CatalogProblem, Columns, read_catalog
from .encoding import TextEncoder, make_encoder, stored_encoder_name
from .errors import NotFoundError
from .grounding.protocol import Grounder, GroundingFailure, GroundingInput, checked
from .grounding.registry import make_grounder
from .grounding.schema import GroundingRecord
from .images import open_image
from .ingest import Ingestor, IngestReport, Progress
from .items import Item, StoredItem, file_sha256
from .retrieval import Filters, Result, Retriever, attributes_in_common
from .scoring import Scorer, make_scorer
from .settings import Settings
from .store import CatalogStore, Profile, RatingStore, open_client, validate_user_id
from .text_input import validate_item_id

ImageSource = str | Path | bytes | Image.Image


class ProfileView(BaseModel):
    user: str
    liked: list[StoredItem]
    disliked: list[StoredItem]
    common: list[tuple[str, str, int]]  # (field, value, how many liked items carry it)


class Stats(BaseModel):
    items: int
    users: int
    ratings: int
    collection: str
    store: str
    encoder: str
    grounder: str


class Engine:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        grounder: Grounder | None = None,
        encoder: TextEncoder | None = None,
        scorer: Scorer | None = None,
    ):
        self.settings = settings or Settings()
        self._grounder = grounder
        self._given_grounder = grounder  # the caller's to close, not ours
        self._encoder = encoder
        self._scorer = scorer
        self._client = None
        self._catalog: CatalogStore | None = None
        self._ratings: RatingStore | None = None
        self._retriever: Retriever | None = None
        # The app shares one engine between shoppers' requests and a background ingest.
        self._lock = threading.RLock()

    # --- parts, built on first use -------------------------------------------------------
    @property
    def grounder(self) -> Grounder:
        with self._lock:
            if self._grounder is None:
                self._grounder = make_grounder(self.settings)
            return self._grounder

    @property
    def encoder(self) -> TextEncoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = make_encoder(self.settings)
            return self._encoder

    @property
    def encoder_name(self) -> str:
        if self._encoder is None and (name := stored_encoder_name(self.settings)) is not None:
            return name  # known without loading the model
        return self.encoder.name

    @property
    def scorer(self) -> Scorer:
        if self._scorer is None:
            self._scorer = make_scorer(self.settings)
        return self._scorer

    def close(self) -> None:
        """Release what the grounder this engine built holds (an HTTP client, the cache's database)."""
        with self._lock:
            if self._grounder is not None and self._grounder is not self._given_grounder:
                self._grounder.close()
                self._grounder = None

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                self._client = open_client(self.settings)
            return self._client

    def _existing_catalog(self) -> CatalogStore | None:
        with self._lock:
            if self._catalog is None:
                self._catalog = CatalogStore.open(self.client, self.settings.collection, self.encoder_name)
            return self._catalog

    def _create_catalog(self, dim: int) -> CatalogStore:
        with self._lock:
            self._catalog = CatalogStore.open(self.client, self.settings.collection, self.encoder_name, dim=dim)
            return self._catalog

    @property
    def catalog(self) -> CatalogStore:
        """The stored catalog; a clear error when nothing has been ingested yet."""
        store = self._existing_catalog()
        if store is None or store.count() == 0:
            raise NotFoundError(
                f"the catalog {self.settings.collection!r} is empty",
                "add items with `vlm4rec ingest CATALOG_FILE_OR_FOLDER`",
            )
        return store

    @property
    def ratings(self) -> RatingStore:
        with self._lock:
            if self._ratings is None:
                self._ratings = RatingStore.open(self.client, self.settings.collection)
            return self._ratings

    @property
    def retriever(self) -> Retriever:
        """One retriever per catalog, so that its memos (query and profile vectors) live on."""
        with self._lock:
            catalog = self.catalog
            if self._retriever is None or self._retriever.catalog is not catalog:
                self._retriever = Retriever(
                    catalog, self.ratings, lambda: self.encoder, self.scorer, self.settings.personalization_weight
                )
            return self._retriever

    # --- catalog ---------------------------------------------------------------------------
    def ingest(
        self,
        source: str | Path,
        *,
        columns: Columns | None = None,
        limit: int | None = None,
        progress: Progress = False,
    ) -> IngestReport:
        """Read a catalog (JSONL, CSV or image folder) and store every new or changed item."""
        catalog = read_catalog(source, columns, limit)
        return self.ingest_items(
            catalog.items, source=str(catalog.source), problems=catalog.problems, progress=progress
        )

    def ingest_items(
        self,
        items: Sequence[Item],
        *,
        source: str = "items",
        problems: Sequence[CatalogProblem] = (),
        progress: Progress = False,
    ) -> IngestReport:
        s = self.settings
        ingestor = Ingestor(
            self.grounder,
            self.encoder_name,
            lambda: self.encoder,
            self._existing_catalog(),
            self._create_catalog,
            embed_item_text=s.embed_item_text,
            grounding_batch_size=s.grounding_batch_size,
            max_image_pixels=s.max_image_pixels,
        )
        return ingestor.run(items, source, problems, progress)

    def describe(self, image: ImageSource, text: str | None = None) -> GroundingRecord:
        """Ground one image (and optional item text) into attributes, without storing anything."""
        picture = open_image(image, self.settings.max_image_pixels)
        if isinstance(image, bytes):
            image_hash = hashlib.sha256(image).hexdigest()
        elif isinstance(image, (str, Path)):
            image_hash = file_sha256(Path(image))
        else:
            image_hash = None
        inputs = [GroundingInput(image=picture, text=text, image_hash=image_hash)]
        [outcome] = checked(self.grounder, inputs, self.grounder.ground(inputs))
        if isinstance(outcome, GroundingFailure):
            raise outcome.error()
        return outcome

    def get_item(self, item_id: str) -> StoredItem:
        return self.catalog.require(validate_item_id(item_id)).item

    # --- retrieval -------------------------------------------------------------------------
    def search(
        self, query: str, *, k: int = 10, user: str | None = None, filters: Filters | None = None
    ) -> list[Result]:
        """Items that match a description in words, personalised by the user's profile if given."""
        return self.retriever.search(query, k, validate_user_id(user) if user else None, filters)

    def recommend(self, user: str, *, k: int = 10, filters: Filters | None = None) -> list[Result]:
        """Items for a shopper from what they liked and disliked, never ones they already rated."""
        return self.retriever.recommend(validate_user_id(user), k, filters)

    def similar(
        self,
        item_id: str | None = None,
        image: ImageSource | None = None,
        *,
        k: int = 10,
        filters: Filters | None = None,
    ) -> list[Result]:
        """Items like a stored item, or like a photo (which is grounded first)."""
        if (item_id is None) == (image is None):
            raise ValueError("give exactly one of item_id or image")
        if item_id is not None:
            return self.retriever.similar_to_item(item_id, k, filters)
        record = self.describe(image)
        return self.retriever.similar_to_record(record, k, filters, self.settings.embed_item_text)

    def explain(self, user: str, item_id: str) -> Result:
        """Why an item suits (or does not suit) a shopper, from the attributes they liked."""
        return self.retriever.explain_for_user(validate_user_id(user), item_id)

    # --- profiles --------------------------------------------------------------------------
    def _rate(self, user: str, item_id: str, value: int) -> Profile:
        user = validate_user_id(user)
        self.get_item(item_id)
        self.ratings.rate(user, item_id, value)
        return self.ratings.profile(user)

    def like(self, user: str, item_id: str) -> Profile:
        return self._rate(user, item_id, 1)

    def dislike(self, user: str, item_id: str) -> Profile:
        return self._rate(user, item_id, -1)

    def forget(self, user: str, item_id: str) -> Profile:
        """Remove one like or dislike."""
        user, item_id = validate_user_id(user), validate_item_id(item_id)
        if not self.ratings.forget(user, item_id):
            raise NotFoundError(f"user {user!r} has not rated item {item_id!r}")
        return self.ratings.profile(user)

    def reset(self, user: str) -> int:
        """Forget every rating of a user; returns how many there were."""
        return self.ratings.reset(validate_user_id(user))

    def profile(self, user: str) -> ProfileView:
        user = validate_user_id(user)
        profile = self.ratings.profile(user)
        store = self._existing_catalog()
        stored = store.get(profile.liked + profile.disliked) if store else {}
        liked = [stored[i].item for i in profile.liked if i in stored]
        disliked = [stored[i].item for i in profile.disliked if i in stored]
        return ProfileView(user=user, liked=liked, disliked=disliked, common=attributes_in_common(liked))

    def stats(self) -> Stats:
        store = self._existing_catalog()
        ratings = self.ratings
        return Stats(
            items=store.count() if store else 0,
            users=len(ratings.users()),
            ratings=ratings.count(),
            collection=self.settings.collection,
            store=self.settings.store_location,
            encoder=store.encoder_name if store else self.encoder_name,
            grounder=self.settings.grounder,
        )
