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


@dataclass(frozen=True)
class QueryContext:
    """What to retrieve with: the question itself, plus earlier turns when it needs them."""

    question: str
    context: str | None

    @property
    def uses_history(self) -> bool:
        return self.context is not None


def needs_context(question: str, content_terms: int) -> bool:
    """True when a question leans on what came before (pronouns, 'and ...', very short)."""
    return bool(
        _CONTINUATION.search(question)
        or _ANAPHORA.search(question)
        or content_terms < MIN_STANDALONE_TERMS
    )


def contextualize(question: str, history: Sequence[str], content_terms: int) -> QueryContext:
    """The query to retrieve with, given the earlier questions of the conversation (oldest first)."""
    previous = [h.strip() for h in history if h and h.strip()]
    if not previous or not needs_context(question, content_terms):
        return QueryContext(question, None)
    return QueryContext(question, previous[-1])
