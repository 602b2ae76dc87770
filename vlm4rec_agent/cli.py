"""The ``vlm4rec`` command line: a thin face on :class:`vlm4rec_agent.engine.Engine`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from . import __version__
from . import cli_output as out
from .catalogs import Columns
from .command_errors import run_reporting_errors
from .engine import Engine
from .errors import InvalidInputError
from .rendering import profile_counts
from .retrieval import MAX_K
from .settings import Settings, documented_settings
from .store import Filters
from .terminal_text import printable
from .views import ResetDone, ResultPage, result_views

log = logging.getLogger("vlm4rec_agent")

# Settings a flag can override, as (flag, settings field, help).
_SETTING_FLAGS = (
    ("--home", "home", "folder of the embedded store (VLM4REC_HOME)"),
    ("--collection", "collection", "catalog name inside the store (VLM4REC_COLLECTION)"),
    ("--grounder", "grounder", "grounder to describe images with, built in or a plugin's (VLM4REC_GROUNDER)"),
    ("--model", "vlm_model", "the VLM for the transformers or openai grounder (VLM4REC_VLM_MODEL)"),
    ("--encoder", "encoder", "text encoder: a plugin's name, or a model id or path (VLM4REC_ENCODER)"),
    ("--chroma-host", "chroma_host", "Chroma server host (VLM4REC_CHROMA_HOST)"),
    ("--chroma-port", "chroma_port", "Chroma server port (VLM4REC_CHROMA_PORT)"),
)


def _common(default) -> argparse.ArgumentParser:
    """Options accepted before or after the command (``default`` is SUPPRESS on subcommands)."""
    parser = argparse.ArgumentParser(add_help=False)
    for flag, field, text in _SETTING_FLAGS:
        parser.add_argument(flag, dest=field, default=default, help=text, metavar=field.split("_")[-1].upper())
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help="log progress and details")
    return parser


def _user(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("--user", "-u", required=required, help="shopper's user id")


def _k(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--k", "-k", type=int, default=10, help=f"how many results, 1-{MAX_K} (default 10)")


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--category", help="only items of this grounded category, e.g. lamp")
    parser.add_argument(
        "--color",
        "--colour",
        dest="colors",
        action="append",
        default=[],
        help="only items with this colour (repeatable)",
    )


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def build_parser() -> argparse.ArgumentParser:
    common = _common(argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="vlm4rec",
        description="Ground product photos into attributes, then search and recommend with explanations.",
        parents=[_common(None)],
    )
    parser.add_argument("--version", action="version", version=f"vlm4rec-agent {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text, parents=[common])

    p = command("ingest", "add a catalog (JSONL, CSV or a folder of images) to the store")
    p.add_argument("source", help="catalog file or image folder; image paths are relative to the file")
    p.add_argument("--limit", type=int, help="ingest only the first N items")
    p.add_argument("--id-column", help="column holding the item id (default: id, item_id, sku...)")
    p.add_argument("--image-column", help="column holding the image path (default: image, image_path...)")
    p.add_argument("--title-column", help="column holding the title (default: title or name, plus type)")
    p.add_argument(
        "--text-columns",
        help="comma-separated columns that describe the item (default: title, name, type, description...)",
    )
    p.add_argument(
        "--image-root",
        metavar="DIR",
        help="folder the catalog's photos may be in (default: the catalog's own folder; paths leading "
        "elsewhere are refused)",
    )
    p.add_argument(
        "--prune",
        action="store_true",
        help="also remove the items that came from this catalog file and are gone from it (their likes are kept)",
    )
    p.add_argument(
        "--replace",
        action="store_true",
        help="let this file's rows replace stored items of the same id that came from another catalog file "
        "(by default those rows are skipped and named, and the stored items kept)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _json(p)

    p = command("search", "find items matching a description in words")
    p.add_argument("query", help='what you are looking for, e.g. "white minimalist bedside lamp"')
    _k(p), _user(p, required=False), _filters(p), _json(p)

    p = command("recommend", "recommend items for a user from their likes and dislikes")
    _user(p), _k(p), _filters(p), _json(p)

    p = command("similar", "items similar to a stored item or to a photo")
    p.add_argument("item_id", nargs="?", help="id of a stored item")
    p.add_argument("--image", help="a photo to find similar items for (instead of an item id)")
    p.add_argument(
        "--scene",
        action="store_true",
        help="the photo shows a whole room or outfit: find the things in it (shop the look)",
    )
    _k(p), _filters(p), _json(p)

    for name, text in (("like", "record that a user likes items"), ("dislike", "record that a user dislikes items"),
                       ("forget", "remove a user's like or dislike of items")):  # fmt: skip
        p = command(name, text)
        p.add_argument("item_ids", nargs="+", metavar="ITEM_ID")
        _user(p), _json(p)

    p = command("profile", "show what a user liked and disliked, and what those items have in common")
    _user(p), _json(p)
    p = command("reset", "forget every rating of a user")
    _user(p), _json(p)

    p = command("explain", "explain how an item relates to what a user liked")
    p.add_argument("item_id")
    _user(p), _json(p)

    p = command("show", "show one stored item with its grounded attributes")
    p.add_argument("item_id")
    _json(p)

    p = command("describe", "ground photos into attributes (nothing is stored)")
    p.add_argument("images", nargs="+", metavar="PHOTO", help="path of a photo; several are grounded in batches")
    p.add_argument("--text", help="the item's own text, if any (title, type, description); one photo only")
    _json(p)

    p = command("learn", "learn attribute heads from the catalog's photos and text now (ingest does it when due)")
    p.add_argument("--status", action="store_true", help="only say which heads there are, learning nothing")
    _json(p)

    p = command("stats", "how many items and users the store holds")
    _json(p)
    p = command("settings", "the settings in effect and the environment variables behind them")
    _json(p)
    p = command("groups", "rooms, outfits or baskets that go together, for recommendations to learn from")
    from .cli_groups import add_arguments as add_groups_arguments

    add_groups_arguments(p)
    p = command("token", "bearer tokens that let an HTTP or MCP caller act for a named shopper")
    from .cli_tokens import add_arguments as add_token_arguments

    add_token_arguments(p)
    p = command("eval", "measure a representation and scorer offline (hold-out, shop-the-look, comparisons)")
    from .cli_eval import add_arguments as add_eval_arguments

    add_eval_arguments(p)
    p = command("chat", "talk to the shopping assistant in the terminal: one message per line on standard input")
    from .cli_chat import add_arguments as add_chat_arguments

    add_chat_arguments(p)
    p = command("serve", "start the shopping assistant app (the same as `python app.py`)")
    from .app.options import add_arguments

    add_arguments(p)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {
        field: getattr(args, field) for _, field, _ in _SETTING_FLAGS if getattr(args, field, None) is not None
    }
    return Settings(**overrides)


def _filters_from(args: argparse.Namespace) -> Filters | None:
    return Filters.of(getattr(args, "category", None), getattr(args, "colors", []))


def _emit(args: argparse.Namespace, data: object, text: str) -> None:
    """JSON for programs (which escapes control characters), or text for a terminal with none in it:
    a store written before catalog text was cleaned may still hold escapes."""
    print(out.dumps(data) if getattr(args, "json", False) else printable(text, keep_lines=True))


def _results(args, results) -> int:
    views = result_views(results)
    _emit(args, views, out.results_text(views))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.command == "settings":
        settings = _settings(args)
        values = settings.model_dump(mode="json")
        rows = [(env, str(values[env[len("VLM4REC_") :].lower()]), doc) for env, _, doc in documented_settings()]
        _emit(args, {env: value for env, value, _ in rows}, out.table(["variable", "value", "meaning"], rows))
        return 0
    if args.command == "serve":
        from .app.launch import serve
        from .app.options import settings_from

        serve(settings_from(args, _settings(args)), limit=args.limit)
        return 0
    with Engine(_settings(args)) as engine:
        return _run_command(args, engine)


def _run_command(args: argparse.Namespace, engine: Engine) -> int:
    cmd = args.command
    if cmd == "eval":
        from .cli_eval import run as run_eval

        return run_eval(args, engine)
    if cmd == "chat":
        from .cli_chat import run as run_chat

        return run_chat(args, engine)
    if cmd == "groups":
        from .cli_groups import run as run_groups

        return run_groups(args, engine)
    if cmd == "token":
        from .cli_tokens import run as run_tokens

        return run_tokens(args, engine)
    if cmd == "ingest":
        columns = Columns(
            id=args.id_column,
            image=args.image_column,
            title=args.title_column,
            text=[c.strip() for c in args.text_columns.split(",") if c.strip()] if args.text_columns else None,
            image_root=args.image_root,
        )
        progress = not args.no_progress and not args.json and sys.stderr.isatty()
        report = engine.ingest(
            args.source, columns=columns, limit=args.limit, progress=progress, prune=args.prune, replace=args.replace
        )
        _emit(args, out.ingest_data(report), out.ingest_text(report))
        return 1 if report.skipped and not report.stored and not report.unchanged else 0
    if cmd == "search":
        answer = engine.search_answer(args.query, k=args.k, user=args.user, filters=_filters_from(args))
        page = ResultPage.of_search(answer, args.query, args.user or "")
        _emit(args, page, out.search_text(page))
        return 0
    if cmd == "recommend":
        return _results(args, engine.recommend(args.user, k=args.k, filters=_filters_from(args)))
    if cmd == "similar":
        return _results(
            args, engine.similar(args.item_id, args.image, k=args.k, filters=_filters_from(args), scene=args.scene)
        )
    if cmd in ("like", "dislike", "forget"):
        action: Callable = getattr(engine, cmd)
        for item_id in args.item_ids:
            view = action(args.user, item_id)
        _emit(args, view, f"{view.user}: {profile_counts(view)}")
        return 0
    if cmd == "profile":
        view = engine.profile(args.user)
        _emit(args, view, out.profile_text(view))
        return 0
    if cmd == "reset":
        removed = engine.reset(args.user)
        _emit(args, ResetDone(user=args.user, removed=removed), f"forgot {removed} ratings of {args.user}")
        return 0
    if cmd == "explain":
        result = engine.explain(args.user, args.item_id)
        _emit(args, result_views([result])[0], f"{result.item.id}  {result.item.label}\n{result.explanation.text}")
        return 0
    if cmd == "show":
        item = engine.get_item(args.item_id)
        _emit(args, out.item_data(item), out.item_text(item))
        return 0
    if cmd == "describe":
        return _describe(args, engine)
    if cmd == "learn":
        heads = engine.heads.current() if args.status else engine.learn()
        data = out.heads_data(heads)
        _emit(args, data, data["summary"])
        return 0
    if cmd == "stats":
        stats = engine.stats()
        _emit(args, stats, out.stats_text(stats))
        return 0
    raise AssertionError(f"unhandled command {cmd}")


def _describe(args: argparse.Namespace, engine: Engine) -> int:
    """One photo: its record, as it always was. Several: a JSON list in the order given, or each
    record headed by its photo's path; nothing is printed unless every photo was grounded."""
    if args.text is not None and len(args.images) > 1:
        raise InvalidInputError(
            f"--text describes one photo, and {len(args.images)} were given", "describe that photo on its own"
        )
    records = engine.describe_many(args.images, [args.text] * len(args.images))
    if len(records) == 1:
        _emit(args, records[0], out.record_text(records[0]))
    else:
        _emit(args, records, "\n\n".join(f"{path}\n{out.record_text(r)}" for path, r in zip(args.images, records)))
    return 0


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if verbose:  # our own step-by-step lines too (an ingest's batches), without the libraries' debug output
        logging.getLogger("vlm4rec_agent").setLevel(logging.DEBUG)
    else:
        for noisy in ("chromadb", "sentence_transformers", "transformers", "httpx"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(bool(args.verbose))
    return run_reporting_errors(lambda: run(args), verbose=bool(args.verbose))


if __name__ == "__main__":
    sys.exit(main())
