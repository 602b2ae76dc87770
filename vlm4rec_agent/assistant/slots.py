"""The exact parts of a message, read by rules: which results it points at, what it asks for or
against, what it searches for, and whether it negates, asks or quotes.

The intent classifier (:mod:`.intent_model`) says what kind of request a message is; these rules
fill in its details, where a rule is exact and a model would only guess: "#3" is the third
result, "2 red t-shirts" counts t-shirts and points at nothing, "not leather" excludes leather.
"""

from __future__ import annotations

import re

from ..grounding.vocabulary import load_vocabulary

# A reference to a shown result: a 0-based index from the top, or from the end when negative
# (LAST = -1 is "the last one", -2 the one before it), or SELECTED for "this one" (the selected result).
LAST = -1
SELECTED = -100
ATTRIBUTE_FIELDS = ("colors", "materials", "pattern", "style", "season", "occasion")

_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_ORDINAL_WORD = "|".join(_ORDINALS)
# "#3", "number 3", "no. 3", "item 3", "option 3", "the 3rd", "3rd one"
_MARKED_NUMBER = re.compile(
    r"(?:#\s*|\bnumbers?\s+|\bno\.?\s*(?=\d)|\bitems?\s+|\boptions?\s+|\bpics?\s+|\bpictures?\s+)(\d{1,2})\b"
    r"|\b(\d{1,2})(?:st|nd|rd|th)\b"
    rf"|\bnumber\s+({'|'.join(list(_ORDINALS)[10:])})\b"
)
_BARE_NUMBER = re.compile(r"(?<![\w#.,£$€-])(\d{1,2})(?![\w.,%-])")
# Words that may follow a bare number that points at a result ("2 and 5", "2 please", "2 is ugly");
# any other word makes it a count ("2 red t-shirts", "3 piece suits").
_AFTER_REFERENCE = {
    "and", "or", "&", "one", "ones", "is", "looks", "look", "was", "seems", "please", "pls", "plz", "too",
    "also", "as", "for", "then", "but", "isn't", "isnt", "are", "again", "instead", "thanks", "that", "the",
    "best", "with", "in", "from", "a", "an", "so", "really", "very", "it", "here", "there", "aren't", "arent",
    "don't", "dont", "do", "were", "have", "got", "seem", "would", "could", "will",
}  # fmt: skip
_ORDINAL_REFS = {word: n - 1 for word, n in list(_ORDINALS.items())[:10]} | {"last": LAST, "latter": LAST, "former": 0}
_WORD_REF = re.compile(rf"\b({_ORDINAL_WORD}|last|latter|former)\b")
_FIRST_FEW = re.compile(rf"\b(?:the\s+)?(first|last|top)\s+({'|'.join(list(_ORDINALS)[10:])}|\d)\b")
_THIS_REF = re.compile(r"\b(this|that|it)\b")

_NEGATION = re.compile(
    r"\b(?:don'?t|do not|doesn'?t|does not|didn'?t|did not|never|not|no(?!\.?\s*\d)|won'?t|will not|shouldn'?t|"
    r"should not|mustn'?t|must not|cannot|can'?t|stop|avoid|without)\b"
)
_QUESTION_START = re.compile(
    r"^\s*(?:how|what|why|when|where|which|who|is|are|does|do|did|would|will|should|could|can i|can you tell|"
    r"is it|if i)\b"
)
_REQUEST = re.compile(r"^\s*(?:(?:can|could|would|will) (?:you|u|we)|please|pls)\b(?! (?:tell|explain|show me how))")
_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]+)[\"“”«»]|'([^']{3,})'")
_CLAUSE = re.compile(r"\s*(?:[,;.!?]+|\bbut\b|\band then\b|\bjust\b|\binstead\b)\s*")

# "not leather", "no floral ones", "anything but black", "oak instead of white", "w/o logos", "that aren't black"
_EXCLUDE_LEAD = (
    r"(?:\b(?:not|no(?!\.?\s*\d)|without|avoid|except|excluding|but not|nothing in|none in|nothing(?: with)?|"
    r"anything but|other than|apart from|instead of|rather than|skip(?: anything| the)?|exclude(?: the| anything)?|"
    r"never|no more|(?:do not|don'?t|dont) (?:want|like|need|fancy)(?: any)?|"
    r"(?:that|which) (?:are not|is not|aren'?t|isn'?t))|\bw/o)\s+"
)
# ... but not "not for me", "no wait", "not a fan of it", "not #2": those name no attribute
_NOT_EXCLUDED = (
    r"(?!to\b|for\b|wait\b|worries\b|need\b|problem\b|a fan\b|keen\b|sure\b|so\b|too\b|that\b|this\b|those\b|"
    r"these\b|them\b|one\b|it\b|#)"
)
_EXCLUDED = r"([a-z][a-z' -]*?)(?=$|[^a-z' -]|\s+(?:and|but|please|pls|plz|ones?|thanks|thx|though|instead)\b)"
_EXCLUDE = re.compile(_EXCLUDE_LEAD + _NOT_EXCLUDED + _EXCLUDED)
# a count at the head of a search ("6 dining chairs", "3 pairs of socks"), but not a measure ("2 seater sofa")
_COUNT = re.compile(
    r"^(?:\d{1,3}|two|three|four|five|six|seven|eight|nine|ten|a couple of|a pair of)\s+(?:pairs? of\s+|sets? of\s+)?"
    r"(?!(?:piece|pc|seater|seat|drawer|door|tier|shelf|shelves|person|burner|light|arm|bulb|panel|pack)s?\b)"
)
_SEARCH_CLAUSE = re.compile(r"\s*(?:[,;:]|\band (?=i\b|i'm|im\b|we\b)|\bbut (?=i\b|i'm|im\b))\s*")
_TRAILING = re.compile(
    r"(?:\s+(?:instead|first|too|now|thx|thanks|lol|please|pls|for (?:it|that|this|them|me)|😎|🙏))+$"
)
_LESS = re.compile(r"\b(?:less|not so|not too|not as)\s+([a-z]+)")
_REFINE_LEAD = re.compile(
    r"^\s*(?:(?:what|how) about|in|only|just|make (?:it|them)|something|preferably|maybe|rather|any(?: of (?:those|them|these))?|"
    r"ones?|show only|filter to|narrow it down to|but|the same(?: but)?|those but|do they come|with|colou?r:|"
    r"same|only the|just the|show me|ones in|in a|an?)\b\s*"
)
_SOFT_FILLER = re.compile(
    r"\b(?:ones?|please|pls|instead|too|those|them|these|the|only|just|any|in|a|an|something|colou?rs?|please\?|"
    r"looking for|show me|i want|i'd like|maybe|rather|preferably|but|of|do|they|come|filter to|narrow it down to|"
    r"exclude|skip|anything|same)\b"
)
_INTERJECTION = re.compile(
    r"^\s*(?:(?:hmm+|hm+|um+|erm+|uh+|oh+|ooh+|ok(?:ay)?|so|well|right|now|and|also|alright|actually|hey|hi|hello|yes|yeah|no|nah|wait|cool|great|nice|lol)"
    r"\b\s*[,!.]*\s*)+"
)
_POLITE = re.compile(r"\b(please|pls|plz|thanks|thank you|ok|okay|cheers|ta)\b|[🙏🙂😊😍👍❤️♥]+")
_SEARCH_FILLER = re.compile(
    r"^\s*(?:(?:can|could|would) (?:you|u)\s+)?(?:please\s+)?(?:(?:show|shwo|sho|find|get|give|bring|gimme|fetch)(?: me| us)?|"
    r"(?:recomm?end|recomend|suggest)(?: me)?|"
    r"search(?:ing)?(?: for)?|look(?:ing)? for|i'?m (?:looking for|after|searching for)|i am (?:looking for|after)|"
    r"(?:i )?(?:really )?(?:want|need|like|love|fancy)|i'?d (?:like|love)|i would (?:like|love)|"
    r"i (?:wanna|want to|need to|gotta)(?: get| buy| find| see)?|(?:i'?m|im) (?:gonna|going to) need|"
    r"would you mind showing me|(?:just |now )?show me|new search|forget \w+ \w+|"
    r"(?:do|have) (?:you|u) (?:have|got|sell|stock)|got|any|i wonder if you have|"
    r"what about|how about|what kind of|what|let'?s see|let me see)[\s,:]+(?:(?:some|any|a few|a|an|anything|something)\s+)?",
)


def normalise(message: str) -> str:
    """Lower case, straight apostrophes, single spaces: the form every rule and the classifier read."""
    return " ".join((message or "").lower().replace("’", "'").replace("‘", "'").split())


def references(text: str) -> list[int]:
    """Results a message points at, in order: '#3' -> 2, 'the second one' -> 1, 'last' -> LAST,
    'the first two' -> 0, 1, 'this' -> SELECTED. A number that counts things is no reference."""
    found: list[tuple[int, int]] = []
    taken: list[tuple[int, int]] = []
    for match in _FIRST_FEW.finditer(text):
        which, many = match.group(1), match.group(2)
        count = int(many) if many.isdigit() else _ORDINALS[many]
        refs = list(range(count)) if which in ("first", "top") else list(range(-count, 0))
        found += [(match.start() + i, ref) for i, ref in enumerate(refs)]
        taken.append(match.span())
    for match in _MARKED_NUMBER.finditer(text):
        number = int(match.group(1) or match.group(2) or _ORDINALS[match.group(3)])
        if number >= 1 and not _inside(match.start(), taken):
            found.append((match.start(), number - 1))
            taken.append(match.span())
    marked = bool(taken)  # beside "#5", a bare number counts things ("find me 3 more like #5")
    for match in _BARE_NUMBER.finditer(text):
        if marked or _inside(match.start(), taken) or int(match.group(1)) < 1:
            continue
        following = text[match.end() :].split(maxsplit=1)
        after = re.sub(r"[^\w&'#]", "", following[0]) if following else ""
        if not after or after in _AFTER_REFERENCE or not following[0][:1].isalnum():
            found.append((match.start(), int(match.group(1)) - 1))
    for match in _WORD_REF.finditer(text):
        word = match.group(1)
        if _inside(match.start(), taken) or word not in _ORDINAL_REFS:
            continue  # "one".."ten" alone count things ("two lamps")
        found.append((match.start(), _ORDINAL_REFS[word]))
    refs = list(dict.fromkeys(ref for _, ref in sorted(found)))
    if not refs and _THIS_REF.search(text):
        refs = [SELECTED]
    return refs


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


def is_question(text: str) -> bool:
    """Whether a message asks rather than tells ("how do I reset my profile?", "would that delete my
    likes"); a request put politely ("can you reset my profile?") is no question."""
    if _REQUEST.match(text):
        return False
    return text.rstrip().endswith("?") or bool(_QUESTION_START.match(text))


def quoted(text: str) -> list[str]:
    return [a or b for a, b in _QUOTED.findall(text)]


def clauses(text: str) -> list[str]:
    return [part for part in _CLAUSE.split(text) if part and part.strip()]


def has_negation(text: str) -> bool:
    return bool(_NEGATION.search(text))


def negated(clause: str, verbs: re.Pattern[str]) -> bool:
    """Whether a clause negates one of ``verbs`` ("don't reset my profile", "never wipe my likes")."""
    verb = verbs.search(clause)
    return bool(verb and _NEGATION.search(clause[: verb.start()]))


def without_clauses(text: str, verbs: re.Pattern[str]) -> str:
    """The message without its clauses that name one of ``verbs``: 'don't reset my profile, show me dresses' -> 'show me dresses'."""
    kept = [part for part in clauses(text) if not verbs.search(part)]
    return ", ".join(kept)


def exclusions(text: str) -> tuple[str, list[str]]:
    """Split 'linen dresses, not leather' into ('linen dresses', ['leather'])."""
    excluded: list[str] = []
    for match in _EXCLUDE.finditer(text):
        parts = re.split(r"\s+(?:or|and|nor)\s+|\s*,\s*", match.group(1))
        excluded += [re.sub(r"^(?:the|a|an|any|anything|ones?|with|in)\s+", "", part.strip()) for part in parts]
    excluded += lessened(text)
    remaining = re.sub(r"\s+", " ", _EXCLUDE.sub(" ", text)).strip(" ,.;")
    return remaining, [e for e in dict.fromkeys(excluded) if e and e not in ("the", "a", "any")]


def lessened(text: str) -> list[str]:
    """Attribute values a message asks for less of ("less formal", "not so bright"): steered away from."""
    return [t for m in _LESS.finditer(text) for t in attribute_terms(m.group(1))]


def attribute_terms(text: str) -> list[str]:
    """The attribute values a message names ("blue linen" -> blue, linen), in the vocabulary's words."""
    vocab = load_vocabulary()
    return list(dict.fromkeys(v for field in ATTRIBUTE_FIELDS for v in vocab.find(field, text)))


def names_category(text: str) -> bool:
    return bool(load_vocabulary().find("category", text))


def wanted(text: str) -> list[str]:
    """What a refinement asks for: the attribute values it names, else its remaining words
    ("cheaper looking"); nothing for a pure exclusion ("not leather")."""
    remaining, _ = exclusions(text)
    remaining = _INTERJECTION.sub("", _POLITE.sub(" ", remaining))
    less = lessened(remaining)
    terms = [t for t in attribute_terms(remaining) if t not in less]
    if terms or less:
        return terms
    soft = re.sub(r"\s+", " ", _SOFT_FILLER.sub(" ", _REFINE_LEAD.sub("", remaining))).strip(" ,.!?:")
    return [soft] if soft else []


def search_text(text: str) -> tuple[str, list[str]]:
    """What a search is for, without its fillers and exclusions: ('linen dresses', ['black']).
    Of a message in several clauses, the search starts at the last clause that asks for something
    ("my sister is getting married and I need a dress" -> "dress")."""
    remaining, excluded = exclusions(text)
    remaining = _INTERJECTION.sub("", _POLITE.sub(" ", remaining)).strip(" ,.!?")
    parts = [p.strip(" ,.!?") for p in _SEARCH_CLAUSE.split(remaining) if p and p.strip(" ,.!?")]
    asking = [i for i, p in enumerate(parts) if _SEARCH_FILLER.match(p + " ")]
    if len(parts) > 1 and asking:
        remaining = ", ".join(parts[asking[-1] :])
    query = _SEARCH_FILLER.sub("", _INTERJECTION.sub("", remaining)).strip(" ,.!?")
    query = re.sub(r"^(?:some|any|a few|a|an)\s+|\s+(?:but|and|or|though|then)$", "", query).strip(" ,.!?")
    query = _COUNT.sub("", _TRAILING.sub("", query))  # "2 red t-shirts": how many is not what to search for
    return re.sub(r"\s+", " ", query).strip(" ,.!?") or remaining, excluded
