"""What both assistants share: the conversation's state, a turn's answer, and their protocol."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import InvalidInputError
from ..text_input import clean_bounded
from ..views import ProfileView, ResultView

if TYPE_CHECKING:
    from .understanding import Intent

MAX_MESSAGE_CHARS = 2000  # a shopper's message; longer ones are refused before any parsing


def shopper_text(message: str | None) -> str:
    """A shopper's message with control characters and terminal escapes removed; too long: an error."""
    return clean_bounded(
        message,
        MAX_MESSAGE_CHARS,
        lambda length: InvalidInputError(
            f"your message is {length:,} characters long; I read at most {MAX_MESSAGE_CHARS:,}",
            "say what you are looking for in a sentence or two",
        ),
    )


@dataclass(frozen=True)
class Source:
    """What put the results on screen, so that a refinement can narrow them: a text search, a
    photo, a recommendation, or "more like" an item (``value``: the query, photo path or item id)."""

    kind: str  # search | photo | recommend | similar
    value: str = ""


@dataclass(frozen=True)
class Change:
    """A change to a shopper's ratings, as it can be taken back: each item's rating before it
    (1 liked, -1 disliked, 0 none), and what to say when it is undone."""

    before: tuple[tuple[str, int], ...]
    undone: str

    @classmethod
    def of(cls, profile: ProfileView, undone: str, item_ids: Sequence[str] | None = None) -> Change:
        """The change about to be made to ``item_ids`` (None: every rated item, as a reset does),
        from the profile before it."""
        ratings = {i.id: 1 for i in profile.liked} | {i.id: -1 for i in profile.disliked}
        ids = list(ratings) if item_ids is None else item_ids
        return cls(tuple((i, ratings.get(i, 0)) for i in ids), undone)


@dataclass
class Conversation:
    """One shopper's conversation: who they are, what is on their screen, and what it is waiting for."""

    user_id: str
    query: str = ""
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    results: list[ResultView] = field(default_factory=list)
    selected: int | None = None
    messages: list[Any] = field(default_factory=list)  # an LLM assistant's history
    source: Source | None = None
    pool: list[ResultView] = field(default_factory=list)  # the candidates behind the results shown
    pending: Intent | None = None  # what a "yes" would do: the offline assistant's reading it asked about
    changes: list[Change] = field(default_factory=list)  # rating changes "undo" can take back, latest last
    hinted: bool = False  # whether the follow-ups a shopper can say were shown once

    def clear(self) -> None:
        """Start over: the search, its refinements and the results go; ratings and their undo stay."""
        self.query, self.include, self.exclude, self.results, self.selected = "", [], [], [], None
        self.source, self.pool, self.pending, self.messages = None, [], None, []


@dataclass
class Turn:
    """The assistant's answer: text for the chat; results and profile for the panels (None: unchanged)."""

    text: str
    results: list[ResultView] | None = None
    profile: ProfileView | None = None
    intent: str = ""


class Assistant(Protocol):
    """Answers a shopper's message, streaming: each Turn holds the text so far."""

    name: str
    description: str

    def stream(self, conversation: Conversation, message: str, photo: str | None = None) -> Iterator[Turn]: ...


def stream_text(turn: Turn, words_per_step: int = 6) -> Iterator[Turn]:
    """Yield a finished turn a few words at a time, so that it reads as it arrives."""
    words = turn.text.split(" ")
    for end in range(words_per_step, len(words), words_per_step):
        yield replace(turn, text=" ".join(words[:end]))
    yield turn
