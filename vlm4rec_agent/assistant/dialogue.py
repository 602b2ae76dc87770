"""The offline assistant: a deterministic dialogue manager over the shopping tools.

It needs no language model. Each message is read by :func:`understand`; the intent is carried
out with the same :class:`ShopTools` that LLM agents and MCP clients use; the reply says what
was understood, then shows the results. The :class:`Conversation` keeps the context that makes
follow-ups work: the current search, its refinements ("in blue") and exclusions ("not leather"),
the results on screen (so "#3" and "the second one" mean something), and the selected result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..errors import NotFoundError, Vlm4recError
from ..explain import values_match
from ..grounding.schema import LIST_FIELDS, GroundingRecord, distinct_colours
from ..grounding.vocabulary import load_vocabulary
from ..rendering import as_markdown, facts_text, names, profile_summary
from ..tools import ShopTools
from ..views import ProfileView, ResultPage, ResultView
from .conversation import Conversation, Turn, shopper_text, stream_text
from .understanding import LAST, SELECTED, Intent, understand

SHOWN = 6  # results shown per turn
POOL = 40  # candidates fetched when refinements must be filtered
MATCH_WORDS = 12  # a photo's attribute words searched for, at most (a VLM may return many)


HELP = (
    "I can search the catalog and learn what you like. Try:\n"
    "- *show me linen summer dresses*, then refine: *in blue*, *not leather*\n"
    "- *I like #3*, *I don't like the first one*, *why this one?*, *more like the second one*\n"
    "- *recommend something*, *show my profile*, *start over*, *reset my profile*\n"
    "- attach a photo: *find something like this* or *what would go with this?*"
)


def _attribute_values(result: ResultView) -> list[str]:
    attributes = result.attributes
    values = [attributes.category or ""]
    for field_name in LIST_FIELDS:
        values += getattr(attributes, field_name)
    return [v for v in values if v]


def _mentions(result: ResultView, term: str) -> bool:
    """Whether a result carries a term, in its grounded attributes or its title."""
    if any(values_match(value, term) for value in _attribute_values(result)):
        return True
    return f" {term.lower()} " in f" {result.title.lower()} "


def _terms(text: str) -> list[str]:
    """The attribute values a refinement names ("blue linen" -> blue, linen), else the text itself."""
    vocab = load_vocabulary()
    found = [v for f in ("colors", "materials", "pattern", "style", "season", "occasion") for v in vocab.find(f, text)]
    return found or [text]


def _understood(page: ResultPage) -> str:
    """What the engine read the query as, and the misspelt words it put right."""
    facts = facts_text(page.understood, as_markdown, separator=" · ") if page.understood else ""
    fixed = ", ".join(f"{as_markdown(w)} → {as_markdown(r)}" for w, r in page.corrections.items())
    parts = [p for p in (facts, f"read {fixed}" if fixed else "") if p]
    return f" ({'; '.join(parts)})" if parts else ""


def _name(item: ResultView) -> str:
    """An item's title (or id) as plain text: catalog text is data, never Markdown to render."""
    return as_markdown(item.label)


def _listing(results: list[ResultView]) -> str:
    lines = [f"{i}. **{_name(r)}** — {as_markdown(r.explanation)}" for i, r in enumerate(results, start=1)]
    return "\n".join(lines)


def _profile_line(profile: ProfileView) -> str:
    return f"Your profile: {profile_summary(profile, as_markdown)}"


class DialogueManager:
    """The offline assistant (see the module's docstring)."""

    name = "offline"
    description = "the built-in offline dialogue manager (no language model)"

    def __init__(self, tools: ShopTools):
        self.tools = tools

    def stream(self, conversation: Conversation, message: str, photo: str | None = None) -> Iterator[Turn]:
        yield from stream_text(self.respond(conversation, message, photo))

    # --- entry point -----------------------------------------------------------------------
    def respond(self, conversation: Conversation, message: str, photo: str | None = None) -> Turn:
        try:
            message = shopper_text(message)
        except Vlm4recError as error:
            return Turn(text=f"Sorry, I could not read that: {error}.", intent="unreadable")
        intent = understand(
            message, bool(conversation.results), bool(conversation.query or conversation.include), bool(photo)
        )
        try:
            turn = self._act(conversation, intent, photo)
        except NotFoundError as error:
            turn = Turn(text=f"{error}.", intent=intent.kind)
        except Vlm4recError as error:
            turn = Turn(text=f"Sorry, I could not do that: {error}.", intent=intent.kind)
        turn.intent = intent.kind
        return turn

    def _act(self, c: Conversation, intent: Intent, photo: str | None) -> Turn:
        handler = getattr(self, f"_{intent.kind}")
        return handler(c, intent, photo) if intent.kind.startswith("photo") else handler(c, intent)

    # --- searching ---------------------------------------------------------------------------
    def _show(self, c: Conversation, lead: str, results: list[ResultView], note: str = "") -> Turn:
        results = [r.model_copy(update={"rank": rank}) for rank, r in enumerate(results, start=1)]
        c.results, c.selected = results, None
        if not results:
            return Turn(
                text=f"{lead}\n{as_markdown(note) if note else 'Nothing in the catalog matched that.'}", results=[]
            )
        if note:
            lead += f"\n{as_markdown(note)}"
        hint = "Say *I like #2*, *more like #1*, *why #3?*, or refine: *in blue*, *not leather*."
        return Turn(text=f"{lead}\n{_listing(results)}\n\n{hint}", results=results)

    def _run_search(self, c: Conversation, lead: str | Callable[[ResultPage], str]) -> Turn:
        """Search for the conversation's query and refinements; ``lead`` may be made from the page."""
        text = " ".join([c.query, *c.include]).strip()
        if not text:
            return Turn(text="What are you looking for? " + HELP.split("\n", 1)[1])
        filtered = bool(c.include or c.exclude)
        page = self.tools.search_catalog(text, k=POOL if filtered else SHOWN, user_id=c.user_id)
        found = page.results
        if callable(lead):
            lead = lead(page)
        kept = [r for r in found if not any(_mentions(r, term) for term in c.exclude)]
        wanted = [t for phrase in c.include for t in _terms(phrase)]
        matching = [r for r in kept if all(_mentions(r, t) for t in wanted)]
        if wanted and not matching and kept:
            lead += f"\nNothing is {' and '.join(wanted)} exactly; these are the closest."
            matching = kept
        return self._show(c, lead, matching[:SHOWN], page.note)

    def _search(self, c: Conversation, intent: Intent) -> Turn:
        c.query, c.include, c.exclude = intent.query, [], list(intent.exclude)
        avoiding = f", avoiding {', '.join(c.exclude)}" if c.exclude else ""
        return self._run_search(c, lambda page: f"Searching for “{c.query}”{_understood(page)}{avoiding}.")

    def _refine(self, c: Conversation, intent: Intent) -> Turn:
        c.include += [i for i in intent.include if i not in c.include]
        c.exclude += [e for e in intent.exclude if e not in c.exclude]
        parts = [f"“{c.query}”" if c.query else "the catalog"]
        if c.include:
            parts.append(f"in {', '.join(c.include)}")
        if c.exclude:
            parts.append(f"avoiding {', '.join(c.exclude)}")
        return self._run_search(c, f"Narrowing {' '.join(parts)}.")

    def _recommend(self, c: Conversation, intent: Intent) -> Turn:
        profile = self.tools.show_profile(c.user_id)
        if not profile.liked:
            return Turn(
                text="You have not liked anything yet. Search, then tell me what you like (*I like #2*) "
                "and I will recommend from that."
            )
        found = self.tools.recommend_for_user(c.user_id, k=SHOWN).results
        count = len(profile.liked)
        return self._show(c, f"Recommended for you, from {count} liked item{'s' if count > 1 else ''}.", found)

    # --- results on screen -------------------------------------------------------------------
    def _pick(self, c: Conversation, ref: int) -> tuple[int, ResultView]:
        if not c.results:
            raise NotFoundError("There are no results on screen yet; search first")
        index = {LAST: len(c.results) - 1, SELECTED: c.selected if c.selected is not None else 0}.get(ref, ref)
        if not 0 <= index < len(c.results):
            raise NotFoundError(f"There is no #{index + 1}: I showed {len(c.results)} items")
        return index, c.results[index]

    def _rate(self, c: Conversation, intent: Intent, like: bool) -> Turn:
        rated, profile = [], None
        for ref in intent.refs:
            index, result = self._pick(c, ref)
            call = self.tools.like_item if like else self.tools.dislike_item
            profile = call(c.user_id, result.id)
            rated.append(f"#{index + 1} *{_name(result)}*")
        verb = "Liked" if like else "Noted that you dislike"
        tail = " Say *recommend* for picks based on your likes." if like else " Similar items will rank lower."
        return Turn(text=f"{verb} {' and '.join(rated)}. {_profile_line(profile)}{tail}", profile=profile)

    def _like(self, c: Conversation, intent: Intent) -> Turn:
        return self._rate(c, intent, like=True)

    def _dislike(self, c: Conversation, intent: Intent) -> Turn:
        return self._rate(c, intent, like=False)

    def _why(self, c: Conversation, intent: Intent) -> Turn:
        index, result = self._pick(c, intent.refs[0])
        lines = [f"#{index + 1} *{_name(result)}*: {as_markdown(result.explanation)}"]
        profile = self.tools.show_profile(c.user_id)
        if profile.liked:
            why = self.tools.explain_item(c.user_id, result.id).explanation
            lines.append("Against your likes: " + as_markdown(why))
        described = facts_text(result.attributes, as_markdown)
        if described:
            lines.append(f"Its grounded attributes: {described}.")
        return Turn(text="\n".join(lines))

    def _similar(self, c: Conversation, intent: Intent) -> Turn:
        index, result = self._pick(c, intent.refs[0])
        found = self.tools.similar_items(item_id=result.id, k=SHOWN).results
        c.query, c.include, c.exclude = "", [], []
        return self._show(c, f"More like #{index + 1} *{_name(result)}*.", found)

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

    def _photo_similar(self, c: Conversation, intent: Intent, photo: str) -> Turn:
        page = self.tools.similar_items(image=photo, k=SHOWN)  # grounds the photo once, and says how
        c.query, c.include, c.exclude = "", [], []
        lead = self._looks(page.photo) if page.photo is not None else "Your photo"
        return self._show(c, f"{lead}. Items like it:", page.results)

    def _photo_complement(self, c: Conversation, intent: Intent, photo: str) -> Turn:
        record = self.tools.describe_image(photo)
        seen, a = self._looks(record), record.attributes
        words = [*a.style, *distinct_colours(a.colors), *a.occasion, *a.season][:MATCH_WORDS]
        if not words:
            return Turn(text=f"{seen}, but I could not read a style, colour or occasion to match.")
        found = self.tools.search_catalog(" ".join(words), k=POOL, user_id=c.user_id).results
        others = [r for r in found if not a.category or not values_match(r.attributes.category or "", a.category)]
        c.query, c.include, c.exclude = "", [], []
        return self._show(
            c,
            f"{seen}. Things in other categories that share its {as_markdown(', '.join(dict.fromkeys(words)))}:",
            others[:SHOWN],
        )

    # --- profile and the rest ------------------------------------------------------------------
    def _profile(self, c: Conversation, intent: Intent) -> Turn:
        profile = self.tools.show_profile(c.user_id)
        if profile.is_empty:
            return Turn(text="Your profile is empty: tell me what you like (*I like #2*).", profile=profile)
        liked = names(profile.liked, as_markdown) or "nothing"
        return Turn(text=f"You liked: {liked}. {_profile_line(profile)}", profile=profile)

    def _reset(self, c: Conversation, intent: Intent) -> Turn:
        c.clear()
        profile = self.tools.show_profile(c.user_id)
        kept = len(profile.liked) + len(profile.disliked)
        note = f" Your {kept} ratings are kept; say *reset my profile* to forget them." if kept else ""
        return Turn(text=f"Starting over: search, filters and results cleared.{note}", results=[])

    def _reset_profile(self, c: Conversation, intent: Intent) -> Turn:
        removed = self.tools.reset_profile(c.user_id).removed
        return Turn(
            text=f"Your profile is reset: {removed} ratings forgotten.", profile=self.tools.show_profile(c.user_id)
        )

    def _greet(self, c: Conversation, intent: Intent) -> Turn:
        return Turn(text="Hello! " + HELP)

    def _help(self, c: Conversation, intent: Intent) -> Turn:
        return Turn(text=HELP)
