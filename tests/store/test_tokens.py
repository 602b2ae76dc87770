"""Bearer tokens and who a remote call acts for, on SQLite and PostgreSQL (issue "Trust")."""

from __future__ import annotations

import pytest

from vlm4rec_agent.access import GUEST_TOKEN_PREFIX, Access, bearer
from vlm4rec_agent.errors import InvalidInputError
from vlm4rec_agent.store import SqlRatingStore
from vlm4rec_agent.store.sql_tokens import SqlTokenStore


@pytest.fixture
def tokens(ratings) -> SqlTokenStore:
    return SqlTokenStore(ratings)


def test_a_token_acts_for_its_shopper_until_revoked_and_only_its_hash_is_kept(tokens, ratings_url, tmp_path):
    issued = tokens.create("alice", "ci-bot")
    other = tokens.create("alice")
    assert issued.token.startswith("v4r_") and len(issued.token) > 40 and issued.token != other.token
    assert tokens.user_for(issued.token) == "alice" and tokens.user_for(issued.token + "x") is None
    assert [r.id for r in tokens.records("alice")] == [issued.record.id, other.record.id]
    if ratings_url.startswith("sqlite"):
        stored = (tmp_path / "ratings.sqlite").read_bytes() + b"".join(
            p.read_bytes() for p in tmp_path.glob("ratings.sqlite-*")
        )
        assert issued.token.encode() not in stored and issued.record.id.encode() in stored
    revoked = tokens.revoke(issued.record.id)
    assert revoked.revoked_at is not None and not revoked.valid
    assert tokens.user_for(issued.token) is None and tokens.user_for(other.token) == "alice"
    assert tokens.revoke(issued.token).revoked_at == revoked.revoked_at  # twice: nothing changes
    assert [r.id for r in tokens.revoke_user("alice")] == [other.record.id]
    assert not tokens.has_tokens("alice") and tokens.user_for(other.token) is None
    with pytest.raises(InvalidInputError, match="no token 'nope'"):
        tokens.revoke("nope")


def test_the_signing_key_is_made_once_and_shared_by_every_store_on_the_database(tokens, ratings_url):
    again = SqlRatingStore.open(ratings_url, "another-catalog")
    try:
        assert SqlTokenStore(again).key("guest-tokens") == tokens.key("guest-tokens")
        assert len(tokens.key("guest-tokens")) == 32 and tokens.key("other") != tokens.key("guest-tokens")
    finally:
        again.close()


def test_with_tokens_required_a_named_shopper_needs_their_token(tokens):
    access = Access(tokens, required=True)
    alice = tokens.create("alice").token

    guest = access.caller("alice", None)
    assert guest.how == "guest" and guest.user.startswith("guest-") and guest.user != "alice"
    assert "not for 'alice'" in guest.note and guest.guest_token in guest.note
    assert access.caller("", f"Bearer {guest.guest_token}").user == guest.user  # the guest goes on
    assert access.caller("alice", f"Bearer {guest.guest_token}").user == guest.user  # never alice
    assert access.caller("", None).how == "none"  # a search naming nobody reads no profile
    assert access.caller("alice", None).user != guest.user  # each caller without a token: its own guest

    assert access.caller("alice", f"Bearer {alice}").model_dump() == {
        "user": "alice",
        "how": "token",
        "note": "",
        "guest_token": "",
    }
    assert access.caller("", f"bearer  {alice} ").user == "alice"
    with pytest.raises(InvalidInputError, match="this token acts for 'alice', not 'bob'"):
        access.caller("bob", f"Bearer {alice}")


def test_forged_revoked_and_malformed_credentials_are_refused(tokens):
    access = Access(tokens, required=True)
    guest = access.caller("x", None)
    suffix, _, signature = guest.guest_token[len(GUEST_TOKEN_PREFIX) :].partition(".")
    forged = f"{GUEST_TOKEN_PREFIX}{'0' * len(suffix)}.{signature}"  # another guest, the same signature
    for credential, message in [
        (f"Bearer {forged}", "not one this app made"),
        (f"Bearer {guest.guest_token[:-2]}", "not one this app made"),
        ("Bearer v4r_made-up", "not valid"),
        ("Basic YWxpY2U6cHc=", "must be 'Bearer TOKEN'"),
        ("Bearer ", "must be 'Bearer TOKEN'"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            access.caller("x", credential)
    token = tokens.create("alice").token
    tokens.revoke(token)
    with pytest.raises(InvalidInputError, match="revoked"):
        access.caller("alice", f"Bearer {token}")
    assert bearer(None) == "" and bearer("  ") == ""


def test_without_tokens_required_a_named_shopper_is_believed_and_tokens_still_bind(tokens):
    access = Access(tokens, required=False)
    assert access.caller("alice", None).model_dump()["user"] == "alice"
    token = tokens.create("bob").token
    assert access.caller("", f"Bearer {token}").user == "bob"
    with pytest.raises(InvalidInputError, match="acts for 'bob'"):
        access.caller("alice", f"Bearer {token}")
    assert access.may_be_named("guest-1234") and access.may_be_named("bob")


def test_with_tokens_required_the_page_cannot_take_a_guest_an_account_or_a_token_holder(tokens):
    access = Access(tokens, required=True)
    tokens.create("bob")
    assert access.may_be_named("ann")
    assert not any(access.may_be_named(name) for name in ("bob", "guest-12345678", "hf:someone"))
