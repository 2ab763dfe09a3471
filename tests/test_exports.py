"""The exports of tools.publish: offline HTML pages, reveal.js decks and PDF handouts.

A tiny fixture notebook goes through the real pipeline (papermill, then both
exporters, then the handout) once per session; the exports of it, and every
committed export in slides/, are then opened in headless Chromium with every
request that is not file:// or loopback blocked and reported. Decks are
visited slide by slide at 1280×800: nothing may be cut off out of reach, each
notes cell must be in its slide's speaker notes, and each handout must have one
non-blank page per slide.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from tools import handouts, publish

CDN_HOSTS = ("unpkg.com", "cdnjs.cloudflare.com", "cdn.jsdelivr.net", "fonts.googleapis.com",
             "fonts.gstatic.com", "code.jquery.com", "cdn.mathjax.org")
LOCAL_SCHEMES = ("file", "data", "blob", "about")
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
VIEWPORT = {"width": 1280, "height": 800}  # the notebooks' RISE size, and a common projector's
# RISE settings as the notebooks write them (a height as CSS, too).
RISE = {"scroll": True, "transition": "none", "theme": "white", "width": 1280, "height": "800px",
        "enable_chalkboard": False}


# --- how many slides a notebook makes ----------------------------------------------

def slide_types(nb):
    """(slide type, index of the slide it is on or -1 before the first) for every cell of `nb`.

    nbconvert wraps every "slide" in a horizontal <section> holding one vertical
    <section> per subslide (the slide itself opens the first), and reveal counts
    those vertical sections. "fragment" and "-" cells join the current
    subslide, "notes" become speaker notes in it, "skip" cells vanish. The first
    cell that is neither notes nor skip opens a slide whatever its type. The cells
    publish leaves out (papermill's injected-parameters cell) count as skip.
    RISE builds its live slideshow by the same rules.
    """
    count = 0
    for cell in nb.cells:
        slideshow = cell.get("metadata", {}).get("slideshow", {})
        kind = slideshow.get("slide_type", "-") if isinstance(slideshow, dict) else "-"
        if set(publish.REMOVED_CELL_TAGS) & set(cell.get("metadata", {}).get("tags", [])):
            kind = "skip"
        if kind not in ("skip", "notes") and (count == 0 or kind in ("slide", "subslide")):
            count += 1
        yield kind, count - 1


def expected_slides(nb) -> int:
    """The number of slides (Reveal.getTotalSlides()) nbconvert's reveal export makes of `nb`."""
    return max((index + 1 for _, index in slide_types(nb)), default=0)


def expected_notes(nb) -> list[int]:
    """For each notes cell of `nb`, in order, the index of the slide whose speaker notes it is.

    A notes cell before the first slide belongs to none: its index is -1, which no
    slide has, so a deck that lost it fails the comparison.
    """
    return [index for kind, index in slide_types(nb) if kind == "notes"]


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


def tall_notebook(folder: Path, scroll: bool) -> Path:
    """A deck at 1280×800 whose second slide, 70 lines of code, is far taller than the screen."""
    code = "\n".join(f"line_{i} = {i}  # one of seventy" for i in range(70))
    nb = new_notebook(cells=[
        new_markdown_cell("# Tall deck", metadata=_meta("slide")),
        new_markdown_cell("What the audience does not see.", metadata=_meta("notes")),
        new_code_cell(code, metadata=_meta("slide")),
        new_markdown_cell("- and a fragment", metadata=_meta("fragment")),
        new_markdown_cell("## The end", metadata=_meta("slide")),
    ], metadata={"rise": {**RISE, "scroll": scroll}})
    path = folder / f"tall-{'scroll' if scroll else 'cut'}.ipynb"
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


def test_expected_notes_of_fixture(tmp_path):
    nb = nbformat.read(fixture_notebook(tmp_path), as_version=4)
    assert expected_notes(nb) == [1]  # on "Code"
    nb.cells.insert(0, new_markdown_cell("Before any slide.", metadata=_meta("notes")))
    assert expected_notes(nb) == [-1, 1]


@pytest.mark.slow  # papermill runs the fixture notebook
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


def test_a_notebook_gets_only_the_parameters_it_takes(tmp_path, monkeypatch, caplog):
    import papermill

    calls = []
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **kw: calls.append(kw))
    path = tmp_path / "lesson.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("batch = 16", metadata={"tags": ["parameters"]})],
                                metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                          "language": "python"}}), path)
    with caplog.at_level("INFO", logger="tools.publish"):
        publish.execute(path, {"preset": "smoke", "batch": 2})
    assert calls[0]["parameters"] == {"batch": 2}
    assert "lesson.ipynb does not take preset" in caplog.text


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


@pytest.mark.slow  # papermill runs the fixture notebook
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


@pytest.mark.slow  # papermill runs the fixture notebook
def test_links_between_notebooks_follow_the_export(fixture_export):
    _, html, deck = fixture_export
    assert 'href="fixture.html#Code"' in html.read_text(encoding="utf-8")
    assert 'href="fixture.slides.html#Code"' in deck.read_text(encoding="utf-8")


@pytest.mark.slow  # papermill runs the fixture notebook
def test_default_templates_would_use_cdns(fixture_export):
    """The check above would notice if publish stopped overriding nbconvert's CDN defaults."""
    from nbconvert import HTMLExporter, SlidesExporter

    path, _, _ = fixture_export
    nb = nbformat.read(path, as_version=4)
    for exporter in (HTMLExporter(), SlidesExporter()):
        body, _ = exporter.from_notebook_node(nb)
        assert publish.remote_references(body), type(exporter).__name__


@pytest.mark.slow  # papermill runs the fixture notebook
def test_main_skips_missing_notebooks(tmp_path, monkeypatch, fixture_export, capsys):
    source, _, _ = fixture_export
    shutil.copy(source, tmp_path / "compare.ipynb")
    monkeypatch.setattr(publish, "NOTEBOOK_DIR", tmp_path)
    out = tmp_path / "out"
    assert publish.main(["--no-execute", "--no-pdf", "--only", "alexnet-mxnet", "compare",
                         "--output-dir", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["compare.html", "compare.slides.html"]
    assert (out / "vendor" / "reveal.js" / "dist" / "reveal.js").is_file()
    assert "skipping alexnet-mxnet" in capsys.readouterr().err
    assert publish.main(["--no-execute", "--no-pdf", "--only", "overview", "--output-dir", str(out)]) == 1


@pytest.mark.slow  # papermill runs the fixture notebook
def test_main_prints_a_handout_of_each_deck(tmp_path, monkeypatch, fixture_export):
    source, _, _ = fixture_export
    shutil.copy(source, tmp_path / "compare.ipynb")
    monkeypatch.setattr(publish, "NOTEBOOK_DIR", tmp_path)
    printed = []

    def print_handout(deck):
        printed.append(deck)
        return deck.with_name("compare.pdf")

    monkeypatch.setattr(handouts, "find_chromium", lambda: "/usr/bin/chromium")
    monkeypatch.setattr(handouts, "print_handout", print_handout)
    out = tmp_path / "out"
    assert publish.main(["--no-execute", "--only", "compare", "--output-dir", str(out)]) == 0
    assert printed == [out / "compare.slides.html"]


def test_main_without_chromium_stops_before_running_anything(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(handouts, "find_chromium", lambda: None)
    monkeypatch.setattr(publish, "execute", lambda *a: pytest.fail("executed a notebook"))
    assert publish.main(["--only", "compare", "--output-dir", str(tmp_path)]) == 1
    assert "--no-pdf" in capsys.readouterr().err


def test_deck_settings_follow_the_notebooks_rise_settings():
    settings = publish.deck_settings(new_notebook(metadata={"rise": RISE}))
    assert settings["theme"] == "white" and settings["scroll"] is True
    assert settings["config"] == {"transition": "none", "width": 1280, "height": 800,
                                  "pdfSeparateFragments": False, "pdfMaxPagesPerSlide": 1}


def test_deck_settings_without_rise_settings():
    settings = publish.deck_settings(new_notebook())
    assert (settings["theme"], settings["scroll"]) == ("white", False)
    assert settings["config"]["transition"] == "slide"
    assert (settings["config"]["width"], settings["config"]["height"]) == (960, 700)


def test_every_notebook_asks_for_a_deck_that_fits_1280_by_800():
    """The settings the browser checks below assume: scrolling slides of 1280×800."""
    for name in publish.NOTEBOOKS:
        settings = publish.deck_settings(nbformat.read(publish.NOTEBOOK_DIR / f"{name}.ipynb", as_version=4))
        assert settings["scroll"], name
        assert (settings["config"]["width"], settings["config"]["height"]) == (1280, 800), name


def test_export_writes_the_rise_settings_into_the_deck(tmp_path):
    path = tall_notebook(tmp_path, scroll=True)
    _, deck = publish.export(path, tmp_path / "out")
    body = deck.read_text(encoding="utf-8")
    assert '"transition": "none"' in body and '"width": 1280' in body
    assert "max-height: 100%; overflow-y: auto" in body  # the style of a scrolling slide
    assert '<aside class="notes">' in body
    _, cut = publish.export(tall_notebook(tmp_path, scroll=False), tmp_path / "out")
    assert "max-height: 100%; overflow-y: auto" not in cut.read_text(encoding="utf-8")


def test_export_refuses_a_theme_that_is_not_vendored(tmp_path):
    path = tmp_path / "league.ipynb"
    nbformat.write(new_notebook(cells=[new_markdown_cell("# x")], metadata={"rise": {"theme": "league"}}), path)
    with pytest.raises(publish.PublishError, match="fetch.sh"):
        publish.export(path, tmp_path / "out")
    assert not list((tmp_path / "out").glob("*.html"))


def executed_notebook(folder: Path, last_output: str = "done\n") -> Path:
    """A notebook as papermill leaves it, outputs included (no kernel needed): a parameters cell,
    papermill's copy of it, a plumbing cell tagged remove-input and a plain code cell that prints
    `last_output`."""
    def code(source, tags, kind, text, count):
        return new_code_cell(source, metadata=_meta(kind, tags=tags), execution_count=count,
                             outputs=[new_output("stream", name="stdout", text=text)])

    nb = new_notebook(cells=[
        new_markdown_cell("# Executed", metadata=_meta("slide")),
        code("batch = 16", ["parameters"], "skip", "", 1),
        code("batch = 'injected_value'", ["injected-parameters"], "skip", "", 2),
        code("plumbing_call()", ["remove-input"], "-", "what the plumbing shows\n", 3),
        code("lesson_call()", [], "-", last_output, 4),
    ], metadata={"rise": RISE})
    path = folder / "executed.ipynb"
    nbformat.write(nb, path)
    return path


def test_exports_leave_out_injected_parameters_and_hidden_inputs(tmp_path):
    """The page and the deck (which the handout prints) show neither papermill's copy of the
    parameters nor the code of a remove-input cell, but that cell's output and the lesson's code."""
    for page in publish.export(executed_notebook(tmp_path), tmp_path / "out"):
        html = page.read_text(encoding="utf-8")
        assert "injected_value" not in html and "plumbing_call" not in html, page.name
        assert "what the plumbing shows" in html and "lesson_call" in html, page.name
    # the notebook itself keeps both, for whoever runs it
    sources = [c.source for c in nbformat.read(tmp_path / "executed.ipynb", as_version=4).cells]
    assert "batch = 'injected_value'" in sources and "plumbing_call()" in sources


@pytest.mark.parametrize("text, expected", [
    ("saved to /work/main/build/checkpoints/alexnet-jax.\n", ["/work/main/build/checkpoints/alexnet-jax"]),
    ("see /home/ada/x.json, /root/.cache/y and /tmp/pytest-1/z", ["/home/ada/x.json", "/root/.cache/y",
                                                                  "/tmp/pytest-1/z"]),
    ("run record: ../results/alexnet-jax.json", []),
    ("https://example.org/home/page and ~/work/x and a/tmp/b", []),
])
def test_machine_paths_in_outputs(text, expected):
    nb = new_notebook(cells=[new_code_cell("x", outputs=[new_output("stream", name="stdout", text=text)])])
    assert publish.machine_paths(nb) == [f"cell 0: {path}" for path in expected]


def test_machine_paths_in_rich_outputs_and_errors_but_not_in_images():
    html = '<p>/home/ada/a.csv</p><img src="data:image/png;base64,AAAA/home/BBBB/tmp/CC=="/>'
    outputs = [new_output("display_data", data={"text/html": html, "image/png": "iVBOR/tmp/x/home/y"}),
               new_output("error", ename="OSError", evalue="no /tmp/z", traceback=["at /work/q.py"])]
    nb = new_notebook(cells=[new_markdown_cell("/home/in/prose"), new_code_cell("x", outputs=outputs)])
    assert publish.machine_paths(nb) == ["cell 1: /home/ada/a.csv", "cell 1: /tmp/z", "cell 1: /work/q.py"]


def test_export_refuses_outputs_that_show_machine_paths(tmp_path):
    path = executed_notebook(tmp_path, last_output="checkpoint in /tmp/ckpt/alexnet\n")
    with pytest.raises(publish.PublishError, match="paths of this machine.*cell 4: /tmp/ckpt/alexnet"):
        publish.export(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", publish.NOTEBOOKS)
def test_committed_notebook_outputs_show_no_machine_paths(name):
    nb = nbformat.read(publish.NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    assert publish.machine_paths(nb) == [], f"{name}.ipynb: outputs show paths of this machine"


# --- in Chromium ---------------------------------------------------------------------

class Visit:
    """A page opened from a file:// URL at 1280×800, recording errors and every non-local request."""

    def __init__(self, browser, path: Path):
        self.errors: list[str] = []
        self.remote: list[str] = []
        self.context = browser.new_context(viewport=VIEWPORT)
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


def open_deck(browser, deck: Path) -> Visit:
    """Open a reveal.js export, wait for reveal.js, and expose it as window.Reveal, transitions off."""
    html = deck.read_text(encoding="utf-8")
    # The template loads reveal.js with require.js (AMD), so there is no global Reveal.
    reveal_js = re.search(r'"([^"]*/dist/reveal\.js)"', html).group(1)
    visit = Visit(browser, deck)
    page = visit.page
    page.wait_for_selector(".reveal.ready", state="attached", timeout=20_000)
    page.evaluate("url => new Promise((ok, fail) => require([url], R => { window.Reveal = R;"
                  " ok(); }, fail))", reveal_js)
    assert page.evaluate("Reveal.isReady()")
    page.evaluate("Reveal.configure({transition: 'none'}); Reveal.slide(0, 0)")
    return visit


def check_deck(browser, deck: Path, expected: int, shot: str, require_plot: bool, artifacts: Path):
    """Open a reveal.js export and check it renders `expected` slides, images and no errors."""
    visit = open_deck(browser, deck)
    try:
        page = visit.page
        assert page.evaluate("Reveal.getTotalSlides()") == expected, (
            f"{deck.name}: slide count differs from the notebook's slide metadata "
            "(stale export? run make run)")
        assert visit.images_loaded() == []
        page.screenshot(path=str(artifacts / f"{shot}-title.png"))
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
            page.screenshot(path=str(artifacts / f"{shot}-plot.png"))
        visit.assert_clean()
    finally:
        visit.close()


def check_page(browser, page_path: Path, shot: str, artifacts: Path):
    """Open a static HTML export and check code cells show, images load and nothing errs."""
    visit = Visit(browser, page_path)
    try:
        page = visit.page
        page.wait_for_load_state("load")
        cells = page.locator(".jp-CodeCell")
        assert cells.count() > 0, f"{page_path.name}: no code cells"
        assert cells.first.is_visible()
        assert visit.images_loaded() == []
        page.screenshot(path=str(artifacts / f"{shot}-page.png"))
        visit.assert_clean()
    finally:
        visit.close()


# Every element of `slide` that a reader must see (text of its own, or a picture) and cannot:
# part of it lies outside a box that clips it or outside the window, however far each box
# around it that scrolls is scrolled (one that clips without scrolling, overflow: hidden,
# cannot be scrolled by a reader at all). Assumes every box is scrolled to its start.
CUT_OFF_JS = """slide => {
  const media = new Set(['IMG', 'CANVAS', 'VIDEO', 'svg']);
  const hasText = el => [...el.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
  const problems = [];
  for (const el of slide.querySelectorAll('*')) {
    if (!(media.has(el.tagName) || hasText(el)) || el.closest('aside.notes')) continue;
    if (el.tagName !== 'svg' && el.closest('svg')) continue;  // the svg's own box covers it
    const box = el.getBoundingClientRect();
    if (!box.width && !box.height) continue;  // not displayed
    const r = {left: box.left, right: box.right, top: box.top, bottom: box.bottom};
    let cut = null;
    for (let a = el.parentElement; a && !cut; a = a.parentElement) {
      const style = getComputedStyle(a), c = a.getBoundingClientRect();
      // client and scroll sizes are in a's own units, which zoom or a transform may scale
      const k = {x: a.offsetWidth ? c.width / a.offsetWidth : 1, y: a.offsetHeight ? c.height / a.offsetHeight : 1};
      for (const [axis, lo, hi, overflow, start, size, full] of [
          ['x', 'left', 'right', style.overflowX, a.clientLeft, a.clientWidth, a.scrollWidth],
          ['y', 'top', 'bottom', style.overflowY, a.clientTop, a.clientHeight, a.scrollHeight]]) {
        if (overflow === 'visible') continue;
        const from = c[lo] + start * k[axis], to = from + size * k[axis];
        const range = overflow === 'auto' || overflow === 'scroll' ? (full - size) * k[axis] : 0;
        if (r[lo] < from - 1 || r[hi] > to + range + 1) {
          cut = `${axis} cut off by <${a.tagName.toLowerCase()} class="${a.className}">`;
          break;
        }
        // scrolled as far as it takes to show it, it is then seen through a's box
        const shift = Math.min(Math.max(r[hi] - to, 0), range);
        r[lo] = Math.max(r[lo] - shift, from);
        r[hi] = Math.min(r[hi] - shift, to);
      }
    }
    if (!cut && (r.left < -1 || r.top < -1 || r.right > innerWidth + 1 || r.bottom > innerHeight + 1)) {
      cut = 'outside the window';
    }
    if (cut) problems.push(`<${el.tagName.toLowerCase()}> "${el.textContent.trim().slice(0, 40)}": ${cut}`);
  }
  return problems;
}"""
# The smallest text a room can read on a 1280×800 screen, in pixels as shown (issue 33's limits).
READABLE_PX = {"code": 16, "prose": 20}
# Every element of `slide` whose own text is shown smaller than `readable` allows: its font size
# times the zoom of each box around it within the deck, times the scale reveal.js shows the deck at
# (below 1 it scales with a transform, above with zoom on .slides, where the walk stops). Code is
# text inside pre or code; the prompts ("In [3]:") are labels, not content.
SMALL_TEXT_JS = """([slide, readable]) => {
  const hasText = el => [...el.childNodes].some(n => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
  const problems = [];
  for (const el of slide.querySelectorAll('*')) {
    if (!hasText(el) || el.closest('aside.notes, .jp-InputPrompt, .jp-OutputPrompt')) continue;
    const box = el.getBoundingClientRect();
    if (!box.width && !box.height) continue;  // not displayed
    let shown = parseFloat(getComputedStyle(el).fontSize) * Reveal.getScale();
    for (let a = el; a && !a.classList.contains('slides'); a = a.parentElement) {
      shown *= parseFloat(getComputedStyle(a).zoom) || 1;
    }
    const kind = el.closest('pre, code') ? 'code' : 'prose';
    if (shown < readable[kind] - 0.01) {
      problems.push(`<${el.tagName.toLowerCase()}> "${el.textContent.trim().slice(0, 40)}": ` +
                    `${kind} shown at ${shown.toFixed(1)} px, under ${readable[kind]} px`);
    }
  }
  return problems;
}"""
# Whether the current slide needed help to fit: it scrolls.
OVERFLOWS_JS = """() => {
  const slide = Reveal.getCurrentSlide();
  return slide.scrollHeight > slide.clientHeight + 1 || slide.scrollWidth > slide.clientWidth + 1;
}"""


def unreadable_slides(visit: Visit, shot: str, artifacts: Path) -> list[str]:
    """Visit every slide, all fragments shown; return what is cut off and cannot be scrolled to,
    and text shown smaller than READABLE_PX.

    Each slide that had to scroll to fit is kept as `<shot>-fit-<h>-<v>.png`, and
    `...-end.png` scrolled to its end.
    """
    page = visit.page
    problems = []
    for index in page.evaluate("Reveal.getSlides().map(s => Reveal.getIndices(s))"):
        h, v = index["h"], index["v"]
        page.evaluate("([h, v]) => { Reveal.slide(h, v); while (Reveal.nextFragment()); }", [h, v])
        problems += [f"slide {h}/{v}: {p}" for p in page.evaluate(f"({CUT_OFF_JS})(Reveal.getCurrentSlide())")]
        problems += [f"slide {h}/{v}: {p}" for p in page.evaluate(
            f"({SMALL_TEXT_JS})([Reveal.getCurrentSlide(), {json.dumps(READABLE_PX)}])")]
        if page.evaluate(OVERFLOWS_JS):
            page.screenshot(path=str(artifacts / f"{shot}-fit-{h}-{v}.png"))
            if page.evaluate("(s => { s.scrollTop = s.scrollHeight; return s.scrollTop > 0; })"
                             "(Reveal.getCurrentSlide())"):
                page.screenshot(path=str(artifacts / f"{shot}-fit-{h}-{v}-end.png"))
                page.evaluate("Reveal.getCurrentSlide().scrollTop = 0")
    return problems


def check_speaker_notes(visit: Visit, expected: list[int], shot: str, artifacts: Path):
    """The notes cells are the speaker notes of the right slides, and the speaker view (key s) shows them."""
    page = visit.page
    found = page.evaluate("[...document.querySelectorAll('aside.notes')]"
                          ".map(a => Reveal.getSlides().indexOf(a.closest('section')))")
    assert found == expected, "notes cells and the slides whose speaker notes they are"
    if not expected:
        return
    page.evaluate("i => { const ix = Reveal.getIndices(Reveal.getSlides()[i]); Reveal.slide(ix.h, ix.v); }",
                  expected[0])
    notes = page.evaluate("i => Reveal.getSlides()[i].querySelector('aside.notes').textContent", expected[0])
    with visit.context.expect_page(timeout=10_000) as opened:
        page.keyboard.press("s")
    speaker_view = opened.value
    shown = speaker_view.locator(".speaker-controls-notes .value")
    speaker_view.wait_for_function(
        "() => document.querySelector('.speaker-controls-notes .value')?.textContent.trim()", timeout=15_000)
    assert " ".join(shown.inner_text().split()) == " ".join(notes.split())
    speaker_view.screenshot(path=str(artifacts / f"{shot}-speaker-view.png"))
    speaker_view.close()


def check_handout(pdf: Path, expected: int):
    """One page per slide, and none of them blank (each has text or a picture)."""
    from pypdf import PdfReader

    pages = PdfReader(pdf).pages
    assert len(pages) == expected, f"{pdf.name}: {len(pages)} pages for {expected} slides (stale? run make run)"
    blank = [number for number, page in enumerate(pages, 1) if not (page.extract_text().strip() or page.images)]
    assert blank == [], f"{pdf.name}: blank pages {blank}"


def pdftoppm() -> str:
    """poppler's pdftoppm, which renders PDF pages to PNG; skipped without it (except on CI)."""
    found = shutil.which("pdftoppm")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must provide pdftoppm (apt-get install poppler-utils)")
        pytest.skip("pdftoppm not found: apt-get install poppler-utils to render handout pages")
    return found


def render_page(pdf: Path, number: int, target: Path) -> Path:
    """Render page `number` of `pdf` to the PNG `target` with pdftoppm; check it is not blank."""
    from PIL import Image

    subprocess.run([pdftoppm(), "-png", "-r", "60", "-singlefile", "-f", str(number), "-l", str(number),
                    str(pdf), str(target.with_suffix(""))], check=True, timeout=60)
    with Image.open(target) as image:
        gray = image.convert("L")
        dark = sum(gray.histogram()[:200])  # pixels clearly darker than the white page
        assert dark > 0.002 * gray.width * gray.height, f"{target.name}: page {number} looks blank"
    return target


@pytest.mark.browser
def test_fixture_deck_in_browser(browser, fixture_export, artifacts):
    path, _, deck = fixture_export
    expected = expected_slides(nbformat.read(path, as_version=4))
    check_deck(browser, deck, expected, "fixture", require_plot=True, artifacts=artifacts)


@pytest.mark.browser
def test_fixture_page_in_browser(browser, fixture_export, artifacts):
    _, page, _ = fixture_export
    check_page(browser, page, "fixture", artifacts)


@pytest.mark.browser
def test_fixture_speaker_notes(browser, fixture_export, artifacts):
    path, _, deck = fixture_export
    expected = expected_notes(nbformat.read(path, as_version=4))
    assert expected == [1]  # on the "Code" slide
    visit = open_deck(browser, deck)
    try:
        check_speaker_notes(visit, expected, "fixture", artifacts)
    finally:
        visit.close()


@pytest.mark.browser
def test_fixture_handout(browser, fixture_export, artifacts):
    """The fragment on "Code" adds no page; the plot's subslide is a page of its own."""
    path, _, deck = fixture_export
    pdf = handouts.print_handout(deck, browser=browser)
    assert pdf == deck.parent / "fixture.pdf"
    check_handout(pdf, expected_slides(nbformat.read(path, as_version=4)))
    render_page(pdf, 3, artifacts / "fixture-handout-page-3.png")


@pytest.mark.browser
def test_fit_check_finds_a_slide_cut_off(browser, tmp_path, artifacts):
    """Guards the guard: without RISE's scroll the tall code slide is cut off, with it all is reachable."""
    for scroll, shot in ((False, "tall-cut"), (True, "tall-scroll")):
        deck = publish.export(tall_notebook(tmp_path, scroll), tmp_path / "out")[1]
        visit = open_deck(browser, deck)
        try:
            problems = unreadable_slides(visit, shot, artifacts)
        finally:
            visit.close()
        if scroll:
            assert problems == []
        else:
            assert problems and all(p.startswith("slide 1/0: ") for p in problems), problems[:10]
            assert any('"line_69"' in p for p in problems), problems[:10]


@pytest.mark.browser
def test_font_check_finds_small_print(browser, tmp_path, artifacts):
    """Guards the guard: prose, code in markdown and code cells at the deck's own sizes are readable;
    text set smaller, in markdown or in an output, is not."""
    tiny_output = new_output("display_data", data={"text/html": '<pre style="font-size:10px">tiny_code()</pre>'})
    nb = new_notebook(cells=[
        new_markdown_cell("# Sizes\nProse at the deck's size, `a code span` and\n```\na code block\n```",
                          metadata=_meta("slide")),
        new_code_cell("print('a code cell')", metadata=_meta("-")),
        new_markdown_cell('## Small\n\n<p style="font-size:12px">small print</p>', metadata=_meta("slide")),
        new_code_cell("show()", metadata=_meta("-"), outputs=[tiny_output], execution_count=1),
    ], metadata={"rise": RISE})
    path = tmp_path / "sizes.ipynb"
    nbformat.write(nb, path)
    visit = open_deck(browser, publish.export(path, tmp_path / "out")[1])
    try:
        problems = unreadable_slides(visit, "sizes", artifacts)
    finally:
        visit.close()
    assert len(problems) == 2, problems
    assert problems[0].startswith('slide 1/0: <p> "small print": prose shown at 11.5 px'), problems
    assert problems[1].startswith('slide 1/0: <pre> "tiny_code()": code shown at 9.6 px'), problems


@pytest.mark.browser
def test_tall_slide_is_one_page_of_the_handout(browser, tmp_path):
    deck = publish.export(tall_notebook(tmp_path, scroll=True), tmp_path / "out")[1]
    check_handout(handouts.print_handout(deck, browser=browser), 3)


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
def test_committed_deck_in_browser(browser, deck, artifacts):
    expected = expected_slides(nbformat.read(_source_notebook(deck), as_version=4))
    check_deck(browser, deck, expected, deck.name.split(".")[0], require_plot=False, artifacts=artifacts)


@pytest.mark.browser
@pytest.mark.parametrize("deck", _committed("*.slides.html"))
def test_committed_deck_fits_the_screen(browser, deck, artifacts):
    _source_notebook(deck)
    visit = open_deck(browser, deck)
    try:
        problems = unreadable_slides(visit, deck.name.split(".")[0], artifacts)
    finally:
        visit.close()
    assert problems == [], (f"{deck.name}: {len(problems)} things cut off out of reach or too small to read "
                            f"at 1280×800: {problems[:10]}")


@pytest.mark.browser
@pytest.mark.parametrize("deck", _committed("*.slides.html"))
def test_committed_deck_speaker_notes(browser, deck, artifacts):
    expected = expected_notes(nbformat.read(_source_notebook(deck), as_version=4))
    visit = open_deck(browser, deck)
    try:
        check_speaker_notes(visit, expected, deck.name.split(".")[0], artifacts)
    finally:
        visit.close()


@pytest.mark.parametrize("deck", _committed("*.slides.html"))
def test_committed_handout(deck):
    pdf = deck.with_name(deck.name.split(".")[0] + ".pdf")
    assert pdf.is_file(), f"slides/{pdf.name} is missing: run make run"
    check_handout(pdf, expected_slides(nbformat.read(_source_notebook(deck), as_version=4)))


@pytest.mark.parametrize("deck", _committed("*.slides.html"))
def test_committed_handout_renders(deck, artifacts):
    """The first page, and the one with the most text (a code slide), rendered to PNG."""
    from pypdf import PdfReader

    pdf = deck.with_name(deck.name.split(".")[0] + ".pdf")
    assert pdf.is_file(), f"slides/{pdf.name} is missing: run make run"
    texts = [page.extract_text() for page in PdfReader(pdf).pages]
    fullest = max(range(len(texts)), key=lambda i: len(texts[i])) + 1
    for number in sorted({1, fullest}):
        render_page(pdf, number, artifacts / f"{pdf.stem}-handout-page-{number}.png")


@pytest.mark.browser
@pytest.mark.parametrize("page", _committed("*.html", exclude=".slides.html"))
def test_committed_page_in_browser(browser, page, artifacts):
    _source_notebook(page)
    check_page(browser, page, page.stem, artifacts)
