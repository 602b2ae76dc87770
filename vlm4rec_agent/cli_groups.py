"""``vlm4rec groups``: the rooms, outfits or baskets a catalog owner imports for the collaborative
part to learn from (a thin face on :meth:`Engine.add_groups` and friends)."""

from __future__ import annotations

import argparse

from . import cli_output as out


def add_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="groups_action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="import a JSONL of groups (replaces a set of the same name)")
    add.add_argument("file", help='one group a line: {"id": "room-1", "items": ["id1", "id2", ...]}')
    add.add_argument("--name", help="the set's name (default: the file's name without .jsonl)")
    add.add_argument("--noun", default="group", help="what one group is, for explanations: room, outfit, basket...")
    add.add_argument("--json", action="store_true", help="print machine-readable JSON")
    listing = actions.add_parser("list", help="the imported group sets")
    listing.add_argument("--json", action="store_true", help="print machine-readable JSON")
    remove = actions.add_parser("remove", help="remove an imported group set")
    remove.add_argument("name")
    remove.add_argument("--json", action="store_true", help="print machine-readable JSON")


def _row(s) -> tuple[str, ...]:
    return (
        s.name,
        s.noun,
        str(s.groups),
        str(s.items),
        out.when(s.added_at),
        s.source,
    )


def run(args: argparse.Namespace, engine) -> int:
    if args.groups_action == "add":
        done = engine.add_groups(args.file, args.name, args.noun)
        s = done.set
        text = f"added {s.groups} {s.noun}s with {s.items} items as {s.name!r}"
        if done.unknown_items:
            text += f"; {done.unknown_items} item references not in the catalog were left out"
        print(out.dumps(done) if args.json else text)
        return 0
    if args.groups_action == "list":
        sets = engine.group_sets()
        text = (
            out.table(["name", "noun", "groups", "items", "added", "from"], [_row(s) for s in sets])
            if sets
            else ("no group sets; add one with `vlm4rec groups add FILE --noun room`")
        )
        print(out.dumps(sets) if args.json else text)
        return 0
    removed = engine.remove_groups(args.name)
    print(out.dumps(removed) if args.json else f"removed {removed.name!r} ({removed.groups} {removed.noun}s)")
    return 0
