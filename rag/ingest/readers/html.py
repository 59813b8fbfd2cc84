"""HTML with selectolax (the Lexbor HTML5 parser, in C): the main text, without navigation,
scripts, styles or forms; headings as their own paragraphs, inline elements flowing as text
(whitespace folded as a browser does), list items and table rows on their own lines, `<pre>`
kept as written.

The encoding is the byte-order mark's, else the page's own declaration (`<meta charset>` or
`http-equiv`), else UTF-8 if it decodes, else charset-normalizer's guess, else cp1252.
The main text is `<main>`, else the one `<article>`, else `<body>`.
"""

from __future__ import annotations

import codecs
import re

from rag.config import ReaderSettings
from rag.ingest.readers.base import Extracted, ReaderError
from rag.ingest.readers.text import BOMS

DROPPED = frozenset(
    "script style noscript template nav header footer aside form button select option textarea "
    "svg canvas iframe object embed head title meta link dialog menu".split()
)
HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
PARAGRAPHS = frozenset(
    "p div section article main blockquote figure figcaption table ul ol dl pre hr address "
    "details summary fieldset".split()
) | HEADINGS
LINES = frozenset("li tr dt dd br caption".split())
CELLS = frozenset({"td", "th"})
_DECLARED = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_SPACES = re.compile(r"[ \t\n\r\f]+")


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding) of an HTML file, by mark, declaration, UTF-8 or detection."""
    for bom, encoding in BOMS + ((codecs.BOM_UTF8, "utf-8-sig"),):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), encoding
    found = _DECLARED.search(data[:8192])
    if found:
        try:
            name = codecs.lookup(found.group(1).decode("ascii")).name
            if name not in ("utf-16-le", "utf-16-be", "utf-16", "utf-32"):  # a lie in an 8-bit file
                return data.decode(name, errors="replace"), name
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200_000]).best()
        if best is not None:
            return data.decode(best.encoding, errors="replace"), best.encoding
    except ImportError:
        pass
    return data.decode("cp1252", errors="replace"), "cp1252"


def read(data: bytes, settings: ReaderSettings | None = None) -> Extracted:
    """The main text of an HTML page."""
    from selectolax.lexbor import LexborHTMLParser

    if not data.strip():
        raise ReaderError("is empty: nothing to index")
    markup, encoding = decode(data)
    tree = LexborHTMLParser(markup)
    root = tree.css_first("main") or _single(tree.css("article")) or tree.body or tree.root
    if root is None:
        raise ReaderError("has no body: nothing to index")
    text = _Writer().write(root)
    if not text.strip():
        raise ReaderError("has no text outside navigation, scripts and styles: nothing to index")
    note = "" if encoding in ("utf-8", "ascii") else f"decoded as {encoding}"
    return Extracted(text=text, kind="html", encoding=encoding, note=note)


def _single(nodes):
    return nodes[0] if len(nodes) == 1 else None


class _Writer:
    """Walks the tree, writing text with the breaks its block elements imply."""

    def __init__(self):
        self.parts: list[str] = []
        self.pending = ""  # the strongest break asked for since the last text: "", " ", "\n", "\n\n"

    def write(self, root) -> str:
        self._walk(root, preformatted=False)
        return "".join(self.parts)

    def _break(self, kind: str) -> None:
        order = ("", " ", "\t", "\n", "\n\n")
        if order.index(kind) > order.index(self.pending):
            self.pending = kind

    def _text(self, text: str, preformatted: bool) -> None:
        if not preformatted:
            text = _SPACES.sub(" ", text)
            if text.startswith(" "):
                self._break(" ")
                text = text[1:]
            trailing = text.endswith(" ")
            text = text.rstrip(" ")
        else:
            trailing = False
        if text:
            if self.parts and self.pending:
                self.parts.append(self.pending)
            self.pending = ""
            self.parts.append(text)
        if trailing:
            self._break(" ")

    def _walk(self, node, preformatted: bool) -> None:
        stack = [(node, preformatted, False)]
        while stack:
            current, pre, closing = stack.pop()
            tag = current.tag
            if closing:
                self._close(tag)
                continue
            if tag == "-text":
                self._text(current.text_content or "", pre)
                continue
            if tag in DROPPED or tag in ("-comment", "!doctype") or _hidden(current):
                continue
            self._open(tag)
            stack.append((current, pre, True))
            inner = pre or tag == "pre"
            children = []
            child = current.child
            while child is not None:
                children.append((child, inner, False))
                child = child.next
            stack.extend(reversed(children))

    def _open(self, tag: str) -> None:
        if tag in PARAGRAPHS:
            self._break("\n\n")
        elif tag in LINES:
            self._break("\n")
        elif tag in CELLS:
            self._break("\t")

    def _close(self, tag: str) -> None:
        if tag in PARAGRAPHS:
            self._break("\n\n")
        elif tag in LINES and tag != "br":
            self._break("\n")


def _hidden(node) -> bool:
    attributes = node.attributes
    if "hidden" in attributes or attributes.get("aria-hidden") == "true":
        return True
    style = (attributes.get("style") or "").replace(" ", "").lower()
    return "display:none" in style or "visibility:hidden" in style
