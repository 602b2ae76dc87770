"""Text that people and programs send in: queries, chat messages, item and user ids, checked and cleaned.

Terminal escapes and control characters are removed (they would reach the encoder and be echoed
back), emoji and right-to-left scripts are kept, and text past a limit is refused with the limit
named, before any work is spent on it.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import InvalidInputError
from .ids import MAX_USER_ID_LENGTH, validate_item_id, validate_user_id
from .terminal_text import printable

# The encoder reads at most 256 word pieces (about 1,000 characters of English); a longer query is
# refused, not cut, so that nobody is shown results for words that were silently dropped.
MAX_QUERY_CHARS = 2000
_QUERY_HINT = 'say what you are looking for, e.g. "white bedside lamp"'


def clean_text(text: str | None) -> str:
    """Text as a person typed it: terminal escape sequences and control characters removed.

    Control characters (NUL, line breaks, tabs) become spaces; invisible format characters (bidi
    overrides, zero-width spaces, byte-order marks) are dropped; runs of spaces collapse. Emoji and
    right-to-left scripts are kept as they are. Linear in the text's length.
    """
    return " ".join(printable(text).split())


def clean_bounded(text: str | None, limit: int, too_long: Callable[[int], InvalidInputError]) -> str:
    """:func:`clean_text`, refusing text longer than ``limit`` (``too_long(length)`` is raised).

    Text over 20 times the limit is refused before it is even cleaned.
    """
    if len(text or "") > 20 * limit:
        raise too_long(len(text))
    cleaned = clean_text(text)
    if len(cleaned) > limit:
        raise too_long(len(cleaned))
    return cleaned


def clean_query(query: str | None, limit: int = MAX_QUERY_CHARS) -> str:
    """A search query ready to encode, or a clear error: empty, invisible only, or too long."""

    def too_long(length: int) -> InvalidInputError:
        return InvalidInputError(
            f"the search query is {length:,} characters long; the limit is {limit:,}",
            "describe what you want in a few words",
        )

    text = clean_bounded(query, limit, too_long)
    if not text:
        if (query or "").strip():
            raise InvalidInputError("the search query holds only control or invisible characters", _QUERY_HINT)
        raise InvalidInputError("the search query is empty", _QUERY_HINT)
    return text


__all__ = ["MAX_USER_ID_LENGTH", "clean_bounded", "clean_query", "clean_text", "validate_item_id", "validate_user_id"]
