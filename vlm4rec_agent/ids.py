"""Item and user ids: the rules they follow, one Unicode form, and the forms to look them up by.

An id is printable text of at most :data:`MAX_ID_LENGTH` characters (a user id: at most
:data:`MAX_USER_ID_LENGTH`). Wherever an id comes in (a catalog row at ingest, an id a tool, the
CLI or the API is given) it is put in Unicode normal form C, so that "Cafe" + U+0301 (an e and a
combining accent) and "Café" are one id. An id that breaks the rule is refused with the rule named.

Stores written before ids were normalised may hold another form; lookups try the NFC form first,
then the id as given and its decomposed form (:func:`item_id_forms`, :func:`user_id_forms`).
"""

from __future__ import annotations

import unicodedata

from .errors import InvalidInputError

MAX_ID_LENGTH = 256
MAX_USER_ID_LENGTH = 128
_USER_HINT = "give a plain name, e.g. --user ann"
ITEM_ID_RULE = f"item ids are printable text of at most {MAX_ID_LENGTH} characters"
USER_ID_RULE = f"user ids are printable text of at most {MAX_USER_ID_LENGTH} characters"
_ITEM_HINT = "use an id from the results of a search"
_SHOWN_ID_CHARS = 40  # an id is quoted in a message up to this length (a 10k id is never echoed whole)
_KINDS = {"Cc": "a control character", "Cf": "an invisible formatting character"}


def nfc(text: str) -> str:
    """``text`` in Unicode normal form C: "Cafe" + U+0301 (a combining accent) becomes "Café"."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def nfd(text: str) -> str:
    """``text`` decomposed (Unicode normal form D): the form a store written before may hold."""
    return unicodedata.normalize("NFD", text)


def shown_id(value: str) -> str:
    """An id as a message quotes it: escaped (a NUL as \\x00) and cut when long."""
    return repr(value[:_SHOWN_ID_CHARS]) + ("…" if len(value) > _SHOWN_ID_CHARS else "")


def id_problem(value: str, limit: int) -> str | None:
    """What breaks the id rule in ``value`` (too long, or a character that is not printable), else None."""
    if len(value) > limit:
        return f"is {len(value):,} characters long"
    bad = next((c for c in value if not c.isprintable()), None)
    if bad is None:
        return None
    kind = _KINDS.get(unicodedata.category(bad), "a character that is not printable")
    name = unicodedata.name(bad, "").lower()
    return f"contains {kind} (U+{ord(bad):04X}{' ' + name if name else ''})"


def _checked_id(value: str, limit: int, what: str, rule: str, hint: str) -> str:
    if len(value) > 20 * limit:  # refused before it is even normalised
        raise InvalidInputError(f"{what} {shown_id(value)} is {len(value):,} characters long; {rule}", hint)
    value = nfc(value)
    problem = id_problem(value, limit)
    if problem:
        raise InvalidInputError(f"{what} {shown_id(value)} {problem}; {rule}", hint)
    return value


def validate_item_id(item_id: str | None) -> str:
    """An item id as a caller gave it, in NFC (as ingest stores it), or an error naming the rule it broke."""
    if item_id is not None and not isinstance(item_id, str):
        raise InvalidInputError(f"the item id must be text, not {type(item_id).__name__}", _ITEM_HINT)
    if not (item_id or "").strip():
        raise InvalidInputError(f"the item id is empty; {ITEM_ID_RULE}", _ITEM_HINT)
    return _checked_id(item_id, MAX_ID_LENGTH, "item id", ITEM_ID_RULE, _ITEM_HINT)


def item_id_forms(item_id: str | None) -> list[str]:
    """The ids to look an item up by, best first: the NFC form (what ingest stores), then the id as
    given and its decomposed form (NFD), which a store written before ids were normalised may hold."""
    first = validate_item_id(item_id)
    return list(dict.fromkeys([first, item_id, nfd(first)]))


def validate_user_id(user: str | None) -> str:
    """A usable user id (surrounding spaces removed, in NFC) or an error naming the rule it broke."""
    if user is not None and not isinstance(user, str):
        raise InvalidInputError(f"the user id must be text, not {type(user).__name__}", _USER_HINT)
    cleaned = (user or "").strip()
    if not cleaned:
        raise InvalidInputError(f"the user id is empty; {USER_ID_RULE}", _USER_HINT)
    return _checked_id(cleaned, MAX_USER_ID_LENGTH, "user id", USER_ID_RULE, _USER_HINT)


def user_id_forms(user: str | None) -> list[str]:
    """The ids a shopper's ratings may be kept under, best first (see :func:`item_id_forms`)."""
    first = validate_user_id(user)
    return list(dict.fromkeys([first, user.strip(), nfd(first)]))
