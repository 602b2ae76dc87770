"""What the app does for each event, as plain methods (the layout in ``ui.py`` only wires them).

Every browser session has its own :class:`Conversation` (held in Gradio's per-session state),
so two sessions never share a profile: a session starts as a fresh guest, and a shopper who
gives a name gets the profile stored under it, on this visit and the next.
"""

from __future__ import annotations

import hashlib
import os
import textwrap
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

from PIL import Image
from pydantic import BaseModel

from ..access import GUEST_PREFIX, HF_PREFIX, Access
from ..assistant import Assistant, Conversation, Turn, make_assistant
from ..assistant.conversation import Change, Source
from ..engine import Engine
from ..errors import InvalidInputError, Vlm4recError
from ..grounding.vlm import FallbackGrounder
from ..image_inputs import resolve_image_argument
from ..images import open_image
from ..ingest_job import IngestJob
from ..rendering import as_markdown, common_text, facts_text, names, profile_counts
from ..settings import Settings
from ..store import validate_user_id
from ..store.sql_tokens import SqlTokenStore
from ..tools import ShopTools
from ..views import ResultView

THUMBNAIL = 320
API_CONVERSATIONS = 1000  # conversations the chat API keeps, least recently used dropped


class Thumbnails:
    """Small copies of catalog photos for the page, written once each as files.

    Files, not PIL images: Gradio rewrites a PIL image's cache file every time it is sent, which
    can cut short a browser that is downloading it; a file is copied into its cache once.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, path: str) -> str:
        source = Path(path)
        try:
            stat = source.stat()
            key = f"{source.resolve()}|{stat.st_mtime_ns}|{stat.st_size}"
        except OSError:
            key = f"missing|{path}"
        target = self.folder / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:24]}.jpg"
        if not target.exists():
            try:
                image = open_image(source)
                image.thumbnail((THUMBNAIL, THUMBNAIL))
            except Vlm4recError:
                image = Image.new("RGB", (THUMBNAIL, THUMBNAIL), (200, 200, 200))
            partial = target.with_suffix(f".{uuid.uuid4().hex}.part")
            image.save(partial, "JPEG", quality=88)
            os.replace(partial, target)
        return str(target)

    def gallery(self, results: list[ResultView], width: int = 24) -> list[tuple[str, str]]:
        """Each result's picture and a short caption ("#1 Cotton skirt"): its rank and its title,
        cut at a word to about ``width`` characters. No score: the selected-result panel has it,
        with the whole title."""

        def short(title: str) -> str:
            cut = textwrap.shorten(title, width=width, placeholder="…")
            return cut if cut != "…" else title[: width - 1] + "…"  # one word longer than the width

        return [(self(r.image), f"#{r.rank} {short(r.label)}") for r in results]


def describe_result(result: ResultView, position: int) -> str:
    """One result as Markdown; its catalog and VLM text is escaped, so it shows as words, never as links or HTML."""
    facts = facts_text(result.attributes, as_markdown)
    item_id = result.id.replace("`", "'")
    lines = [f"**#{position + 1} {as_markdown(result.label)}** · score {result.score:.2f} · id `{item_id}`"]
    lines.append(f"Why: {as_markdown(result.explanation)}")
    if facts:
        lines.append(f"Grounded attributes: {facts}.")
    if result.attributes.description:
        lines.append(f"*{as_markdown(result.attributes.description)}*")
    return "\n\n".join(lines)


class ChatReply(BaseModel):
    """The chat API's answer: the assistant's text, the results it shows (None: unchanged), what it
    understood, and the shopper's liked and disliked item ids after the turn."""

    text: str
    results: list[ResultView] | None = None
    intent: str = ""
    liked: list[str] = []
    disliked: list[str] = []


class ShopApp:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        assistant: Assistant | None = None,
        job: IngestJob | None = None,
        upload_folder: Path | None = None,
        notice: str | None = None,
    ):
        """``notice``: what went wrong while the app was being prepared (a catalog that could not be
        downloaded), shown in the status line and the greeting instead of keeping the page down."""
        from gradio.utils import get_upload_folder

        self.engine = engine
        self.settings = settings
        self.job = job
        self.notice = notice
        self.thumbnails = Thumbnails(settings.home / "cache" / "thumbnails")
        self.upload_folder = upload_folder or Path(get_upload_folder())
        self.shop = ShopTools(engine, image_roots=[self.upload_folder])
        self.assistant = assistant or make_assistant(self.shop, settings)
        # user -> (conversation, its lock): two calls for one shopper at once take turns, so neither
        # acts on results the other is replacing
        self._api_conversations: OrderedDict[str, tuple[Conversation, threading.Lock]] = OrderedDict()
        self._api_lock = threading.Lock()

    @cached_property
    def access(self) -> Access:
        """Who HTTP and MCP calls act for (opened on first use: the ratings database holds the tokens)."""
        return Access(SqlTokenStore(self.engine.ratings), self.settings.tokens_required)

    def image_name(self, path: str) -> str:
        """The served name of a photo's page-sized copy (``/images/NAME``), made if missing."""
        return Path(self.thumbnails(path)).name

    def close(self) -> None:
        """Stop the background ingest and release the engine (the server is stopped by its own close())."""
        self.engine.close()

    # --- what the page shows ---------------------------------------------------------------
    def grounder_line(self) -> str:
        grounder = self.engine.grounder
        if isinstance(grounder, FallbackGrounder) and grounder.unavailable:
            return (
                f"**Grounder:** basic, offline, standing in for the {grounder.name} VLM `{grounder.model_id}`, "
                f"which could not be used: {as_markdown(grounder.unavailable)}"
            )
        if grounder.name == "basic":
            return "**Grounder:** basic, offline: no vision-language model (an ImageNet classifier, pixel colours and item text)"
        return f"**Grounder:** {grounder.name} VLM `{grounder.model_id}`"

    @property
    def loading(self) -> bool:
        return self.job is not None and self.job.running

    def status_parts(self) -> list[str]:
        """The status line's parts, each a Markdown phrase, which the page shows as chips
        (cheap: the item count is at most a few seconds old, no ratings are read)."""
        items = self.engine.item_count()
        parts = [self.grounder_line(), f"**Assistant:** {self.assistant.description}", f"**Catalog:** {items:,} items"]
        if self.job is not None and (self.job.running or self.job.error):
            parts.append(as_markdown(self.job.status()))  # it can quote the catalog (a file name, a column)
        if self.notice:
            parts.append(as_markdown(self.notice))
        return parts

    def status(self) -> str:
        """The status line as one line of Markdown (what the status API returns)."""
        return " · ".join(self.status_parts())

    def status_api(self) -> str:
        """What the page's status line says: the grounder, the assistant, the catalog and its loading."""
        return self.status()

    def greeting(self) -> str:
        text = "Hello! Tell me what you are looking for, or attach a photo. Say *help* for what I understand."
        if self.notice:
            text += f"\n\n{as_markdown(self.notice)}"
        if self.loading:
            text += "\n\nI am adding the catalog right now; items can be found as soon as they are stored."
        elif self.engine.item_count() == 0:
            text += (
                "\n\nThe catalog is empty. Start the app with a catalog, for example "
                "`python app.py --catalog ../shared/data/clothing/labels.csv`, or add one with "
                "`vlm4rec ingest CATALOG` and reload this page."
            )
        return text

    def profile_view(self, conversation: Conversation) -> tuple[list[tuple[str, str]], str]:
        profile = self.shop.show_profile(conversation.user_id)
        liked = [(self.thumbnails(i.image), i.label) for i in profile.liked]
        shopper = conversation.user_id.replace("`", "'")
        lines = [f"**Shopper:** `{shopper}` · {profile_counts(profile)}"]
        if profile.common:
            lines.append(f"**Your likes have in common:** {common_text(profile.common, as_markdown)}")
        elif not profile.liked:
            lines.append("Like results (select one, then ♥) and your profile appears here.")
        if profile.disliked:
            lines.append("**Disliked:** " + names(profile.disliked, as_markdown))
        return liked, "\n\n".join(lines)

    # --- session -------------------------------------------------------------------------------
    def start(self, saved_user: str | None, account: str | None = None) -> Conversation:
        """A new session's conversation: a Hugging Face account signed in, else the shopper this
        browser remembers, else a fresh guest. A remembered account's id is not taken without
        signing in, nor (with tokens required) a name that has since been given a token."""
        if account:
            return Conversation(user_id=validate_user_id(HF_PREFIX + account))
        return Conversation(user_id=self._remembered(saved_user) or f"{GUEST_PREFIX}{uuid.uuid4().hex[:8]}")

    def _remembered(self, saved_user: str | None) -> str | None:
        """The shopper a browser remembers, where it may still be taken: a guest id is the
        browser's own; a name, unless it has since been given a token; an account, never."""
        try:
            user = validate_user_id(saved_user) if saved_user else None
        except Vlm4recError:
            return None
        if user is None or user.startswith(HF_PREFIX):
            return None
        return user if user.startswith(GUEST_PREFIX) or self.access.may_be_named(user) else None

    def resume(self, conversation: Conversation | None, saved_user: str | None) -> Conversation:
        """The session's conversation, or a fresh one where Gradio dropped the session's state.

        Gradio keeps a bounded number of sessions and every stateless API call takes one, so heavy
        API traffic can push out an idle tab's state; the tab then goes on as its saved shopper.
        """
        return conversation if conversation is not None else self.start(saved_user)

    def set_user(self, name: str, conversation: Conversation) -> tuple[Conversation, str]:
        """Use a shopper's own name; returns the conversation and what to remember in the browser."""
        user = validate_user_id(name)
        if user != conversation.user_id and not self.access.may_be_named(user):
            raise InvalidInputError(
                f"the name {user!r} cannot be taken here",
                "it is a guest's or a signed-in account's id, or a shopper's with an API token; choose another name",
            )
        conversation.user_id = user
        return conversation, user

    # --- chat ------------------------------------------------------------------------------
    def reply(self, conversation: Conversation, text: str, photo: str | None) -> Iterator[Turn]:
        try:
            yield from self.assistant.stream(conversation, text, photo)
        except Vlm4recError as error:
            yield Turn(text=f"Sorry, I could not do that: {error}.")

    def select(self, conversation: Conversation, index: int) -> str:
        if not 0 <= index < len(conversation.results):
            return "Select a result to see why it was chosen."
        conversation.selected = index
        return describe_result(conversation.results[index], index)

    def rate(self, conversation: Conversation, like: bool) -> str:
        if conversation.selected is None or conversation.selected >= len(conversation.results):
            return "Select a result first (click its picture), then ♥ or ✕."
        result = conversation.results[conversation.selected]
        verb = "Liked" if like else "Disliked"
        undone = f"#{conversation.selected + 1} *{as_markdown(result.label)}* is no longer {verb.lower()}"
        change = Change.of(self.shop.show_profile(conversation.user_id), undone, [result.id])
        (self.shop.like_item if like else self.shop.dislike_item)(conversation.user_id, result.id)
        conversation.changes.append(change)  # "undo" in the chat takes it back
        return f"{verb} #{conversation.selected + 1} {as_markdown(result.label)}.\n\n" + describe_result(
            result, conversation.selected
        )

    def reset_profile(self, conversation: Conversation) -> None:
        """The page's reset button: every rating forgotten, and "undo" in the chat brings them back."""
        profile = self.shop.show_profile(conversation.user_id)
        change = Change.of(profile, f"your {len(profile.liked) + len(profile.disliked)} ratings are back")
        self.shop.reset_profile(conversation.user_id)
        conversation.changes.append(change)

    def more_like_selected(self, conversation: Conversation) -> Turn:
        if conversation.selected is None or conversation.selected >= len(conversation.results):
            return Turn(text="Select a result first (click its picture).")
        result = conversation.results[conversation.selected]
        found = self.shop.similar_items(item_id=result.id, k=6).results
        conversation.results, conversation.selected, conversation.pool = found, None, found
        conversation.source = Source("similar", result.id)  # what "in blue" narrows next
        return Turn(text=f"More like *{as_markdown(result.label)}*:", results=found)

    # --- the chat API (for bots and tests) -------------------------------------------------------
    def chat_api(self, message: str, user_id: str) -> ChatReply:
        """Send one message as a shopper and get the assistant's answer with the results it shows.

        Args:
            message: What the shopper says.
            user_id: The shopper's id; the conversation with this id continues across calls.
        """
        return self.chat_photo_api(message, user_id, "")

    def chat_photo_api(self, message: str, user_id: str, photo: str) -> ChatReply:
        """Send one message with a photo attached, as a shopper; the same conversation as /chat.

        Args:
            message: What the shopper says about the photo ("find something like this"); may be empty.
            user_id: The shopper's id; the conversation with this id continues across calls.
            photo: The photo, as a data:image/...;base64 URL (or a file uploaded to this app); empty for none.
        """
        user = validate_user_id(user_id)
        attached = self._api_photo(photo) if photo else None
        with self._api_lock:
            entry = self._api_conversations.pop(user, None) or (Conversation(user_id=user), threading.Lock())
            self._api_conversations[user] = entry
            while len(self._api_conversations) > API_CONVERSATIONS:
                self._api_conversations.popitem(last=False)
        conversation, turn_lock = entry
        with turn_lock:
            turn = list(self.reply(conversation, message, attached))[-1]
        profile = self.shop.show_profile(user)
        return ChatReply(
            text=turn.text,
            results=turn.results,
            intent=turn.intent,
            liked=[i.id for i in profile.liked],
            disliked=[i.id for i in profile.disliked],
        )

    def _api_photo(self, photo: str) -> str:
        """A photo sent to the chat API as a file in the upload folder (the assistant, and a later
        "in blue", refer to it by path; an LLM is never handed the photo's bytes as text)."""
        found = resolve_image_argument(photo, [self.upload_folder])
        if isinstance(found, Path):
            return str(found)
        folder = self.upload_folder / "chat-api"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{hashlib.sha256(found).hexdigest()[:32]}.img"
        if not target.exists():
            partial = target.with_suffix(f".{uuid.uuid4().hex}.part")
            partial.write_bytes(found)
            os.replace(partial, target)
        return str(target)
