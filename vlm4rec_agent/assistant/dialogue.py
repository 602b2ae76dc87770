"""The offline assistant: a dialogue manager over the shopping tools, with no language model.

Each message is read by :class:`Understanding` (a classifier learned from example messages, and
exact rules for the details) in the conversation's context; the reading is carried out with the
same :class:`ShopTools` that LLM agents and MCP clients use. The :class:`Conversation` keeps what
makes follow-ups work: what put the results on screen (so "in blue" narrows them, whether they
came from a search, a photo or a recommendation), the results shown ("#3", "the last one"), a
question waiting for yes or no, and the rating changes "undo" can take back.

Nothing that forgets ratings happens on one message: "reset my profile" asks first, and "undo"
brings the ratings back. When the reading is unsure between two actions, it asks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..errors import NotFoundError, Vlm4recError
from ..explain import values_match
from ..grounding.schema import CITABLE_FIELDS, GroundingRecord, distinct_colours
from ..grounding.vocabulary import load_vocabulary
from ..rendering import as_markdown, facts_text, names, profile_summary
from ..tools import ShopTools
from ..views import ProfileView, ResultPage, ResultView
from . import answers, slots
from .conversation import Change, Conversation, Source, Turn, shopper_text, stream_text
from .understanding import LAST, SELECTED, Context, Intent, Understanding, understanding_for

SHOWN = 6  # results shown per turn
POOL = 40  # candidates kept behind a result set, for refinements to narrow
MATCH_WORDS = 12  # a photo's attribute words searched for, at most (a VLM may return many)

HELP = (
    "I can search the catalog and learn what you like. Try:\n"
    "- *show me linen summer dresses*, then refine: *in blue*, *not leather*, *cheaper looking*\n"
    "- *I like #3*, *#2 is not for me*, *why this one?*, *more like the second one*\n"
    "- *recommend something*, *remind me what I liked*, *start over*, *reset my profile* (I ask first), *undo*\n"
    "- attach a photo: *find something like this*, *this but in blue*, or *what would go with this?*"
)
RESET_HELP = (
    "*start over* clears the search and the results and keeps your ratings. *reset my profile* forgets "
    "every like and dislike: I ask before doing it, and *undo* brings them back. *undo* also takes back "
    "your last like or dislike."
)
_THANKS = re.compile(r"\b(thanks?|thank you|thx|ta|cheers|appreciated?)\b")
_BYE = re.compile(r"\b(bye|goodbye|see (you|ya)|later|good night|ciao)\b")
_CLEARING_WORDS = re.compile(r"\b(reset|clear|wipe|delete|erase|forget|undo|start over|restart)\b")
HINT = "Say *I like #2*, *more like #1*, *why #3?*, or narrow them: *in blue*, *not leather*."


def _mentions(result: ResultView, term: str) -> bool:
    """Whether a result carries a term, in its grounded attributes or its title."""
    values = [v for f in CITABLE_FIELDS for v in result.attributes.values(f)]
    if any(values_match(value, term) for value in values):
        return True
    return f" {term.lower()} " in f" {result.title.lower()} "


def _understood(page: ResultPage) -> str:
    """What the engine read the query as, and the misspelt words it put right."""
    facts = facts_text(page.understood, as_markdown, separator=" · ") if page.understood else ""
    fixed = ", ".join(f"{as_markdown(w)} → {as_markdown(r)}" for w, r in page.corrections.items())
    parts = [p for p in (facts, f"read {fixed}" if fixed else "") if p]
    return f" ({'; '.join(parts)})" if parts else ""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _profile_line(profile: ProfileView) -> str:
    return f"Your profile: {profile_summary(profile, as_markdown)}"


def _hard_and_soft(include: list[str]) -> tuple[list[str], list[str]]:
    """Split what a refinement asks for into attribute values (a filter) and other words ("cheaper
    looking": an ordering by closeness)."""
    hard = [t for t in include if slots.attribute_terms(t)]
    return hard, [t for t in include if t not in hard]


def _fields(term: str) -> set[str]:
    return {f for f in slots.ATTRIBUTE_FIELDS if load_vocabulary().find(f, term)}


def _narrowed(include: list[str], exclude: list[str], wanted: list[str], avoided: list[str]):
    """What a refinement asks for after the ones before it: a new value of a field replaces the
    old one ("in blue", then "what about red": red, not blue and red), and asking for what was
    avoided (or avoiding what was asked for) takes the earlier word back."""
    replaced = set().union(*(_fields(w) for w in wanted)) if wanted else set()
    kept = [i for i in include if i not in avoided and not (_fields(i) & replaced)]
    include = kept + [w for w in wanted if w not in kept]
    exclude = [e for e in exclude if e not in wanted] + [a for a in avoided if a not in exclude]
    return include, list(dict.fromkeys(exclude))


def _without_replaced(query: str, include: list[str]) -> str:
    """The search's words without the values a refinement replaces: "white bedside lamps" narrowed
    to black searches "bedside lamps black", not for lamps both white and black."""
    replaced = set().union(*(_fields(i) for i in include)) if include else set()
    vocab = load_vocabulary()
    for field in replaced:
        for value in vocab.find(field, query):
            if value not in include:
                query = re.sub(rf"\b{re.escape(value)}\b", " ", query, flags=re.IGNORECASE)
    return " ".join(query.split())


class DialogueManager:
    """The offline assistant (see the module's docstring)."""

    name = "offline"
    description = "the built-in offline dialogue manager (no language model)"

    def __init__(self, tools: ShopTools, understanding: Understanding | None = None):
        self.tools = tools
        self._understanding = understanding

    @property
    def understanding(self) -> Understanding:
        """The message reader, on the catalog's sentence encoder (fitted once per process)."""
        if self._understanding is None:
            engine = self.tools.engine
            self._understanding = understanding_for(engine.encoder, engine.settings.home / "cache" / "intents")
        return self._understanding

    def warm_up(self) -> None:
        """Fit the intent classifier now (the app does it in the background at start)."""
        self.understanding.read("hello")

    def stream(self, conversation: Conversation, message: str, photo: str | None = None) -> Iterator[Turn]:
        yield from stream_text(self.respond(conversation, message, photo))

    # --- entry point -----------------------------------------------------------------------
    def respond(self, conversation: Conversation, message: str, photo: str | None = None) -> Turn:
        try:
            message = shopper_text(message)
        except Vlm4recError as error:
            return Turn(text=f"Sorry, I could not read that: {error}.", intent="unreadable")
        c = conversation
        pending, c.pending = c.pending, None  # a question is answered by the next message, or dropped
        context = Context(
            results=len(c.results),
            source=c.source.kind if c.source else None,
            query=c.query,
            photo=bool(photo),
            pending=pending.kind if pending is not None else None,
        )
        intent = self.understanding.read(message, context)
        turn = self._carry_out(c, intent, photo, pending)
        if intent.then is not None:  # "I like #2, then show me blue ones": the second request after the first
            more = self._carry_out(c, intent.then, None, None)
            results = more.results if more.results is not None else turn.results
            turn = Turn(text=f"{turn.text}\n\n{more.text}", results=results, profile=more.profile or turn.profile)
        if intent.note:
            turn.text = f"({as_markdown(intent.note[0].upper() + intent.note[1:])}.) {turn.text}"
        turn.intent = intent.kind
        return turn

    def _carry_out(self, c: Conversation, intent: Intent, photo: str | None, pending: Intent | None) -> Turn:
        try:
            return self._act(c, intent, photo, pending)
        except NotFoundError as error:
            return Turn(text=f"{error}.")
        except Vlm4recError as error:
            return Turn(text=f"Sorry, I could not do that: {error}.")

    def _act(self, c: Conversation, intent: Intent, photo: str | None, pending: Intent | None) -> Turn:
        if intent.kind == "confirm":
            return self._confirm(c, pending)
        if intent.kind == "cancel":
            return self._cancel(pending)
        if intent.kind.startswith("photo"):
            return getattr(self, f"_{intent.kind}")(c, intent, photo)
        return getattr(self, f"_{intent.kind}")(c, intent)

    # --- results on screen -------------------------------------------------------------------
    def _show(
        self, c: Conversation, lead: str, found: list[ResultView], source: Source, note: str = "", pool=None
    ) -> Turn:
        """Show the first results of ``found``; ``pool`` (default: ``found``) is what a refinement narrows."""
        shown = [r.model_copy(update={"rank": rank}) for rank, r in enumerate(found[:SHOWN], start=1)]
        c.results, c.selected, c.source = shown, None, source
        c.pool = list(found if pool is None else pool)
        if note:
            lead += f"\n{as_markdown(note)}"
        if not shown:
            return Turn(text=lead if note else f"{lead}\nNothing in the catalog matched that.", results=[])
        hint = "" if c.hinted else f"\n\n{HINT}"
        c.hinted = True
        return Turn(text=f"{lead}\n{answers.listing(shown)}{hint}", results=shown)

    def _pick(self, c: Conversation, ref: int) -> tuple[int, ResultView]:
        if not c.results:
            raise NotFoundError("There are no results on screen yet; search first")
        if ref == SELECTED:
            index = c.selected if c.selected is not None else 0
        else:
            index = len(c.results) + ref if ref < 0 else ref
        if not 0 <= index < len(c.results):
            number = f"#{ref + 1}" if ref >= 0 else "such a result"
            raise NotFoundError(f"There is no {number}: I showed {len(c.results)} items")
        return index, c.results[index]

    # --- searching and narrowing ---------------------------------------------------------------
    def _search(self, c: Conversation, intent: Intent) -> Turn:
        if not intent.query:
            return Turn(text="What are you looking for? " + HELP.split("\n", 1)[1])
        c.query, c.include, c.exclude = intent.query, [], list(intent.exclude)
        page = self.tools.search_catalog(intent.query, k=POOL if c.exclude else SHOWN, user_id=c.user_id)
        kept = [r for r in page.results if not any(_mentions(r, term) for term in c.exclude)]
        avoiding = f", avoiding {as_markdown(', '.join(c.exclude))}" if c.exclude else ""
        lead = f"Searching for “{as_markdown(c.query)}”{_understood(page)}{avoiding}."
        return self._show(c, lead, kept, Source("search", c.query), page.note)

    def _refine(self, c: Conversation, intent: Intent) -> Turn:
        c.include, c.exclude = _narrowed(c.include, c.exclude, intent.include, intent.exclude)
        asked = ", ".join(c.include)
        avoiding = f"avoiding {', '.join(c.exclude)}" if c.exclude else ""
        words = as_markdown(", ".join(p for p in (f"to {asked}" if asked else "", avoiding) if p))
        source = c.source or (Source("search", c.query) if c.query else Source("shown"))
        hard, soft = _hard_and_soft(c.include)
        if source.kind == "search":
            # a text search is narrowed by searching again with the words added: the engine reads
            # "summer dresses blue" as dresses of that colour, from the whole catalog
            c.query = _without_replaced(c.query, c.include) or c.query
            page = self.tools.search_catalog(" ".join([c.query, *c.include]), k=POOL, user_id=c.user_id)
            pool, lead, note = page.results, f"Narrowing “{as_markdown(c.query)}” {words}.", page.note
        else:
            pool, lead, note = c.pool or c.results, f"Narrowing {self._what(source)} {words}.", ""
        kept = [r for r in pool if not any(_mentions(r, term) for term in c.exclude)]
        matching = [r for r in kept if all(_mentions(r, t) for t in hard)]
        if hard and not matching and kept:
            lead += f"\nNone of them is {as_markdown(' and '.join(hard))}; these are the closest."
            matching = kept
        elif hard and source.kind == "search" and any(r.fits is False for r in matching[:SHOWN]):
            # the engine's note counted the type before the filter: say how many are left after it
            fit = sum(r.fits is not False for r in matching)
            kind = page.understood.category if page.understood else ""
            note = f"Only {fit} {kind or 'matching'} item{'s' * (fit != 1)} {'is' if fit == 1 else 'are'} {' and '.join(hard)}; the others shown are other types."
        if soft and source.kind != "search" and matching:
            close = self.tools.engine.closeness(" ".join(soft), [r.id for r in matching])
            matching = sorted(matching, key=lambda r: -close.get(r.id, -1.0))
        c.source = source
        return self._show(c, lead, matching, source, note, pool=pool if source.kind != "search" else None)

    @staticmethod
    def _what(source: Source) -> str:
        return {
            "photo": "the items like your photo",
            "recommend": "your recommendations",
            "similar": "the similar items",
        }.get(source.kind, "these results")

    def _recommend(self, c: Conversation, intent: Intent) -> Turn:
        profile = self.tools.show_profile(c.user_id)
        if not profile.liked:
            return Turn(
                text="You have not liked anything yet. Search, then tell me what you like (*I like #2*) "
                "and I will recommend from that."
            )
        found = self.tools.recommend_for_user(c.user_id, k=POOL).results
        c.query, c.include, c.exclude = "", [], []
        count = len(profile.liked)
        lead = f"Recommended for you, from {count} liked item{'s' if count > 1 else ''}."
        return self._show(c, lead, found, Source("recommend", c.user_id))

    def _similar(self, c: Conversation, intent: Intent) -> Turn:
        index, result = self._pick(c, intent.refs[0])
        found = self.tools.similar_items(item_id=result.id, k=POOL).results
        c.query, c.include, c.exclude = "", [], []
        return self._show(c, f"More like #{index + 1} *{answers.name(result)}*.", found, Source("similar", result.id))

    # --- ratings and their undo ------------------------------------------------------------------
    def _rate(self, c: Conversation, intent: Intent, like: bool) -> Turn:
        picked = [self._pick(c, ref) for ref in intent.refs]  # every reference is checked before any rating
        rated = " and ".join(f"#{i + 1} *{answers.name(r)}*" for i, r in picked)
        undone = f"{rated} {'is' if len(picked) == 1 else 'are'} no longer {'liked' if like else 'disliked'}"
        change = Change.of(self.tools.show_profile(c.user_id), undone, [r.id for _, r in picked])
        profile = None
        for _, result in picked:
            profile = (self.tools.like_item if like else self.tools.dislike_item)(c.user_id, result.id)
        c.changes.append(change)
        verb = "Liked" if like else "Noted that you dislike"
        tail = " Say *recommend* for picks based on your likes." if like else " Similar items will rank lower."
        return Turn(text=f"{verb} {rated}. {_profile_line(profile)}{tail}", profile=profile)

    def _like(self, c: Conversation, intent: Intent) -> Turn:
        return self._rate(c, intent, like=True)

    def _dislike(self, c: Conversation, intent: Intent) -> Turn:
        return self._rate(c, intent, like=False)

    def _undo(self, c: Conversation, intent: Intent) -> Turn:
        if not c.changes:
            return Turn(text="There is nothing to undo: you have not changed your ratings in this conversation.")
        change = c.changes.pop()
        engine = self.tools.engine
        for item_id, value in change.before:
            try:
                {1: engine.like, -1: engine.dislike, 0: engine.forget}[value](c.user_id, item_id)
            except NotFoundError:
                pass  # an item removed from the catalog since cannot be rated again
        profile = self.tools.show_profile(c.user_id)
        return Turn(text=f"Undone: {change.undone}. {_profile_line(profile)}", profile=profile)

    def _reset_profile(self, c: Conversation, intent: Intent) -> Turn:
        profile = self.tools.show_profile(c.user_id)
        if profile.is_empty:
            return Turn(text="Your profile is already empty: there are no ratings to forget.", profile=profile)
        c.pending = intent
        counts = [_count(len(profile.liked), "like"), _count(len(profile.disliked), "dislike")]
        count = " and ".join(c for c in counts if not c.startswith("0 "))
        return Turn(
            text=f"That forgets your {count}. Reset your profile? Say *yes* to reset it, or *no* to keep it "
            "(and *undo* brings them back afterwards)."
        )

    def _forget_profile(self, c: Conversation) -> Turn:
        profile = self.tools.show_profile(c.user_id)
        n = len(profile.liked) + len(profile.disliked)
        change = Change.of(profile, f"your {_count(n, 'rating')} {'is' if n == 1 else 'are'} back")
        removed = self.tools.reset_profile(c.user_id).removed
        c.changes.append(change)
        return Turn(
            text=f"Your profile is reset: {_count(removed, 'rating')} forgotten. Say *undo* to bring them back.",
            profile=self.tools.show_profile(c.user_id),
        )

    # --- questions and answers to them -----------------------------------------------------------
    def _confirm(self, c: Conversation, pending: Intent | None) -> Turn:
        if pending is None:
            return Turn(text="There is nothing waiting for a yes. " + HELP)
        if pending.kind == "reset_profile":
            return self._forget_profile(c)
        return self._act(c, pending, None, None)

    @staticmethod
    def _cancel(pending: Intent | None) -> Turn:
        if pending is not None and pending.kind == "reset_profile":
            return Turn(text="All right: your profile is kept as it is.")
        return Turn(text="All right: nothing is changed.")

    def _clarify(self, c: Conversation, intent: Intent) -> Turn:
        first, second = intent.readings
        c.pending = first
        return Turn(
            text=f"I am not sure what you mean: shall I {answers.reading(first)}, or {answers.reading(second)}? "
            "Say *yes* for the first, or say it in other words."
        )

    def _why(self, c: Conversation, intent: Intent) -> Turn:
        picked = [self._pick(c, ref) for ref in intent.refs[:3]]  # "why are 1 and 2 here?": each, once
        liked = bool(self.tools.show_profile(c.user_id).liked)
        parts = []
        for index, result in dict((r.id, (i, r)) for i, r in picked).values():
            against = self.tools.explain_item(c.user_id, result.id).explanation if liked else ""
            parts.append(answers.why(index, result, against))
        return Turn(text="\n\n".join(parts))

    # --- photos ------------------------------------------------------------------------------
    @staticmethod
    def _looks(record: GroundingRecord) -> str:
        a = record.attributes
        looks = " and ".join(distinct_colours(a.colors)) + " " + (a.category or "item")
        by = (
            "the basic offline grounder (no VLM)"
            if record.grounder == "basic"
            else f"{record.grounder} ({record.model_id})"
        )
        if record.evidence.get("learned", {}).get("abstained"):
            return (
                "Your photo does not look like anything in this catalog, so I will not guess what it shows; "
                "the closest pictures I have are below"
            )
        if isinstance(record.evidence.get("learned"), dict) and record.evidence["learned"]:
            by = "the basic offline grounder, taught by this catalog's photos (no VLM)"
        return f"Your photo looks like a {as_markdown(looks)}, as described by {as_markdown(by)}"

    @staticmethod
    def _no_photo() -> Turn:
        return Turn(
            text="Attach a photo (the 📎 button) and say it again, or tell me in words what you are looking for."
        )

    def _photo_similar(self, c: Conversation, intent: Intent, photo: str | None) -> Turn:
        if photo is None:
            return self._no_photo()
        page = self.tools.similar_items(image=photo, k=POOL)  # grounds the photo once, and says how
        c.query, c.include, c.exclude = "", [], []
        lead = (self._looks(page.photo) if page.photo is not None else "Your photo") + ". Items like it:"
        source = Source("photo", photo)
        if not (intent.include or intent.exclude):
            return self._show(c, lead, page.results, source)
        c.source, c.pool = source, page.results  # the photo's items are the set the words narrow
        turn = self._refine(c, Intent("refine", include=intent.include, exclude=intent.exclude))
        turn.text = f"{lead.removesuffix(' Items like it:')}.\n{turn.text}"
        return turn

    def _photo_complement(self, c: Conversation, intent: Intent, photo: str | None) -> Turn:
        if photo is None:
            return self._no_photo()
        record = self.tools.describe_image(photo)
        seen, a = self._looks(record), record.attributes
        words = [*a.style, *distinct_colours(a.colors), *a.occasion, *a.season][:MATCH_WORDS]
        if not words:
            return Turn(text=f"{seen}, but I could not read a style, colour or occasion to match.")
        found = self.tools.search_catalog(" ".join(words), k=POOL, user_id=c.user_id).results
        others = [r for r in found if not a.category or not values_match(r.attributes.category or "", a.category)]
        c.query, c.include, c.exclude = "", [], []
        lead = f"{seen}. Things in other categories that share its {as_markdown(', '.join(dict.fromkeys(words)))}:"
        return self._show(c, lead, others, Source("photo", photo))

    # --- profile and the rest ------------------------------------------------------------------
    def _profile(self, c: Conversation, intent: Intent) -> Turn:
        profile = self.tools.show_profile(c.user_id)
        if profile.is_empty:
            return Turn(text="Your profile is empty: tell me what you like (*I like #2*).", profile=profile)
        liked = names(profile.liked, as_markdown) or "nothing"
        disliked = f" You disliked: {names(profile.disliked, as_markdown)}." if profile.disliked else ""
        return Turn(text=f"You liked: {liked}.{disliked} {_profile_line(profile)}", profile=profile)

    def _reset(self, c: Conversation, intent: Intent) -> Turn:
        c.clear()
        profile = self.tools.show_profile(c.user_id)
        kept = len(profile.liked) + len(profile.disliked)
        note = (
            f" Your {_count(kept, 'rating')} {'is' if kept == 1 else 'are'} kept; say *reset my profile* to forget them."
            if kept
            else ""
        )
        return Turn(text=f"Starting over: search, filters and results cleared.{note}", results=[])

    def _greet(self, c: Conversation, intent: Intent) -> Turn:
        if _THANKS.search(intent.text):
            return Turn(text="You are welcome! Tell me whenever you want to look for something else.")
        if _BYE.search(intent.text):
            return Turn(text="Goodbye! Your likes are kept for next time.")
        return Turn(text="Hello! " + HELP)

    def _help(self, c: Conversation, intent: Intent) -> Turn:
        if intent.note or _CLEARING_WORDS.search(intent.text):
            return Turn(text=RESET_HELP)
        return Turn(text=HELP)


__all__ = ["LAST", "SELECTED", "DialogueManager"]
