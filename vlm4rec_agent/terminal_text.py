"""Text someone else wrote, made safe to store and to show in a terminal: no escape sequences
(window titles, clearing the screen, clipboard writes), no control characters."""

from __future__ import annotations

import re
import unicodedata

TERMINAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
KEPT_FORMAT = {"\u200c", "\u200d"}  # zero-width (non-)joiners: part of emoji and of Persian words


def printable(text: str | None, keep_lines: bool = False) -> str:
    """Text with terminal escape sequences and control characters taken out, and nothing else
    changed: what a catalog's text is stored as, and what a terminal is shown. A control character
    becomes a space (a line break stays one when ``keep_lines``); invisible format characters (bidi
    overrides, zero-width spaces) are dropped, zero-width joiners kept."""
    text = text or ""
    if text.isprintable():  # the common case, at C speed
        return text
    text = TERMINAL_ESCAPE.sub(" ", text)
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc":
            kept.append("\n" if keep_lines and char == "\n" else " ")
        elif category != "Cf" or char in KEPT_FORMAT:
            kept.append(char)
    return "".join(kept)
