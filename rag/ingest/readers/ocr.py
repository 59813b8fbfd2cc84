"""OCR of a rendered PDF page with RapidOCR (PaddleOCR's models as ONNX, shipped inside the
rapidocr-onnxruntime wheel: no download), into lines of characters with their boxes.

A recognised line has one box; its characters get equal slices of it (good enough to mark a
sentence on the page image). Lines are put in reading order top to bottom, left to right.
"""

from __future__ import annotations

INSTALL_HINT = "OCR is not installed: pip install rapidocr-onnxruntime to read scanned pages"


def engine():
    """A RapidOCR engine, or None when the package is not installed."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        return None
    import logging

    logging.getLogger("RapidOCR").setLevel(logging.WARNING)
    return RapidOCR()


def page_lines(engine, page, scale: float) -> list[tuple[list[str], list[tuple[float, float, float, float]]]]:
    """(characters, their boxes as page fractions) of each text line OCR finds on the page."""
    import numpy as np

    image = page.render(scale=scale).to_numpy()
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    height, width = image.shape[:2]
    result, _ = engine(np.ascontiguousarray(image))
    found = []
    for polygon, text, score in result or []:
        text = " ".join(str(text).split())
        if not text:
            continue
        xs = [p[0] for p in polygon]
        ys = [p[1] for p in polygon]
        found.append((min(ys) / height, min(xs) / width, max(xs) / width, max(ys) / height, text))
    found.sort(key=lambda f: (f[0], f[1]))
    lines: list[list[tuple[float, float, float, float, str]]] = []
    for item in found:  # words whose vertical middles fall inside the line's box join it
        middle = (item[0] + item[3]) / 2
        if lines and lines[-1][0][0] <= middle <= lines[-1][0][3]:
            lines[-1].append(item)
        else:
            lines.append([item])
    out = []
    for line in lines:
        chars: list[str] = []
        rows: list[tuple[float, float, float, float]] = []
        for top, left, right, bottom, text in sorted(line, key=lambda f: f[1]):
            if chars:
                chars.append(" ")
                rows.append((0.0, 0.0, 0.0, 0.0))
            step = (right - left) / len(text)
            for i, char in enumerate(text):
                chars.append(char)
                rows.append((left + i * step, top, left + (i + 1) * step, bottom))
        out.append((chars, rows))
    return out
