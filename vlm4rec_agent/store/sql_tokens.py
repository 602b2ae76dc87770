"""Access tokens for the app's HTTP API and MCP server, in the ratings' database.

A token lets a remote caller act for one named shopper (see :mod:`vlm4rec_agent.access`). It is
shown once, when made; the database keeps only its SHA-256 (a token is 256 random bits, so a plain
hash is as good as a slow one and costs nothing per request). Two tables beside the ratings::

    vlm4rec_tokens   token_id (the hash's first 12 hex digits: shown, and used to revoke),
                     token_hash, user_id, label, created_at, revoked_at (NULL while valid)
    vlm4rec_keys     name, value: the app's secret for signing guest tokens (made once, shared
                     by every process that uses this database)

Tokens are not per catalog: a shopper's token works for every catalog in the database.
"""

from __future__ import annotations

import hashlib
import secrets
import time

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc

from ..errors import InvalidInputError
from ..text_input import MAX_USER_ID_LENGTH, validate_user_id
from .sql_ratings import SqlRatingStore, metadata

TOKEN_PREFIX = "v4r_"  # a shopper's token; a guest's starts with access.GUEST_TOKEN_PREFIX
MAX_LABEL = 120
ID_LENGTH = 12

tokens_table = sa.Table(
    "vlm4rec_tokens",
    metadata,
    sa.Column("token_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.String(MAX_USER_ID_LENGTH), nullable=False, index=True),
    sa.Column("label", sa.String(MAX_LABEL), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("revoked_at", sa.Double, nullable=True),
)
keys_table = sa.Table(
    "vlm4rec_keys",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(128), nullable=False),
)


class TokenRecord(BaseModel):
    """What is kept of a token: never the token itself."""

    id: str
    user: str
    label: str
    created_at: float
    revoked_at: float | None = None

    @property
    def valid(self) -> bool:
        return self.revoked_at is None


class IssuedToken(BaseModel):
    """A token just made: the only time the token itself is seen."""

    token: str
    record: TokenRecord


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SqlTokenStore:
    """The tokens and the signing key, in the database a :class:`SqlRatingStore` uses."""

    def __init__(self, ratings: SqlRatingStore):
        self._ratings = ratings
        ratings.create_tables()

    def create(self, user: str, label: str = "") -> IssuedToken:
        """A new token acting for ``user``; the user's other tokens stay valid."""
        user = validate_user_id(user)
        label = label.strip()
        if len(label) > MAX_LABEL or not label.isprintable():
            raise InvalidInputError(
                f"a token's label is at most {MAX_LABEL} printable characters", "give a short name, e.g. --label ci-bot"
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = token_hash(token)
        record = TokenRecord(id=digest[:ID_LENGTH], user=user, label=label, created_at=time.time())
        with self._ratings.transaction(write=True) as connection:
            connection.execute(
                tokens_table.insert().values(
                    token_id=record.id,
                    token_hash=digest,
                    user_id=user,
                    label=label,
                    created_at=record.created_at,
                    revoked_at=None,
                )
            )
        return IssuedToken(token=token, record=record)

    def user_for(self, token: str) -> str | None:
        """The shopper a valid token acts for; None for a token never made or revoked."""
        t = tokens_table
        query = sa.select(t.c.user_id).where(t.c.token_hash == token_hash(token), t.c.revoked_at.is_(None))
        with self._ratings.transaction() as connection:
            return connection.execute(query).scalar()

    def records(self, user: str | None = None) -> list[TokenRecord]:
        """Every token made (revoked ones too), oldest first; only ``user``'s when given."""
        t = tokens_table
        query = sa.select(t).order_by(t.c.created_at, t.c.token_id)
        if user is not None:
            query = query.where(t.c.user_id == validate_user_id(user))
        with self._ratings.transaction() as connection:
            return [_record(row) for row in connection.execute(query).mappings()]

    def has_tokens(self, user: str) -> bool:
        """Whether any valid token acts for ``user`` (such a name is not for anyone to type on the page)."""
        t = tokens_table
        query = sa.select(sa.func.count()).where(t.c.user_id == user, t.c.revoked_at.is_(None))
        with self._ratings.transaction() as connection:
            return bool(connection.execute(query).scalar())

    def revoke(self, token_or_id: str) -> TokenRecord:
        """Revoke one token, named by itself or by its id; revoking twice changes nothing."""
        given = token_or_id.strip()
        t = tokens_table
        where = t.c.token_hash == token_hash(given) if given.startswith(TOKEN_PREFIX) else t.c.token_id == given
        with self._ratings.transaction(write=True) as connection:
            row = connection.execute(sa.select(t).where(where)).mappings().first()
            if row is None:
                raise InvalidInputError(
                    f"no token {given[: ID_LENGTH + 4]!r}", "list the tokens and their ids with `vlm4rec token list`"
                )
            if row["revoked_at"] is None:
                now = time.time()
                connection.execute(t.update().where(t.c.token_id == row["token_id"]).values(revoked_at=now))
                row = {**row, "revoked_at": now}
        return _record(row)

    def revoke_user(self, user: str) -> list[TokenRecord]:
        """Revoke every valid token of ``user``; returns those revoked."""
        user = validate_user_id(user)
        t = tokens_table
        now = time.time()
        with self._ratings.transaction(write=True) as connection:
            rows = connection.execute(sa.select(t).where(t.c.user_id == user, t.c.revoked_at.is_(None))).mappings()
            revoked = [_record({**row, "revoked_at": now}) for row in rows]
            connection.execute(t.update().where(t.c.user_id == user, t.c.revoked_at.is_(None)).values(revoked_at=now))
        return revoked

    def key(self, name: str) -> bytes:
        """A secret made once and kept in the database (every process sharing it reads the same)."""
        k = keys_table
        for _ in range(2):
            with self._ratings.transaction() as connection:
                found = connection.execute(sa.select(k.c.value).where(k.c.name == name)).scalar()
            if found is not None:
                return bytes.fromhex(found)
            try:
                with self._ratings.transaction(write=True) as connection:
                    connection.execute(k.insert().values(name=name, value=secrets.token_hex(32)))
            except sa_exc.IntegrityError:
                pass  # another process made it first: read theirs
        raise AssertionError("not reached")  # the second read finds the key one of us stored


def _record(row) -> TokenRecord:
    return TokenRecord(
        id=row["token_id"],
        user=row["user_id"],
        label=row["label"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )
