"""`python -m tools.publish` (what `make run` calls): execute the notebooks, export them.

Each notebook is executed in place with papermill, then exported twice into
slides/: `<name>.html` (a static, nbviewer-style page) and `<name>.slides.html`
(a reveal.js deck that follows the notebook's RISE settings and carries its
speaker notes); once every notebook is done, the decks are printed to `<name>.pdf`,
handouts with one page per slide (tools.handouts, headless Chromium). All work offline: the
script and style sheet URLs that nbconvert's templates take from CDNs point at
slides/vendor/ instead (filled by slides/vendor/fetch.sh), and what cannot be
vendored is left out; `export` refuses to write a page that would still load
anything from the network, or one whose outputs show a path of this machine.
The exports leave out papermill's injected-parameters cell and the code of cells
tagged `remove-input` (plumbing whose output is the lesson); the notebooks keep both.

This module imports no framework: each notebook runs in the kernel its metadata
names (the registry's, `d2l` or `d2l-mxnet`), or in its framework's GPU environment's
where a GPU setup built one (`d2l-tensorflow`), and a framework whose environment
is not set up here is skipped with the reason.
"""
from __future__ import annotations

import argparse
import ast
import concurrent.futures
import json
import logging
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

from d2l_helpers import frameworks

from . import handouts, parity

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
SLIDES_DIR = REPO / "slides"
VENDOR = "vendor"
HANDOUT_WORKERS = 2  # headless Chromiums printing side by side
# Executed in this order: compare and overview read what the AlexNet notebooks record.
NOTEBOOKS = tuple(Path(name).stem for name in
                  (*(fw.notebook for fw in frameworks.FRAMEWORKS), *frameworks.LESSON_NOTEBOOKS,
                   *frameworks.SUMMARY_NOTEBOOKS))

# Cells the exports leave out: papermill's copy of the run's parameters, which would repeat the
# parameters cell in every static view.
REMOVED_CELL_TAGS = ("injected-parameters",)
# Cells whose code the exports leave out, showing only their outputs (nbconvert's
# TagRemovePreprocessor; the tag Jupyter Book uses for the same).
HIDDEN_INPUT_TAGS = ("remove-input",)
# Outputs must not show where this machine keeps things (a home, a checkout, a temporary folder):
# a reader's machine has other paths, and they say nothing about the lesson.
MACHINE_PATH = re.compile(r"(?<![\w.~/-])/(?:work|root|home|tmp|Users)/[^\s\"'<>)]*")
_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[\w+/=]+")  # an image inlined in HTML

# URLs relative to the exported HTML file, which sits next to vendor/.
REVEAL_URL_PREFIX = f"{VENDOR}/reveal.js"
REQUIRE_JS_URL = f"{VENDOR}/requirejs/require.js"
JQUERY_URL = f"{VENDOR}/jquery/jquery.min.js"
VENDOR_FILES = (
    "reveal.js/dist/reveal.js",
    "reveal.js/dist/reveal.css",
    "reveal.js/dist/theme/white.css",
    "reveal.js/plugin/notes/notes.js",
    "requirejs/require.js",
    "jquery/jquery.min.js",
)

# What a deck looks like when its notebook's RISE settings (metadata "rise") say nothing: the
# exports' settings before they read those ("white" because nbconvert's default, "simple",
# @imports Google Fonts).
DECK_DEFAULTS = {"theme": "white", "scroll": False, "transition": "slide", "width": 960, "height": 700}
# The RISE settings that RISE hands to reveal.js as they are; the deck hands them on the same way.
REVEAL_SETTINGS = ("controls", "progress", "history", "width", "height", "margin", "minScale",
                   "transition", "slideNumber", "center", "help")
# reveal.js's print view (`?print-pdf`, what handouts are printed from) gives every fragment
# its own page and a tall slide several pages by default; a handout has one page per slide.
PRINT_SETTINGS = {"pdfSeparateFragments": False, "pdfMaxPagesPerSlide": 1}

# Template overrides, layered on nbconvert's own templates ("index.html.j2" is
# the lab or the reveal one, whichever the exporter's template_name selects).
_EXTENDS = "{%- extends 'index.html.j2' -%}\n"
# Mermaid is loaded from cdnjs (the reveal template even imports it on every
# page); no notebook draws Mermaid diagrams, so the loader goes.
_NO_MERMAID = "{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}\n"
# Widget views are only rendered by the html-manager from unpkg; offline they
# stay empty with or without its loader, so the loader goes.
_NO_WIDGETS = "{% block jupyter_widgets %}{% endblock jupyter_widgets %}\n"
# MathJax is not vendored (the notebooks write no $math$), so its CDN script tag goes.
_NO_MATHJAX = "{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}\n"
_OFFLINE_LAB = _EXTENDS + _NO_MERMAID + _NO_WIDGETS + _NO_MATHJAX
# The deck's own style and start-up, in place of the reveal template's: that one hard-codes
# reveal.js's settings (only theme, transition and size come from the exporter), sizes scrolling
# slides to the window rather than the deck, and calls MathJax on every slide change.
# `resources.deck` is what `deck_settings` makes of the notebook's RISE settings.
_DECK_CSS = """
{%- block notebook_css -%}
{{ super() }}
<style type="text/css">
/* Readable from the back of a room: at 1280×800 reveal.js shows the deck at 0.96 of its size (its
   margin), so prose, and tables (which JupyterLab sets in its UI size), are set at 21 px (20.2 px
   shown) where nbconvert's template sets 20 px; code stays at the template's 19 px (18.2 px shown).
   The theme sets a code block in markdown to 0.55em (11 px): it gets the code cells' size. */
:root { --jp-content-font-size1: 21px; --jp-ui-font-size1: 21px; }
.reveal .jp-RenderedHTMLCommon pre { font-size: var(--jp-code-font-size); }
/* A code cell's input area clips what overflows it: long lines scroll sideways instead. */
.reveal .jp-InputArea-editor .highlight pre { box-sizing: border-box; overflow-x: auto; }
/* reveal.js's theme gives every pre a shadow and 90% of its container's width, which cuts the
   code in the cells of an HTML table short. */
.reveal .jp-RenderedHTMLCommon pre { width: auto; box-shadow: none; }
/* Long names in a markdown table's code may break, so that the table fits the slide's width. */
.reveal .jp-RenderedMarkdown td code { white-space: normal; overflow-wrap: anywhere; }
{%- if resources.deck.scroll %}
/* RISE's "scroll": a slide taller than the deck scrolls within it (on screen, not in print). */
html:not(.print-pdf) .reveal .slides > section > section {
  box-sizing: border-box; max-height: 100%; overflow-y: auto;
}
{%- endif %}
/* Handouts cannot scroll: code wraps, nothing inside a cell clips, and the print view's script
   below scales a slide that still does not fit down to its page. */
html.print-pdf .reveal .slides pre { white-space: pre-wrap; overflow-wrap: anywhere; }
html.print-pdf .reveal .slides .jp-Cell * { overflow: visible !important; }
</style>
{%- endblock notebook_css -%}
"""
_DECK_JS = """
{%- block footer_js -%}
<script>
require({waitSeconds: 15},
  ["{{ resources.reveal.url_prefix }}/dist/reveal.js",
   "{{ resources.reveal.url_prefix }}/plugin/notes/notes.js"],
  function (Reveal, RevealNotes) {
    var config = {{ resources.deck.config | json_dumps }};
    config.plugins = [RevealNotes];  // the speaker view (key s) with the notebook's notes cells
    // In the print view each slide sits in its own page; one that is taller or wider than its
    // page is scaled down to fit, around the same centre. data-handout tells the printer when.
    Reveal.addEventListener("pdf-ready", function () {
      var pages = document.querySelectorAll(".reveal .pdf-page");
      pages[pages.length - 1].style.breakAfter = "auto";  // else a blank page follows the last
      pages.forEach(function (page) {
        var slide = page.querySelector("section"), top = slide.offsetTop;
        var scale = Math.min(1, (page.clientHeight - top) / slide.scrollHeight,
                             slide.offsetWidth / slide.scrollWidth);
        if (scale < 1) {
          // zoom scales the slide's own left and top too
          slide.style.left = (page.clientWidth - slide.scrollWidth * scale) / 2 / scale + "px";
          slide.style.top = top / scale + "px";
          slide.style.zoom = scale;
        }
      });
      document.documentElement.setAttribute("data-handout", "ready");
    });
    Reveal.initialize(config);
  });
</script>
{%- endblock footer_js -%}
"""
_OFFLINE_REVEAL = _EXTENDS + _NO_MERMAID + _NO_WIDGETS + _NO_MATHJAX + _DECK_CSS + _DECK_JS

log = logging.getLogger("tools.publish")


class PublishError(RuntimeError):
    """A notebook cannot be published as asked (missing assets, a page that needs the network)."""


# --- execution ---------------------------------------------------------------

def has_parameters_cell(nb) -> bool:
    """Whether the notebook has a cell tagged `parameters` (papermill injects after it)."""
    return any("parameters" in cell.get("metadata", {}).get("tags", []) for cell in nb.cells)


def hide_injected_parameters(nb) -> bool:
    """Mark papermill's `injected-parameters` cells `slide_type: skip`; return whether any exist.

    Papermill writes that cell without slide metadata, so in the live slideshow
    (RISE) it would join the slide of the `parameters` cell before it: the title
    slide. The exports leave it out altogether (REMOVED_CELL_TAGS).
    """
    found = False
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.metadata["slideshow"] = {"slide_type": "skip"}
            found = True
    return found


def execute(path: Path, parameters: dict, kernel: str | None = None) -> None:
    """Run the notebook at `path` in place with papermill, in its own folder, in `kernel` (default:
    the one its metadata names).

    Of `parameters`, a notebook gets those its `parameters` cell sets (the training
    preset means nothing to a lesson); one without such a cell gets none, since
    papermill would inject them as a new first cell, i.e. onto the title slide.
    """
    import nbformat
    import papermill

    nb = nbformat.read(path, as_version=4)
    declared = papermill.inspect_notebook(str(path)) if has_parameters_cell(nb) else {}
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        log.info("%s does not take %s: running it without", path.name, ", ".join(unknown))
    parameters = {name: value for name, value in parameters.items() if name in declared}
    papermill.execute_notebook(
        str(path), str(path), parameters=parameters, cwd=str(path.parent), kernel_name=kernel,
        log_output=True, progress_bar=False,
    )
    nb = nbformat.read(path, as_version=4)
    hide_injected_parameters(nb)
    # A progress bar arrives as dozens of '\r'-redrawn chunks; keep only what a
    # reader saw last, so GitHub and nbviewer show one line per bar.
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})
    nbformat.validate(nb)
    nbformat.write(nb, path)


# --- export --------------------------------------------------------------------

_LOADING_ATTRIBUTES = {
    "script": ("src",), "link": ("href",), "img": ("src", "srcset"), "iframe": ("src",),
    "embed": ("src",), "source": ("src", "srcset"), "video": ("src", "poster"),
    "audio": ("src",), "track": ("src",), "object": ("data",), "input": ("src",),
}
_REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)  # http(s)://host or //host
# Inside <script> and <style>: comments first (they may cite web pages), then
# anything that looks like an absolute or protocol-relative URL. XML namespace
# names (e.g. in inline SVG data) are identifiers that are never fetched.
_CODE_COMMENT = re.compile(r"/\*.*?\*/|<!--.*?-->|(?:^|(?<=\s))//[^\n]*", re.S)
_CODE_URL = re.compile(r"""(?:https?:)?//[a-z0-9-]+(?:\.[a-z0-9-]+)+[^\s"'`()<>]*""", re.I)
_NAMESPACES = ("http://www.w3.org/",)


class _RemoteReferenceFinder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._code_tag: str | None = None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in _LOADING_ATTRIBUTES.get(tag, ()) and value and _REMOTE.match(value):
                self.found.append(f"<{tag} {name}={value!r}>")
            elif name == "style" and value:
                self._scan_code(tag, value)
        if tag in ("script", "style"):
            self._code_tag = tag

    def handle_endtag(self, tag):
        if tag == self._code_tag:
            self._code_tag = None

    def handle_data(self, data):
        if self._code_tag:
            self._scan_code(self._code_tag, data)

    def _scan_code(self, where, text):
        for url in _CODE_URL.findall(_CODE_COMMENT.sub("", text)):
            if not url.startswith(_NAMESPACES):
                self.found.append(f"<{where}> {url}")


def remote_references(html: str) -> list[str]:
    """Every place where the page would fetch something from another host.

    Covers resource attributes (script src, link href, img src, ...) and URLs in
    inline scripts and style sheets; plain hyperlinks (<a href>) are not loads
    and are allowed.
    """
    finder = _RemoteReferenceFinder()
    finder.feed(html)
    finder.close()
    return finder.found


def ensure_vendor(output_dir: Path) -> None:
    """Make sure `output_dir/vendor` holds the files the exported pages load.

    slides/vendor is the committed copy; any other output folder gets a copy of it.
    """
    source = SLIDES_DIR / VENDOR
    missing = [name for name in VENDOR_FILES if not (source / name).is_file()]
    if missing:
        raise PublishError(f"{source} lacks {', '.join(missing)}: run `sh slides/vendor/fetch.sh`")
    target = output_dir / VENDOR
    if target.resolve() != source.resolve():
        shutil.copytree(source, target, dirs_exist_ok=True)


# Links between the notebooks ("[MXNet](alexnet-mxnet.ipynb)") must lead to the
# export of the same kind, which sits next to this one.
_NOTEBOOK_LINK = re.compile(r'(<a\b[^>]*?\bhref=")([\w.-]+)\.ipynb(?=[#"])')


def _size(value):
    """A RISE width or height as reveal.js takes it: pixels as a number, or a percentage."""
    text = str(value).strip()
    if text.endswith("px"):
        text = text[:-2]
    return int(float(text)) if text.replace(".", "", 1).isdigit() else text


def deck_settings(nb) -> dict:
    """What the deck of `nb` looks like: its reveal.js theme, scrolling and configuration.

    Read from the notebook's RISE settings (metadata "rise", or RISE 5's older
    "livereveal"), so that the static deck looks as the live slideshow does;
    DECK_DEFAULTS fill in what they leave out. Returns {"theme", "scroll",
    "config"}, "config" being what reveal.js is initialised with.
    """
    rise = {**DECK_DEFAULTS, **nb.metadata.get("livereveal", {}), **nb.metadata.get("rise", {})}
    config = {name: rise[name] for name in REVEAL_SETTINGS if name in rise}
    config["width"], config["height"] = _size(config["width"]), _size(config["height"])
    return {"theme": str(rise["theme"]), "scroll": bool(rise["scroll"]), "config": {**config, **PRINT_SETTINGS}}


def machine_paths(nb) -> list[str]:
    """Every path of this machine (/home/..., /tmp/..., MACHINE_PATH) that an output of `nb` shows.

    Reads what a reader sees as text: streams, tracebacks and the text, HTML, markdown and JSON of
    rich outputs (not images, whose base64 could spell anything; not images inlined in HTML).
    Returns "cell N: <path>" for each.
    """
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            texts = [output.get("text", ""), output.get("evalue", ""), *output.get("traceback", [])]
            for mime, value in output.get("data", {}).items():
                if mime.startswith("text/") or mime.endswith("json"):
                    texts.append(value if isinstance(value, str) else json.dumps(value))
            for text in texts:
                text = _DATA_URI.sub("", "".join(text) if isinstance(text, list) else text)
                found += [f"cell {index}: {path.rstrip('.,;:')}" for path in MACHINE_PATH.findall(text)]
    return found


def _offline_exporters(theme: str):
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter, SlidesExporter
    from traitlets.config import Config

    common = dict(require_js_url=REQUIRE_JS_URL, jquery_url=JQUERY_URL,
                  embed_images=True,  # markdown images become data: URIs: no paths to break
                  config=Config(TagRemovePreprocessor=dict(
                      enabled=True, remove_cell_tags=set(REMOVED_CELL_TAGS),
                      remove_input_tags=set(HIDDEN_INPUT_TAGS))))
    html = HTMLExporter(template_name="lab", template_file="offline_lab.html.j2",
                        extra_loaders=[DictLoader({"offline_lab.html.j2": _OFFLINE_LAB})], **common)
    slides = SlidesExporter(template_name="reveal", template_file="offline_reveal.html.j2",
                            extra_loaders=[DictLoader({"offline_reveal.html.j2": _OFFLINE_REVEAL})],
                            reveal_url_prefix=REVEAL_URL_PREFIX, reveal_theme=theme, **common)
    return html, slides


def export(path: Path, output_dir: Path = SLIDES_DIR) -> list[Path]:
    """Export the notebook at `path` to `output_dir/<name>.html` and `<name>.slides.html`.

    The deck follows the notebook's RISE settings (`deck_settings`). Both leave out the cells
    tagged REMOVED_CELL_TAGS and the code of those tagged HIDDEN_INPUT_TAGS. Raises
    PublishError, writing nothing, if an output shows a path of this machine
    (`machine_paths`), if either page would load anything from the network or if
    the deck asks for a reveal.js theme that is not vendored.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    paths = machine_paths(nb)
    if paths:
        raise PublishError(f"{path.name}: outputs show paths of this machine ({'; '.join(paths[:5])}): "
                           "print them relative to the notebook, or only their file names")
    output_dir.mkdir(parents=True, exist_ok=True)
    ensure_vendor(output_dir)
    deck = deck_settings(nb)
    theme = Path(VENDOR) / "reveal.js" / "dist" / "theme" / f"{deck['theme']}.css"
    if not (output_dir / theme).is_file():
        raise PublishError(f"{path.name} asks for the reveal.js theme {deck['theme']!r}, which is not "
                           f"vendored: add {theme.as_posix()} to slides/vendor/fetch.sh and VENDOR_FILES")
    pages = {}
    for exporter in _offline_exporters(deck["theme"]):
        # "path" is where embed_images resolves the markdown images' relative paths.
        resources = {"metadata": {"name": path.stem, "path": str(path.parent)}, "deck": deck}
        body, _ = exporter.from_notebook_node(nb, resources=resources)
        body = _NOTEBOOK_LINK.sub(rf"\g<1>\g<2>{exporter.file_extension}", body)
        target = output_dir / f"{path.stem}{exporter.file_extension}"
        remote = remote_references(body)
        if remote:
            raise PublishError(f"{target.name} would load from the network: {'; '.join(remote)}")
        pages[target] = body
    for target, body in pages.items():
        target.write_text(body, encoding="utf-8")
    return list(pages)


# --- command line ---------------------------------------------------------------

def parse_parameter(text: str) -> tuple[str, object]:
    """`KEY=VALUE` -> (KEY, VALUE as a Python literal, or the raw string if it is none)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key.strip(), value  # --parameters preset=smoke means the string "smoke"


class _KernelOutputHandler(logging.StreamHandler):
    """Show papermill's log and the kernels' output as written.

    Kernel output arrives as raw chunks: tqdm redraws its bar with a leading
    '\\r' and no newline, so no newline may follow such a chunk; anything else
    that arrives while a bar is drawn (stdout and stderr interleave) starts on a
    new line instead of after the bar.
    """
    terminator = ""
    _midline = False

    def format(self, record):
        message = record.getMessage()
        if not message.startswith("\r"):
            if self._midline:
                message = "\n" + message
            if not message.endswith(("\n", "\r")):
                message += "\n"
        self._midline = not message.endswith("\n")
        return message


def _configure_logging() -> None:
    handler = _KernelOutputHandler(sys.stderr)
    # Papermill logs two lines per cell; the "Executing Cell N" half is enough to follow.
    handler.addFilter(lambda record: not record.getMessage().startswith("Ending Cell"))
    for name in ("papermill", log.name):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        # Replace, not add: main() may run more than once in a process (tests).
        for old in [h for h in logger.handlers if isinstance(h, _KernelOutputHandler)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.propagate = False


def main(argv=None) -> int:
    """Execute the notebooks (unless --no-execute) and export them to offline HTML and slides."""
    parser = argparse.ArgumentParser(prog="python -m tools.publish", description=main.__doc__)
    parser.add_argument("--preset", default="auto",
                        help="training preset, for notebooks with a 'parameters' cell "
                             "(default: auto)")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=NOTEBOOKS,
                        help=f"only these notebooks (by name: {', '.join(NOTEBOOKS)})")
    parser.add_argument("--no-execute", action="store_true",
                        help="do not run the notebooks; only export them as they are")
    parser.add_argument("--parameters", action="append", type=parse_parameter, default=[],
                        metavar="KEY=VALUE",
                        help="extra papermill parameter (repeatable); VALUE is a Python literal, "
                             "else a string")
    parser.add_argument("--no-parity", action="store_true",
                        help="do not measure the frameworks' parity (results/parity.json) before compare")
    parser.add_argument("--output-dir", type=Path, default=SLIDES_DIR,
                        help="where to write the HTML pages and slides (default: slides/)")
    parser.add_argument("--no-pdf", action="store_true",
                        help="do not print the decks to PDF handouts (<name>.pdf, needs Chromium)")
    args = parser.parse_args(argv)
    _configure_logging()
    if not args.no_pdf and handouts.find_chromium() is None:  # before hours of training, not after
        log.error("error: the PDF handouts need Chromium (apt-get install chromium); "
                  "or pass --no-pdf to leave them out")
        return 1
    from papermill.exceptions import PapermillExecutionError

    parameters = {"preset": args.preset, **dict(args.parameters)}
    names = [name for name in NOTEBOOKS if not args.only or name in args.only]
    exported = []
    for name in names:
        path = NOTEBOOK_DIR / f"{name}.ipynb"
        shown = f"{path.parent.name}/{path.name}"
        if not path.exists():
            log.warning("skipping %s: %s does not exist yet", name, shown)
            continue
        framework = next((fw for fw in frameworks.FRAMEWORKS if fw.notebook == path.name), None)
        problem = framework and frameworks.problem(framework)
        if problem and not args.no_execute:
            log.warning("skipping %s: %s", shown, problem)
            continue
        if name == "compare" and not (args.no_execute or args.no_parity):
            log.info("=== measuring parity (python -m tools.parity)")
            if parity.main([]) != 0:
                log.error("error: the parity measurement failed (its log is above)")
                return 1
        try:
            if not args.no_execute:
                log.info("=== executing %s (%s)", shown,
                         ", ".join(f"{k}={v!r}" for k, v in parameters.items()))
                execute(path, parameters, framework and frameworks.environment_of(framework).kernel)
            pages = export(path, args.output_dir)
        except PublishError as err:
            log.error("error: %s", err)
            return 1
        except PapermillExecutionError as err:
            # Papermill has saved the notebook with its outputs up to the failing cell.
            log.error("error: %s failed in cell %s (%s: %s); its outputs so far are saved in it",
                      shown, err.exec_count, err.ename, err.evalue)
            return 1
        log.info("=== exported %s", ", ".join(str(page) for page in pages))
        exported.extend(pages)
    if not exported:
        log.error("error: no notebook to publish in %s", NOTEBOOK_DIR)
        return 1
    if not args.no_pdf:
        # After all the training, so that no notebook's timing shares the CPU with a browser.
        decks = [page for page in exported if page.name.endswith(".slides.html")]
        log.info("=== printing %d handouts, %d at a time", len(decks), HANDOUT_WORKERS)
        try:
            with concurrent.futures.ThreadPoolExecutor(HANDOUT_WORKERS) as pool:
                for pdf in pool.map(handouts.print_handout, decks):
                    log.info("=== printed %s", pdf)
        except handouts.HandoutError as err:
            log.error("error: %s", err)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
