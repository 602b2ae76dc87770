"""Who a remote call acts for: the shopper its bearer token names, or a guest of its own.

The app's HTTP API and MCP server serve the same tools, and each tool that reads or changes a
profile names a ``user_id``. With tokens required (``VLM4REC_REQUIRE_TOKEN``; on by default when
the app listens beyond loopback or runs in a Space) a named shopper is acted for only with a token
bound to them (``Authorization: Bearer v4r_...``, made by ``vlm4rec token create --user NAME``).
A call without one never reaches the named profile: it acts for a guest of its own, and the answer
says so and hands it a *guest token* (``v4rg_...``, signed with the app's key, nothing stored) to
go on with that guest. A token for another shopper than the one named is refused.

With tokens not required (loopback only, unless set) a named shopper is believed, as before.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Literal

from pydantic import BaseModel

from .errors import InvalidInputError
from .store.sql_tokens import TOKEN_PREFIX, SqlTokenStore
from .text_input import validate_user_id

GUEST_PREFIX = "guest-"  # also the page's guests: a remote guest is one more such id
GUEST_TOKEN_PREFIX = "v4rg_"
HF_PREFIX = "hf:"  # a profile bound to a Hugging Face account (the page's sign-in)
RESERVED_PREFIXES = (GUEST_PREFIX, HF_PREFIX)
GUEST_KEY = "guest-tokens"
_TOKEN_HINT = (
    "ask the app's owner for a token (`vlm4rec token create --user NAME`) and send it as 'Authorization: Bearer TOKEN'"
)


class Caller(BaseModel):
    """Who one call acts for. ``user`` is empty for a call that names no shopper (a plain search)."""

    user: str
    how: Literal["token", "guest", "open", "none"]
    note: str = ""  # for the caller, when the call acts for someone other than the one it named
    guest_token: str = ""  # a guest's credential, to send back as its bearer token


def bearer(authorization: str | None) -> str:
    """The token in an ``Authorization`` header ("" when there is none)."""
    value = (authorization or "").strip()
    if not value:
        return ""
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidInputError(
            "the Authorization header must be 'Bearer TOKEN'", "send the token this app's owner made for you"
        )
    return token.strip()


class Access:
    """The rule for remote callers; ``required`` is whether a named shopper needs a token."""

    def __init__(self, tokens: SqlTokenStore, required: bool):
        self.tokens = tokens
        self.required = required
        self._key: bytes | None = None

    def caller(self, named: str, authorization: str | None) -> Caller:
        """Who a call that names ``named`` (maybe "") and sends ``authorization`` acts for."""
        named = validate_user_id(named) if named and named.strip() else ""
        token = bearer(authorization)
        if token.startswith(TOKEN_PREFIX):
            return self._shopper(named, token)
        guest = self._guest_of(token) if token else None
        if token and guest is None:
            raise InvalidInputError("the bearer token is not one this app made", _TOKEN_HINT)
        if not self.required and guest is None:
            return Caller(user=named, how="open" if named else "none")
        if guest is None and not named:
            return Caller(user="", how="none")
        guest = guest or f"{GUEST_PREFIX}{secrets.token_hex(8)}"
        caller = Caller(user=guest, how="guest", guest_token=self.guest_token(guest))
        if named and named != guest:
            caller.note = (
                f"This acted for a guest profile of your own ({guest}), not for {named!r}: acting for a named "
                f"shopper needs their token. Send 'Authorization: Bearer {caller.guest_token}' to go on with this "
                f"guest, or {_TOKEN_HINT}."
            )
        return caller

    def may_be_named(self, user: str) -> bool:
        """Whether a shopper may take ``user`` by typing it on the page: with tokens required, never
        a guest's or a signed-in account's id, nor a shopper who has a token."""
        if not self.required:
            return True
        return not user.startswith(RESERVED_PREFIXES) and not self.tokens.has_tokens(user)

    def guest_token(self, guest: str) -> str:
        return f"{GUEST_TOKEN_PREFIX}{guest[len(GUEST_PREFIX) :]}.{self._signature(guest)}"

    def _shopper(self, named: str, token: str) -> Caller:
        user = self.tokens.user_for(token)
        if user is None:
            raise InvalidInputError("the bearer token is not valid (revoked, or never made here)", _TOKEN_HINT)
        if named and named != user:
            raise InvalidInputError(
                f"this token acts for {user!r}, not {named!r}",
                f"leave user_id empty or give {user!r}; nothing was done",
            )
        return Caller(user=user, how="token")

    def _guest_of(self, token: str) -> str | None:
        if not token.startswith(GUEST_TOKEN_PREFIX):
            return None
        suffix, _, signature = token[len(GUEST_TOKEN_PREFIX) :].partition(".")
        guest = GUEST_PREFIX + suffix
        if not suffix or not hmac.compare_digest(signature, self._signature(guest)):
            return None
        return guest

    def _signature(self, guest: str) -> str:
        if self._key is None:
            self._key = self.tokens.key(GUEST_KEY)
        mac = hmac.new(self._key, guest.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:24]).decode("ascii")
