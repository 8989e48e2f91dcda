"""What kind of answer a question wants, and where a sentence supplies it.

The sentence that repeats the question's words is often not the one holding
the answer ("Why is the Telegraph cutting jobs?" -> the sentence restating the
cut, not the one giving the reason). A question's kind (a date, a number, a
person, a place, a reason, a manner...) says what the answering sentence must
contain that the question does not: these detectors are features of the
learned reader (which weighs them on the dev splits) and give ``answer_span``,
the phrase shown in bold when the reader is sure of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|"
    r"december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_WEEKDAYS = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_FULL_MONTHS = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
)
# Absolute dates first (longest match wins), then relative times news uses a lot.
_DATE = re.compile(
    rf"\b(?:(?:{_FULL_MONTHS}|(?:{_MONTHS})\.)\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_FULL_MONTHS}(?:,?\s+\d{{4}})?|"
    rf"(?:early|mid|late)[- ](?:\d{{4}}s?|{_FULL_MONTHS})|"
    rf"{_FULL_MONTHS}(?:\s+\d{{4}})?|"
    r"(?:in|since|until|by|from|during|before|after)\s+(?:the\s+)?\d{4}s?|"
    r"(?:1[0-9]|20)\d{2}s?|"
    rf"(?:last|next|this|previous|following|earlier this|later this)\s+"
    rf"(?:{_WEEKDAYS}|week|weekend|month|year|decade|century|season|spring|summer|autumn|fall|"
    rf"winter|{_FULL_MONTHS})|"
    r"the (?:next|following|previous) (?:day|week|month|year|morning|evening)|"
    r"(?:the )?day (?:before|after)|"
    rf"(?:on\s+)?{_WEEKDAYS}(?:\s+(?:morning|afternoon|evening|night))?|"
    r"yesterday|today|tonight|tomorrow|"
    r"\d+(?:st|nd|rd|th) century|"
    r"\d+\s+(?:days?|weeks?|months?|years?|decades?)\s+(?:ago|later|earlier|before|after))\b",
    re.IGNORECASE,
)
_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundred|hundreds|thousand|thousands|million|millions|billion|billions|"
    r"trillion|dozen|dozens|half|quarter|several|a few"
)
_NUMBER = re.compile(
    rf"(?:[$£€¥]\s?)?\b(?:\d[\d,.]*(?:\s?(?:%|percent|per cent|bn|m|k))?"
    rf"(?:\s+(?:{_NUMBER_WORDS}))?|(?:{_NUMBER_WORDS})(?:[- ](?:{_NUMBER_WORDS}))*)\b"
    r"(?:\s?(?:%|percent|per cent))?",
    re.IGNORECASE,
)
# A run of capitalised words (a name, an organisation, a place); a sentence's first
# word counts only when it is not an ordinary word (see _name_spans).
_NAME = re.compile(
    r"\b(?:[A-Z][\w'’.-]*[a-z0-9][\w'’-]*|[A-Z]{2,})"
    r"(?:\s+(?:of|the|de|da|van|von|for|and|&)?\s*(?:[A-Z][\w'’.-]*|[A-Z]{2,}))*"
)
_PLACE = re.compile(
    r"\b(?:in|at|near|from|outside|inside|across|throughout|to)\s+(?:the\s+)?"
    r"(?:[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)*|city|country|capital|state|region|province|"
    r"village|town|county|district|border|coast|island|building|headquarters|home|court)\b"
)
_REASON = re.compile(
    r"\b(?:because|due to|owing to|thanks to|as a result|result of|in order to|so that|"
    r"so as to|since|after|amid|following|over concerns?|over fears?|in response to|"
    r"aims? to|aimed at|intended to|designed to|meant to|the reason|reasons?|caused? by|"
    r"led to|blamed|cited|said (?:it|they|he|she) (?:was|were|had|would)|"
    r"to (?!the\b|a\b|an\b|be\b|his\b|her\b|their\b|its\b)[a-z]{3,}(?:e|ise|ize|ve|ct|ure|ect|"
    r"ain|ow|et|ld|nd|rt|st|ut|ce|ck|ll|ss)\b)",
    re.IGNORECASE,
)
_MANNER = re.compile(
    r"\b(?:by (?:\w+ing|using|means of)|through|using|via|with the help of|thanks to|"
    r"by (?:a|an|the)\b|method|technique|way)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Kind:
    name: str
    pattern: re.Pattern[str]


KINDS: tuple[Kind, ...] = (
    Kind(
        "date",
        re.compile(
            r"^\s*(?:when|since when|until when|by when|what (?:year|date|day|month|time|"
            r"century|decade|season)|in what (?:year|month|decade|century)|which (?:year|date|day|"
            r"month|century|decade)|how long ago)\b",
            re.I,
        ),
    ),
    Kind(
        "number",
        re.compile(
            r"\b(?:how (?:many|much|long|old|far|big|large|often|tall|high|deep|fast|heavy|"
            r"wide|small)|what (?:percentage|percent|number|amount|proportion|share|fraction|"
            r"price|cost|age|size|population|score|rate|total)|what was the (?:size|population|"
            r"score)|by how much)\b",
            re.I,
        ),
    ),
    Kind(
        "person",
        re.compile(
            r"^\s*(?:who|whom|whose)\b|\b(?:which|what) (?:person|man|woman|player)\b", re.I
        ),
    ),
    Kind(
        "place",
        re.compile(
            r"^\s*(?:where|from where)\b|\b(?:which|what|in which|in what) (?:city|country|"
            r"state|town|place|region|province|county|continent|neighbou?rhood|island|venue|"
            r"location|building|street)\b",
            re.I,
        ),
    ),
    Kind("reason", re.compile(r"^\s*(?:why|how come)\b|\bwhat (?:was |is )?the reason\b", re.I)),
    Kind(
        "name",
        re.compile(
            r"^\s*(?:which|what) (?:company|firm|organi[sz]ation|team|group|party|agency|"
            r"brand|network|outlet|newspaper|show|film|movie|book|song|album|app|platform|"
            r"product|club|band|league|school|university|bank|airline|game|language|name)\b|"
            r"\bwhat (?:is|was) the name\b|\bcalled what\b|\bwhat is .* called\b",
            re.I,
        ),
    ),
    Kind(
        "manner",
        re.compile(
            r"^\s*how\b(?! (?:many|much|long|old|far|big|large|often|tall|high|deep|fast|heavy|"
            r"wide|small)\b)",
            re.I,
        ),
    ),
)
KIND_NAMES: tuple[str, ...] = tuple(k.name for k in KINDS)


def question_kind(question: str) -> str | None:
    """The kind of answer ``question`` asks for, or None for open questions."""
    for kind in KINDS:
        if kind.pattern.search(question):
            return kind.name
    return None


def _finder(kind: str) -> re.Pattern[str] | None:
    return {
        "date": _DATE,
        "number": _NUMBER,
        "person": _NAME,
        "name": _NAME,
        "place": _PLACE,
        "reason": _REASON,
        "manner": _MANNER,
    }.get(kind)


def supplies(kind: str | None, sentence: str, question: str) -> bool:
    """Does ``sentence`` hold something of the wanted kind that the question lacks?"""
    if kind is None:
        return True
    return bool(spans_of_kind(kind, sentence, question))


_ORDINARY_STARTS = frozenset(
    """the a an he she it they we i you his her its their this that these those there
    in on at by for from with after before during when while as if but and or so yet
    however meanwhile according also still then now today yesterday last next some
    many most several both each one two three mr mrs ms dr""".split()
)


def _name_spans(sentence: str) -> list[tuple[int, int]]:
    """Capitalised runs, without an ordinary word that is only capitalised by position."""
    spans = []
    for match in _NAME.finditer(sentence):
        start, end = match.span()
        first = re.match(r"[\w'’.-]+", sentence[start:end])
        if first and first.group(0).lower().rstrip(".") in _ORDINARY_STARTS:
            rest = re.search(r"\b[A-Z]", sentence[start + first.end() : end])
            if rest is None:
                continue
            start = start + first.end() + rest.start()
        spans.append((start, end))
    return spans


def spans_of_kind(kind: str, sentence: str, question: str) -> list[tuple[int, int]]:
    """Character spans in ``sentence`` of phrases of ``kind`` not already in ``question``."""
    finder = _finder(kind)
    if finder is None:
        return []
    asked = question.lower()
    asked_words = set(re.findall(r"[\w'’-]+", asked))
    found = []
    if finder is _NAME:
        raw = _name_spans(sentence)
    else:
        raw = [m.span() for m in finder.finditer(sentence)]
    for start, end in raw:
        text = sentence[start:end].strip()
        if not text:
            continue
        words = re.findall(r"[\w'’-]+", text.lower())
        if text.lower() in asked or (words and all(w in asked_words for w in words)):
            continue
        found.append((start, end))
    return found


def answer_span(kind: str | None, sentence: str, question: str) -> str | None:
    """The phrase answering a date/number/person/place/name question, when there is one.

    Only short, factual kinds get a span: for "why" and "how" questions the
    whole sentence is the answer. With several candidates, the one nearest the
    words the sentence shares with the question wins ("...died on May 5, two
    days after..." for "When did he die?" picks "May 5").
    """
    if kind not in ("date", "number", "person", "place", "name"):
        return None
    spans = spans_of_kind(kind, sentence, question)
    if kind == "place":
        spans = [_strip_preposition(sentence, s, e) for s, e in spans]
    if not spans:
        return None
    anchors = [
        m.start()
        for w in set(re.findall(r"[a-z]{4,}", question.lower()))
        for m in re.finditer(re.escape(w), sentence.lower())
    ]

    def rank(span: tuple[int, int]) -> tuple[int, float]:
        near = min((abs(a - span[0]) for a in anchors), default=span[0])
        # a multi-word name ("Holm & Partners") beats a lone adjective ("Danish")
        words = len(sentence[span[0] : span[1]].split()) if kind in ("person", "name") else 1
        return (-min(words, 3), near)

    start, end = min(spans, key=rank)
    phrase = sentence[start:end].strip(" ,;:")
    if len(phrase) > 2 and phrase.endswith(".") and phrase[-2].islower():
        phrase = phrase[:-1]  # the sentence's full stop, not an abbreviation's
    return phrase if 0 < len(phrase) <= 80 else None


def _strip_preposition(sentence: str, start: int, end: int) -> tuple[int, int]:
    match = re.match(
        r"(?:in|at|near|from|outside|inside|across|throughout|to)\s+(?:the\s+)?",
        sentence[start:end],
    )
    return (start + match.end(), end) if match else (start, end)


def novelty(question_terms: set[str], sentence_terms: set[str]) -> float:
    """Share of the sentence's content terms that the question does not already have."""
    return len(sentence_terms - question_terms) / len(sentence_terms) if sentence_terms else 0.0
