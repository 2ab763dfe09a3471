"""PDF handouts: a reveal.js deck printed by headless Chromium, one page per slide.

reveal.js lays a deck out for print when its URL carries `?print-pdf`: every
slide gets a page of its own. The decks `tools.publish` exports configure that
view for handouts (no extra pages for fragments or tall slides; a slide that
does not fit its page is scaled down to it) and mark the page `data-handout`
once it is laid out; Chromium then prints it at the page size reveal.js asks
for. Nothing is fetched from the network: a request outside file:// is refused
and reported.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
LOCAL_SCHEMES = ("file", "data", "blob", "about")
TIMEOUT_MS = 60_000


class HandoutError(RuntimeError):
    """A deck that cannot be printed as a handout (no Chromium, a remote load, a wrong page count)."""


def find_chromium() -> str | None:
    """The Chromium executable to drive (Debian's /usr/bin/chromium, else `chromium` on PATH), or None."""
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def launch(playwright):
    """Start headless Chromium (the system's: Playwright's own browser builds are not used)."""
    executable = find_chromium()
    if executable is None:
        raise HandoutError("Chromium not found (/usr/bin/chromium or `chromium` on PATH): install it "
                           "(apt-get install chromium) or skip the handouts (--no-pdf)")
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)


def print_handout(deck: Path, target: Path | None = None, browser=None) -> Path:
    """Print the reveal.js deck at `deck` to `target` (default: `<name>.pdf` beside it); return it.

    Uses `browser` (a Playwright Chromium) when given, else starts one. Raises
    HandoutError if the page tries to load anything that is not local, or if the
    PDF's page count differs from the deck's slide count.
    """
    target = target or deck.with_name(deck.name.split(".")[0] + ".pdf")
    if browser is not None:
        _print(browser, deck, target)
        return target
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            _print(browser, deck, target)
        finally:
            browser.close()
    return target


def _print(browser, deck: Path, target: Path) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    remote: list[str] = []

    def route(request_route):
        url = request_route.request.url
        if urlparse(url).scheme in LOCAL_SCHEMES:
            request_route.continue_()
        else:
            remote.append(url)
            request_route.abort()

    context = browser.new_context()
    try:
        context.route("**/*", route)
        # A script error would stop the layout: it ends the wait at once, with its message.
        context.add_init_script("window.addEventListener('error', e => document.documentElement"
                                ".setAttribute('data-handout', 'error: ' + e.message))")
        page = context.new_page()
        page.goto(deck.resolve().as_uri() + "?print-pdf", timeout=TIMEOUT_MS)
        try:
            page.wait_for_selector("html[data-handout]", state="attached", timeout=TIMEOUT_MS)
        except PlaywrightTimeout:
            raise HandoutError(f"{deck.name} did not lay out its print view within {TIMEOUT_MS // 1000} s "
                               "(a deck exported before handouts existed? export it again)") from None
        state = page.get_attribute("html", "data-handout")
        if state != "ready":
            raise HandoutError(f"{deck.name}: its print view failed ({state})")
        page.evaluate("document.fonts.ready.then(() => true)")
        slides = page.locator(".reveal .pdf-page").count()
        if remote:
            raise HandoutError(f"{deck.name} tried to load from the network: {', '.join(remote)}")
        target.parent.mkdir(parents=True, exist_ok=True)
        page.pdf(path=str(target), print_background=True, prefer_css_page_size=True)
    finally:
        context.close()
    pages = page_count(target)
    if pages != slides:
        raise HandoutError(f"{target.name} has {pages} pages for {slides} slides")


def page_count(pdf: Path) -> int:
    """The number of pages of the PDF file at `pdf`."""
    from pypdf import PdfReader

    return len(PdfReader(pdf).pages)
