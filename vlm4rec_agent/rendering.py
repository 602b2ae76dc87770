"""Words for what the faces show: one formatter per thing, shared by the CLI, the chat and the app.

Each formatter takes an ``escape`` for the face's medium: :func:`as_markdown` for the chat and the
page (catalog and VLM text is written by others: it must show as the words it is, never as a
link, an image or HTML), the identity for plain text. The layout around these pieces (a table,
a Markdown line) is the face's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .grounding.schema import CITABLE_FIELDS, FIELD_LABELS, Attributes
from .terminal_text import printable
from .text_input import clean_text
from .views import CommonValue, ItemBrief, ProfileView

Escape = Callable[[str], str]
# Markdown's own syntax; and what GitHub-flavoured Markdown (which the page's renderer follows)
# turns into a link by itself: "http://", "www." and an e-mail's "@" (escaped, they show as they are).
_MARKDOWN = re.compile(r"([\\`*_\[\]<>!|~#@])")
_AUTOLINK = re.compile(r"(:)(?=//)|\b(www)(\.)", re.IGNORECASE)
# A language model's answer keeps its emphasis, lists, headings and code; only what links or loads goes.
_PROSE = re.compile(r"([\\\[\]<>@])")


def _no_autolinks(text: str) -> str:
    return _AUTOLINK.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)


def as_markdown(text: str | None) -> str:
    """Catalog or VLM text shown in Markdown as the words it is: no links (not even a bare URL, a
    ``www.`` address or an e-mail address), images, HTML or emphasis."""
    return _no_autolinks(_MARKDOWN.sub(r"\\\1", clean_text(text)))


def as_prose(text: str | None) -> str:
    """A language model's answer in Markdown, its emphasis, lists and line breaks kept, but no link,
    image or HTML: it repeats catalog text, and a catalog can talk it into writing a tracker's image."""
    return _no_autolinks(_PROSE.sub(r"\\\1", printable(text, keep_lines=True)))


def as_text(text: str | None) -> str:
    """Text for a plain-text face: control characters and terminal escapes removed."""
    return clean_text(text)


def attribute_facts(attributes: Attributes) -> list[tuple[str, str]]:
    """(label, values) of every attribute field that has values, in the order worth citing."""
    return [(FIELD_LABELS[f], ", ".join(attributes.values(f))) for f in CITABLE_FIELDS if attributes.values(f)]


def facts_text(attributes: Attributes, escape: Escape = as_text, separator: str = "; ") -> str:
    """'category: dress; colour: blue, white; season: summer' (empty when nothing is known)."""
    return separator.join(f"{label}: {escape(values)}" for label, values in attribute_facts(attributes))


def common_text(common: Sequence[CommonValue], escape: Escape = as_text, limit: int = 8) -> str:
    """'style: casual (3), colour: blue (2)': what a shopper's likes share, with how many carry it."""
    return ", ".join(f"{FIELD_LABELS[c.field]}: {escape(c.value)} ({c.count})" for c in common[:limit])


def names(items: Sequence[ItemBrief], escape: Escape = as_text) -> str:
    """Items' titles (or ids), comma-separated."""
    return ", ".join(escape(i.label) for i in items)


def profile_counts(profile: ProfileView) -> str:
    return f"{len(profile.liked)} liked, {len(profile.disliked)} disliked"


def profile_summary(profile: ProfileView, escape: Escape = as_text, limit: int = 4) -> str:
    """'3 liked, 1 disliked; your likes share style: casual (3), colour: blue (2).'"""
    shared = common_text(profile.common, escape, limit)
    return profile_counts(profile) + (f"; your likes share {shared}." if shared else ".")
