"""Follow-up questions without a generative model: borrow the previous question's context
for retrieval, only when the new question cannot stand on its own."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

_ANAPHORA = re.compile(
    r"\b(they|them|their|theirs|it|its|this|that|these|those|he|him|his|she|her|there|"
    r"the same|such|which one|what about|how about|and what|and how|and when|and where|"
    r"and why|and who|also)\b",
    re.IGNORECASE,
)
_CONTINUATION = re.compile(r"^\s*(and|but|so|also|what about|how about|then)\b", re.IGNORECASE)

HISTORY_WEIGHT = 0.5
"""Weight of the previous question's embedding added to the new question's, before normalising."""
MIN_STANDALONE_TERMS = 4
"""A question with fewer content terms than this is treated as needing context."""


NEW_TOPIC_MISSING = 0.5
"""A question that leans on nothing but its shortness, and whose own terms are mostly (by IDF
mass) absent from the corpus, starts a new topic ("best pizza recipe" after questions about a
war): the history is not used."""
MIN_HISTORY_COSINE = 0.05
"""Below this cosine between the question and the previous one, the history is not used."""


@dataclass(frozen=True)
class QueryContext:
    """What to retrieve with: the question itself, plus earlier turns when it needs them."""

    question: str
    context: str | None
    reason: str = ""
    """Why the history was considered: "reference" (a pronoun, "and ...") or "short"."""

    @property
    def uses_history(self) -> bool:
        return self.context is not None


def refers_back(question: str) -> bool:
    """True when a question points at what came before (a pronoun, 'and ...', 'what about')."""
    return bool(_CONTINUATION.search(question) or _ANAPHORA.search(question))


def needs_context(question: str, content_terms: int) -> bool:
    """True when a question leans on what came before (pronouns, 'and ...', very short)."""
    return refers_back(question) or content_terms < MIN_STANDALONE_TERMS


def contextualize(question: str, history: Sequence[str], content_terms: int) -> QueryContext:
    """The query to retrieve with, given the earlier questions of the conversation (oldest first)."""
    previous = [h.strip() for h in history if h and h.strip()]
    if not previous or not needs_context(question, content_terms):
        return QueryContext(question, None)
    return QueryContext(question, previous[-1], "reference" if refers_back(question) else "short")


def helps(question_vector, history_vector, context: QueryContext, missing: float = 0.0) -> bool:
    """Whether the history should join the query: not when the question is only short and its
    own terms are mostly unknown to the corpus (a new topic), nor when it is unrelated to the
    previous question (cosine below MIN_HISTORY_COSINE). `missing`: the share of the question's
    IDF mass in terms no passage holds."""
    if context.reason == "short" and missing >= NEW_TOPIC_MISSING:
        return False
    return float(question_vector @ history_vector) >= MIN_HISTORY_COSINE
