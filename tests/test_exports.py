"""The exports of d2l_helpers.publish: offline HTML pages and reveal.js decks.

A tiny fixture notebook goes through the real pipeline (papermill, then both
exporters) once per session; the exports of it, and every committed export in
slides/, are then opened in headless Chromium with every request that is not
file:// or loopback blocked and reported.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tools import publish

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CDN_HOSTS = ("unpkg.com", "cdnjs.cloudflare.com", "cdn.jsdelivr.net", "fonts.googleapis.com",
             "fonts.gstatic.com", "code.jquery.com", "cdn.mathjax.org")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
LOCAL_SCHEMES = ("file", "data", "blob", "about")
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


# --- how many slides a notebook makes ----------------------------------------------

def expected_slides(nb) -> int:
    """The number of slides (Reveal.getTotalSlides()) nbconvert's reveal export makes of `nb`.

    nbconvert wraps every "slide" in a horizontal <section> holding one vertical
    <section> per subslide (the slide itself opens the first), and reveal counts
    those vertical sections. "fragment" and "-" cells join the current
    subslide, "notes" become speaker notes in it, "skip" cells vanish. The first
    cell that is neither notes nor skip opens a slide whatever its type. publish
    also hides papermill's injected-parameters cell, so it counts as skip.
    """
    count = 0
    for cell in nb.cells:
        slideshow = cell.get("metadata", {}).get("slideshow", {})
        kind = slideshow.get("slide_type", "-") if isinstance(slideshow, dict) else "-"
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            kind = "skip"
        if kind in ("skip", "notes"):
            continue
        if count == 0 or kind in ("slide", "subslide"):
            count += 1
    return count


def _meta(kind, **extra):
    return {"slideshow": {"slide_type": kind}, **extra}


def fixture_notebook(folder: Path) -> Path:
    """Write the fixture notebook (and a PNG its markdown shows) into `folder`."""
    import matplotlib.image

    matplotlib.image.imsave(folder / "tiny.png", [[0.0, 1.0], [1.0, 0.0]], cmap="gray")
    plot = ("%matplotlib inline\nimport matplotlib.pyplot as plt\n"
            "plt.plot([1, 3, 2])\nplt.title('a plot')\nplt.show()")
    nb = new_notebook(cells=[
        new_markdown_cell("# Fixture deck\nThe first cell opens a slide without any metadata."),
        new_code_cell('preset = "auto"', metadata=_meta("skip", tags=["parameters"])),
        new_markdown_cell("## Code", metadata=_meta("slide")),
        new_code_cell('print("preset is", preset)', metadata=_meta("-")),
        new_markdown_cell("- a fragment", metadata=_meta("fragment")),
        new_markdown_cell("Speaker notes.", metadata=_meta("notes")),
        new_code_cell(plot, metadata=_meta("subslide")),
        new_markdown_cell("Never shown.", metadata=_meta("skip")),
        new_markdown_cell("## The end\n![tiny](tiny.png) [Again](fixture.ipynb#Code)",
                          metadata=_meta("slide")),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}})
    path = folder / "fixture.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="session")
def fixture_export(tmp_path_factory):
    """The fixture notebook, executed by papermill with preset=smoke and exported."""
    folder = tmp_path_factory.mktemp("publish")
    path = fixture_notebook(folder)
    publish.execute(path, {"preset": "smoke"})
    out = folder / "slides"
    html, deck = publish.export(path, out)
    return path, html, deck


# --- without a browser -------------------------------------------------------------

def test_expected_slides_of_fixture(tmp_path):
    nb = nbformat.read(fixture_notebook(tmp_path), as_version=4)
    assert expected_slides(nb) == 4  # title, "Code", its plot subslide, "The end"


def test_injected_parameters_are_hidden_and_notebook_valid(fixture_export):
    path, _, _ = fixture_export
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert "preset = \"smoke\"" in injected[0].source
    assert injected[0].metadata["slideshow"] == {"slide_type": "skip"}
    printed = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert "preset is smoke\n" in printed


def test_parameters_only_for_notebooks_with_a_parameters_cell(tmp_path, monkeypatch):
    import papermill

    calls = []
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **kw: calls.append(kw))
    path = tmp_path / "plain.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("# Plain")]), path)
    publish.execute(path, {"preset": "smoke"})
    assert calls[0]["parameters"] == {}
    assert calls[0]["cwd"] == str(tmp_path) and calls[0]["log_output"] is True


@pytest.mark.parametrize("text, expected", [
    ("epochs=3", ("epochs", 3)),
    ("lr=0.1", ("lr", 0.1)),
    ("preset=smoke", ("preset", "smoke")),
    ("preset='smoke'", ("preset", "smoke")),
    ("limits=[1, 2]", ("limits", [1, 2])),
])
def test_parse_parameter(text, expected):
    assert publish.parse_parameter(text) == expected


@pytest.mark.parametrize("text", ["epochs", "=3", "two words=1"])
def test_parse_parameter_rejects(text):
    with pytest.raises(Exception, match="KEY=VALUE"):
        publish.parse_parameter(text)


def _local_loads(html: str):
    return re.findall(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", html)


def test_exports_load_nothing_from_the_network(fixture_export):
    _, *pages = fixture_export
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert publish.remote_references(html) == []
        assert not [host for host in CDN_HOSTS if host in html.lower()], page.name
        loads = _local_loads(html)
        assert loads, f"{page.name} loads no script or style sheet at all?"
        for ref in loads:
            assert not re.match(r"(?:[a-z]+:)?//", ref), ref
            assert (page.parent / ref).is_file(), f"{page.name}: {ref} is missing"


def test_links_between_notebooks_follow_the_export(fixture_export):
    _, html, deck = fixture_export
    assert 'href="fixture.html#Code"' in html.read_text(encoding="utf-8")
    assert 'href="fixture.slides.html#Code"' in deck.read_text(encoding="utf-8")


def test_default_templates_would_use_cdns(fixture_export):
    """The check above would notice if publish stopped overriding nbconvert's CDN defaults."""
    from nbconvert import HTMLExporter, SlidesExporter

    path, _, _ = fixture_export
    nb = nbformat.read(path, as_version=4)
    for exporter in (HTMLExporter(), SlidesExporter()):
        body, _ = exporter.from_notebook_node(nb)
        assert publish.remote_references(body), type(exporter).__name__


def test_main_skips_missing_notebooks(tmp_path, monkeypatch, fixture_export, capsys):
    source, _, _ = fixture_export
    shutil.copy(source, tmp_path / "compare.ipynb")
    monkeypatch.setattr(publish, "NOTEBOOK_DIR", tmp_path)
    out = tmp_path / "out"
    assert publish.main(["--no-execute", "--only", "alexnet-mxnet", "compare",
                         "--output-dir", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.html")) == ["compare.html", "compare.slides.html"]
    assert (out / "vendor" / "reveal.js" / "dist" / "reveal.js").is_file()
    assert "skipping alexnet-mxnet" in capsys.readouterr().err
    assert publish.main(["--no-execute", "--only", "overview", "--output-dir", str(out)]) == 1


# --- in Chromium ---------------------------------------------------------------------

def _chromium() -> str | None:
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright; skipped without it (except on CI)."""
    executable = _chromium()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("CI must provide Chromium (/usr/bin/chromium or `chromium` on PATH)")
        pytest.skip("Chromium not found (/usr/bin/chromium or `chromium` on PATH): "
                    "apt-get install chromium to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class Visit:
    """A page opened from a file:// URL, recording errors and every non-local request."""

    def __init__(self, browser, path: Path):
        self.errors: list[str] = []
        self.remote: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("request", self._record)
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))
        self.page.goto(path.as_uri())

    def _is_local(self, url: str) -> bool:
        parsed = urlparse(url)
        return parsed.scheme in LOCAL_SCHEMES or parsed.hostname in LOOPBACK

    def _record(self, request):
        if not self._is_local(request.url):
            self.remote.append(request.url)

    def _route(self, route):
        if self._is_local(route.request.url):
            route.continue_()
        else:
            route.abort()

    def images_loaded(self) -> list[str]:
        """Wait for every <img> to decode; return the src (shortened) of those that did not."""
        return self.page.evaluate("""async () => {
            const imgs = [...document.querySelectorAll('img')];
            await Promise.all(imgs.map(i => i.decode().catch(() => null)));
            return imgs.filter(i => !(i.complete && i.naturalWidth > 0))
                       .map(i => i.getAttribute('src').slice(0, 80));
        }""")

    def assert_clean(self):
        assert self.remote == [], f"requests outside file:// and loopback: {self.remote}"
        assert self.errors == []

    def close(self):
        self.context.close()


def check_deck(browser, deck: Path, expected: int, shot: str, require_plot: bool):
    """Open a reveal.js export and check it renders `expected` slides, images and no errors."""
    ARTIFACTS.mkdir(exist_ok=True)
    html = deck.read_text(encoding="utf-8")
    # The template loads reveal.js with require.js (AMD), so there is no global Reveal.
    reveal_js = re.search(r'"([^"]*/dist/reveal\.js)"', html).group(1)
    visit = Visit(browser, deck)
    try:
        page = visit.page
        page.wait_for_selector(".reveal.ready", state="attached", timeout=20_000)
        page.evaluate("url => new Promise((ok, fail) => require([url], R => { window.Reveal = R;"
                      " ok(); }, fail))", reveal_js)
        assert page.evaluate("Reveal.isReady()")
        assert page.evaluate("Reveal.getTotalSlides()") == expected, (
            f"{deck.name}: slide count differs from the notebook's slide metadata "
            "(stale export? run make run)")
        assert visit.images_loaded() == []
        page.evaluate("Reveal.configure({transition: 'none'}); Reveal.slide(0, 0)")
        page.screenshot(path=str(ARTIFACTS / f"{shot}-title.png"))
        plot = page.evaluate("""() => {
            const plot = s => s.querySelector('.jp-OutputArea-output img');
            const slide = Reveal.getSlides().find(plot);
            return slide ? Reveal.getIndices(slide) : null;
        }""")
        if require_plot:
            assert plot, f"{deck.name}: no slide with a plot"
        if plot:
            page.evaluate("([h, v]) => Reveal.slide(h, v)", [plot["h"], plot["v"]])
            page.locator("section.present .jp-OutputArea-output img").first.wait_for()
            page.screenshot(path=str(ARTIFACTS / f"{shot}-plot.png"))
        visit.assert_clean()
    finally:
        visit.close()


def check_page(browser, page_path: Path, shot: str):
    """Open a static HTML export and check code cells show, images load and nothing errs."""
    ARTIFACTS.mkdir(exist_ok=True)
    visit = Visit(browser, page_path)
    try:
        page = visit.page
        page.wait_for_load_state("load")
        cells = page.locator(".jp-CodeCell")
        assert cells.count() > 0, f"{page_path.name}: no code cells"
        assert cells.first.is_visible()
        assert visit.images_loaded() == []
        page.screenshot(path=str(ARTIFACTS / f"{shot}-page.png"))
        visit.assert_clean()
    finally:
        visit.close()


@pytest.mark.browser
def test_fixture_deck_in_browser(browser, fixture_export):
    path, _, deck = fixture_export
    expected = expected_slides(nbformat.read(path, as_version=4))
    check_deck(browser, deck, expected, "fixture", require_plot=True)


@pytest.mark.browser
def test_fixture_page_in_browser(browser, fixture_export):
    _, page, _ = fixture_export
    check_page(browser, page, "fixture")


@pytest.mark.browser
def test_browser_checks_notice_cdn_loads(browser, fixture_export, tmp_path):
    """Guards the guard: nbconvert's default deck does reach for CDNs, and Visit reports it."""
    from nbconvert import SlidesExporter

    path, _, _ = fixture_export
    body, _ = SlidesExporter().from_notebook_node(nbformat.read(path, as_version=4))
    deck = tmp_path / "default.slides.html"
    deck.write_text(body, encoding="utf-8")
    visit = Visit(browser, deck)
    try:
        assert any(urlparse(url).hostname in CDN_HOSTS for url in visit.remote), visit.remote
    finally:
        visit.close()


def _committed(pattern: str, exclude: str | None = None):
    found = sorted(p for p in publish.SLIDES_DIR.glob(pattern)
                   if not (exclude and p.name.endswith(exclude)))
    if not found:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"no slides/{pattern} committed yet: run make run first"))]
    return [pytest.param(p, id=p.name) for p in found]


def _source_notebook(export: Path) -> Path:
    stem = export.name.split(".")[0]
    notebook = publish.NOTEBOOK_DIR / f"{stem}.ipynb"
    assert notebook.is_file(), f"{export.name} has no notebooks/{stem}.ipynb: stale export?"
    return notebook


@pytest.mark.browser
@pytest.mark.parametrize("deck", _committed("*.slides.html"))
def test_committed_deck_in_browser(browser, deck):
    expected = expected_slides(nbformat.read(_source_notebook(deck), as_version=4))
    check_deck(browser, deck, expected, deck.name.split(".")[0], require_plot=False)


@pytest.mark.browser
@pytest.mark.parametrize("page", _committed("*.html", exclude=".slides.html"))
def test_committed_page_in_browser(browser, page):
    _source_notebook(page)
    check_page(browser, page, page.stem)
