"""What kind of answer a question wants, and whether a sentence can supply it.

The sentence that repeats the question's words is often not the one holding
the answer ("Who is Derrick Ingram?" -> "...investigation into Derrick
Ingram." vs "He is a Black Lives Matter activist."). Two cheap signals fix
most of that: the sentence must bring words the question doesn't have
(novelty), and for when/how-many/who questions it must contain a date, a
number or a name that is not already in the question.
"""

from __future__ import annotations

import re

from citebot.index.search.bm25 import terms

_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|"
    r"december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE = re.compile(
    rf"\b(?:1[0-9]{{3}}|20[0-9]{{2}}|(?:{_MONTHS})\.?\s+\d{{1,2}}|\d{{1,2}}\s+(?:{_MONTHS})|"
    r"january|february|march|april|june|july|august|september|october|november|december|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|yesterday|today|tomorrow|"
    r"(?:next|last|previous|following) (?:day|week|month|year)|century|decade)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\b(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozens?|half|percent)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z'’-]+")

_KINDS = (
    (
        "date",
        re.compile(
            r"^\s*(when|what (year|date|day|month|time)|in what (year|month)|"
            r"which (year|date|day|month)|since when)\b",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"\b(how (many|much|long|old|far|big|large|often)|what (percentage|"
            r"percent|number|amount)|what was the (size|population|score))\b",
            re.I,
        ),
    ),
    (
        "name",
        re.compile(
            r"^\s*(who|whom|whose|where|which (company|person|city|country|team|"
            r"group|organization))\b",
            re.I,
        ),
    ),
)


def answer_kind(question: str) -> str | None:
    for kind, pattern in _KINDS:
        if pattern.search(question):
            return kind
    return None


def supplies(kind: str | None, sentence: str, question: str) -> bool:
    """Does ``sentence`` contain something of the wanted kind that the question lacks?"""
    if kind is None:
        return True
    if kind == "date":
        return any(m.group(0).lower() not in question.lower() for m in _DATE.finditer(sentence))
    if kind == "number":
        return any(m.group(0).lower() not in question.lower() for m in _NUMBER.finditer(sentence))
    asked = {w.lower() for w in re.findall(r"[A-Za-z'’-]+", question)}
    return any(m.group(0).lower() not in asked for m in _NAME.finditer(sentence))


def novelty(question_terms: set[str], sentence: str) -> float:
    """Share of the sentence's content terms that the question does not already have."""
    own = set(terms(sentence))
    return len(own - question_terms) / len(own) if own else 0.0
