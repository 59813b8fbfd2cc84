"""What kind of answer a question asks for (a date, a number, a name), and whether a sentence
holds one: so that "When was the treaty signed?" highlights the sentence with the date, not the
one that repeats "treaty" most. Plain patterns, the same in every corpus."""

from __future__ import annotations

import re

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|"
           "december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_KINDS = (
    ("date", re.compile(r"^\s*(when\b|(in |on |by |since )?(what|which) (year|month|date|day|decade|"
                        r"century|time)\b|how long ago\b)", re.I)),
    ("number", re.compile(r"^\s*(how (many|much|large|big|far|fast|long|often|old|high)\b|"
                          r"(what|which) (share|proportion|percentage|fraction|number|amount|"
                          r"size|rate|range)\b|by how much\b)", re.I)),
    ("name", re.compile(r"^\s*(who|whom|whose)\b", re.I)),
)
_PATTERNS = {
    "date": re.compile(rf"\b(1[5-9]\d\d|20\d\d)\b|\b({_MONTHS})\b\.?|\b\d{{1,2}}(st|nd|rd|th)\b|"
                       r"\b(yesterday|today|ago|monday|tuesday|wednesday|thursday|friday|saturday|"
                       r"sunday|summer|winter|spring|autumn)\b", re.I),
    "number": re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                         r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|half|"
                         r"quarter|dozen|dozens|hundreds|thousands|millions)\b", re.I),
    # a capitalised word that does not start the sentence, e.g. "said Mark Rutte"
    "name": re.compile(r"(?<=[a-z,;:] )[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*"),
}


def expected_type(question: str) -> str | None:
    """"date", "number" or "name" when the question's form asks for one, else None."""
    for kind, pattern in _KINDS:
        if pattern.search(question):
            return kind
    return None


def holds(kind: str | None, sentence: str) -> bool:
    """True when `sentence` holds an answer of that kind (False for no kind)."""
    return kind is not None and bool(_PATTERNS[kind].search(sentence))
