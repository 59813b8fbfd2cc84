"""Where each character of a page is drawn: four uint16 per character (left, top, right, bottom
as fractions of the page's width and height, times 65535, origin at the top left), one row per
character of the page's stored text. Characters with no place on the page (line and paragraph
breaks we insert) have an all-zero row. 8 bytes a character: ~25 KB for a page of text.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

SCALE = 65535


def encode(rows: np.ndarray) -> bytes:
    """Rows of (left, top, right, bottom) fractions in [0, 1] (zeros: no box) as stored bytes."""
    rows = np.clip(np.asarray(rows, dtype=np.float64), 0.0, 1.0)
    return np.round(rows * SCALE).astype("<u2").tobytes()


def decode(data: bytes) -> np.ndarray:
    """The (n, 4) float32 fractions of `encode`d bytes."""
    return np.frombuffer(data, dtype="<u2").reshape(-1, 4).astype(np.float32) / SCALE


def span_rects(boxes: np.ndarray, first: int, last: int) -> list[tuple[float, float, float, float]]:
    """Rectangles covering the characters [first, last) of a page (indexes into its rows): one per
    run of characters on the same line, as (left, top, right, bottom) fractions of the page."""
    rects: list[list[float]] = []
    for left, top, right, bottom in boxes[max(first, 0) : max(last, 0)]:
        if right <= left or bottom <= top:
            continue
        if rects:
            current = rects[-1]
            overlap = min(bottom, current[3]) - max(top, current[1])
            same_line = overlap > 0.5 * min(bottom - top, current[3] - current[1])
            if same_line and left >= current[0] - 0.002:
                current[1], current[2], current[3] = min(current[1], top), max(current[2], right), max(current[3], bottom)
                continue
        rects.append([float(left), float(top), float(right), float(bottom)])
    return [tuple(r) for r in rects]  # type: ignore[misc]


def page_of(page_starts: Sequence[int], offset: int) -> int | None:
    """1-based page holding character `offset`; None for a document without pages."""
    if not page_starts:
        return None
    from bisect import bisect_right

    return max(1, bisect_right(page_starts, offset))
