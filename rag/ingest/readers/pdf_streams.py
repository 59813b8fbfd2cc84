"""Refuse a PDF whose compressed streams inflate beyond a bound, before PDFium decodes them.

PDFium decodes a content stream whole in memory (a 1 GB stream made the reader process reach
~2 GB), and a stream compressed twice with Flate (`/Filter [/FlateDecode /FlateDecode]`) packs
1 GB into ~2.4 KB. So every Flate stream of the file is inflated here first, in bounded slices
whose output is counted and dropped, through as many Flate stages as its dictionary names, and
stops as soon as one stream passes the limit. Memory stays at a few MB; time is that of zlib
(~0.5 s a GB here), and the reader's time limit bounds a file of many streams.

What this does not measure (PDFium's own limits and the reader process's memory and time bounds
still apply): streams of encrypted files (their data is encrypted before it is inflated), other
filters (LZW, RunLength), and images inline in a content stream.
"""

from __future__ import annotations

import re
import zlib
from typing import Iterable, Iterator

from rag.ingest.readers.base import ReaderError

_STREAM = re.compile(rb"(?<![A-Za-z])stream\r?\n")
_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[A-Za-z0-9]+)")
_SLICE = 1 << 20
_DICTIONARY_REACH = 8192
"""How far before the `stream` keyword its dictionary (and its /Filter) is looked for."""


def check(data: bytes, max_stream_mb: float) -> None:
    """ReaderError when a Flate stream of `data` inflates to more than `max_stream_mb` MB."""
    limit = int(max_stream_mb * 1_000_000)
    position = 0
    while (match := _STREAM.search(data, position)) is not None:
        start = match.end()
        end = data.find(b"endstream", start)
        end = len(data) if end == -1 else end
        stages = _flate_stages(data, match.start())
        if stages:
            size = inflated_size(data[start:end], stages, limit)
            if size > limit:
                raise ReaderError(
                    f"has a compressed stream that inflates to over {max_stream_mb:g} MB "
                    f"(a PDF bomb?; setting readers.max_stream_mb): not indexed"
                )
        position = max(end, start)


def inflated_size(data: bytes, stages: int, limit: int) -> int:
    """Bytes `data` inflates to through `stages` Flate stages, counted up to just past `limit`."""
    pieces: Iterable[bytes] = [data]
    for _ in range(stages):
        pieces = _inflate(pieces)
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > limit:
            break
    return total


def _inflate(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Flate-decode a sequence of byte pieces, yielding at most `_SLICE` bytes at a time; a damaged
    or encrypted stream ends the output where it fails (PDFium decides what to make of it)."""
    inflater = zlib.decompressobj()
    try:
        for piece in pieces:
            while piece:
                out = inflater.decompress(piece, _SLICE)
                if out:
                    yield out
                if inflater.eof:
                    return
                piece = inflater.unconsumed_tail
        rest = inflater.flush()
        if rest:
            yield rest
    except zlib.error:
        return


def _flate_stages(data: bytes, keyword: int) -> int:
    """How many times the stream whose `stream` keyword is at `keyword` is Flate-compressed."""
    head = data[max(0, keyword - _DICTIONARY_REACH):keyword]
    opened = head.rfind(b"obj")
    if opened != -1:
        head = head[opened:]
    found = _FILTER.findall(head)
    if not found:
        return 0
    return found[-1].count(b"/FlateDecode") + len(re.findall(rb"/Fl(?![A-Za-z])", found[-1]))
