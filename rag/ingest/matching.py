"""The form of a passage's text that is embedded and searched, when it differs from the text shown.

Stored text stays exactly what the document shows; only what the model and BM25 see is mended:
a word hyphenated at a line end in a PDF ("exam-" then "ple") is matched as "example", and soft
hyphens (U+00AD, invisible break hints in HTML, DOCX and PDF) are dropped. Plain text and Markdown
are matched as written (their hyphens are the author's).
"""

from __future__ import annotations

import re

SOFT_HYPHEN = "\u00ad"
_LINE_END_HYPHEN = re.compile(r"(?<=[^\W\d_])[-\u00ad][ \t]*\r?\n[ \t]*(?=[a-zà-ÿ])")
MENDED_KINDS = frozenset({"pdf", "html", "docx"})


def match_text(text: str, kind: str) -> str:
    """`text` as it is embedded and matched, for a document of format `kind`."""
    if kind not in MENDED_KINDS:
        return text
    if kind == "pdf":
        text = _LINE_END_HYPHEN.sub("", text)
    return text.replace(SOFT_HYPHEN, "")
