"""Plain text and Markdown: the file's own characters, decoded, never altered.

A file is decoded as UTF-8; a file with a UTF-16 or UTF-32 byte-order mark by that mark (the mark
itself is not part of the text); a file that is not valid UTF-8 as cp1252, or Latin-1 when cp1252
cannot map it (then one character is one byte, so offsets are byte offsets too). Binary files are
refused, never guessed at. Markdown is stored as written: its headings open sections when passages
are cut (rag.ingest.sentences), its fenced code blocks and tables stay whole in a passage where
they fit (rag.ingest.markdown), and its markup is shown as text.
"""

from __future__ import annotations

import codecs
import re

from rag.config import ReaderSettings
from rag.ingest.readers.base import Extracted, ReaderError

BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
"""Control characters that are not whitespace: text has next to none, binary data many."""
MAX_CONTROL_SHARE = 0.05
"""A decoded file with more control characters than this share is taken to be binary."""


def read(data: bytes, settings: ReaderSettings | None = None, kind: str = "text") -> Extracted:
    """The decoded text of a text file; ReaderError saying why when it is not usable text."""
    if not data:
        raise ReaderError("is empty: nothing to index")
    text, encoding, note = decode(data)
    if text is None:
        raise ReaderError(note)
    controls = len(CONTROL.findall(text))
    if controls > MAX_CONTROL_SHARE * len(text):
        raise ReaderError(
            f"looks binary ({controls} of {len(text)} characters are control characters "
            f"when decoded as {encoding}): not indexed"
        )
    if not text.replace("\ufeff", "").strip():
        raise ReaderError("contains only whitespace: nothing to index")
    return Extracted(text=text, kind=kind, encoding=encoding, note=note)


def decode(data: bytes) -> tuple[str | None, str, str]:
    """(text, encoding, note); text None when the bytes are not text (note says why)."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding, f"decoded as {encoding.upper()} (byte-order mark)"
            except UnicodeDecodeError as exc:
                return None, encoding, (
                    f"starts with a {encoding.upper()} byte-order mark but is not valid "
                    f"{encoding.upper()} (byte {exc.start}): not indexed"
                )
    nul = data.find(b"\x00")
    if nul != -1:
        return None, "", (
            f"contains NUL bytes (the first at byte {nul}): binary, or UTF-16 without a "
            "byte-order mark; not indexed"
        )
    try:
        return data.decode("utf-8"), "utf-8", ""
    except UnicodeDecodeError as exc:
        bad = exc.start
    for encoding in ("cp1252", "latin-1"):  # latin-1 decodes any byte: the last resort
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, encoding, (
            f"is not valid UTF-8 (byte {bad}): decoded as {encoding}, one character per byte"
        )
    raise AssertionError("latin-1 decodes every byte")
