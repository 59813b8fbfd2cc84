"""Regenerate docs/screenshot.png: the page answering a question, taken in Debian's Chromium with
the same tooling as the browser tests (tests/browser_tools.py).

Run from the repo root, inside the environment: python scripts/screenshot.py [--out PATH]
It builds the index of seeds/ into index/ first when missing or stale, like scripts/run.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUESTION = "What did NATO's Secretary General say about North Korean troops in Ukraine?"
WIDTH, HEIGHT = 1000, 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--question", default=QUESTION)
    args = parser.parse_args(argv)

    from rag.config import Settings
    from rag.index import ensure_index
    from tests.browser_tools import WAIT_MS, ask, chromium, local_only, serving

    index = ensure_index(Settings.from_env(), say=print)
    with serving(index) as url, chromium() as browser:
        context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        context.set_default_timeout(WAIT_MS)
        local_only(context, url)
        page = context.new_page()
        page.goto(url + "/")
        ask(page, args.question).locator("article.card").first.wait_for()
        page.evaluate("window.scrollTo(0, 0)")
        png = page.screenshot(full_page=False)
        context.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(_small(png))
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")
    return 0


def _small(png: bytes) -> bytes:
    """The screenshot as a 256-colour PNG: text and flat colours lose nothing visible."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


if __name__ == "__main__":
    sys.exit(main())
