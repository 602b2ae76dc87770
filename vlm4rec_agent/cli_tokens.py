"""``vlm4rec token``: the bearer tokens that let an HTTP or MCP caller act for one named shopper
(a thin face on :class:`~vlm4rec_agent.store.sql_tokens.SqlTokenStore`; the rule is in
:mod:`vlm4rec_agent.access`)."""

from __future__ import annotations

import argparse

from . import cli_output as out
from .errors import InvalidInputError
from .store.sql_tokens import SqlTokenStore, TokenRecord


def add_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="token_action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="make a token acting for one shopper (shown once; keep it secret)")
    create.add_argument("--user", required=True, help="the shopper the token acts for")
    create.add_argument("--label", default="", help="what the token is for, to recognise it in the list (e.g. ci-bot)")
    create.add_argument("--json", action="store_true", help="print machine-readable JSON")
    revoke = actions.add_parser("revoke", help="revoke a token (by the token or its id), or every token of a shopper")
    revoke.add_argument("token", nargs="?", help="the token itself, or its id from `vlm4rec token list`")
    revoke.add_argument("--user", help="revoke every token of this shopper")
    revoke.add_argument("--json", action="store_true", help="print machine-readable JSON")
    listing = actions.add_parser("list", help="the tokens made (never the tokens themselves), revoked ones too")
    listing.add_argument("--user", help="only this shopper's tokens")
    listing.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _row(record: TokenRecord) -> tuple[str, ...]:
    state = "valid" if record.valid else f"revoked {out.when(record.revoked_at)}"
    return record.id, record.user, record.label, out.when(record.created_at), state


def run(args: argparse.Namespace, engine) -> int:
    tokens = SqlTokenStore(engine.ratings)
    if args.token_action == "create":
        issued = tokens.create(args.user, args.label)
        text = (
            f"{issued.token}\n"
            f"acts for {issued.record.user!r} (id {issued.record.id}); it is shown only now. Callers send it as "
            "'Authorization: Bearer TOKEN'; revoke it with `vlm4rec token revoke ID`."
        )
        print(out.dumps(issued) if args.json else text)
        return 0
    if args.token_action == "revoke":
        if bool(args.token) == bool(args.user):
            raise InvalidInputError(
                "give either a token (or its id) or --user", "e.g. `vlm4rec token revoke 3f2a9c1b0d4e`"
            )
        revoked = [tokens.revoke(args.token)] if args.token else tokens.revoke_user(args.user)
        text = "\n".join(f"revoked {r.id} ({r.user})" for r in revoked) or f"{args.user!r} had no valid tokens"
        print(out.dumps(revoked) if args.json else text)
        return 0
    records = tokens.records(args.user)
    text = (
        out.table(["id", "user", "label", "created", "state"], [_row(r) for r in records], flexible=2)
        if records
        else "no tokens; make one with `vlm4rec token create --user NAME`"
    )
    print(out.dumps(records) if args.json else text)
    return 0
