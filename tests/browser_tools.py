"""What the browser tests and scripts/screenshot.py share: the app served from a thread on a free
local port, Debian's Chromium driven by Playwright, and asking a question as a person does."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--no-first-run",
    "--disable-sync", "--disable-default-apps", "--disable-extensions", "--mute-audio",
]
INSTALL_HINT = (
    f"Chromium is not installed at {CHROMIUM}: install it with "
    "`apt-get update && apt-get install -y chromium` (Debian) to run the browser tests"
)
WAIT_MS = 120_000
"""How long a step may take on a slow, shared machine before the test gives up (not a speed check)."""


@contextmanager
def serving(index) -> Iterator[str]:
    """The whole app (page + HTTP API) over `index`, on 127.0.0.1 at a free port; yields its URL."""
    import uvicorn

    from rag.serve import page as app

    server = uvicorn.Server(uvicorn.Config(app.build_app(index), host="127.0.0.1", port=0,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="rag-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_MS / 1000
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def chromium():
    """A headless Chromium from Debian's package, or RuntimeError(INSTALL_HINT) when absent."""
    if not CHROMIUM.exists():
        raise RuntimeError(INSTALL_HINT)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def local_only(context, base_url: str) -> list[str]:
    """Block every request that leaves the app's server; returns the list of blocked URLs."""
    blocked: list[str] = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith((base_url, "data:", "blob:", "about:")):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    context.route("**/*", route)
    return blocked


def open_page(browser, url: str, width: int = 1100, height: int = 900):
    """A new browser context of that viewport, loopback only and with the slow-machine timeout,
    and its page at the app's front page, loaded. `page.blocked` lists the requests it tried to
    send elsewhere, `page.errors` its script errors; close with `page.context.close()`."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(WAIT_MS)
    blocked = local_only(context, url)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(url + "/")
    page.locator("#question textarea").wait_for()
    page.blocked = blocked
    return page


def ask(page, question: str):
    """Type `question`, press Enter, and return the locator of the answer that appears."""
    turns = page.locator("#conversation .turn")
    before = turns.count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    answer = turns.nth(before).locator(".answer")
    answer.wait_for(state="visible", timeout=WAIT_MS)
    return answer
