"""Every slide of every deck fits what a projector shows at 1280×800: at most MAX_WORDS words of
prose and MAX_CODE_LINES lines of code.

A notebook is cut into slides as RISE and the exports cut it (`test_exports.slide_types`): a
slide or subslide cell opens a slide, fragments and "-" cells join it, notes and skipped cells
are not on it, nor are the cells the exports leave out. Prose is the text of the markdown as it is
rendered (headings, lists, tables and code spans included); a code block in markdown counts as
code, like a code cell. Outputs are not counted: the browser test in test_exports measures what
they take. A cell whose code the exports hide counts for nothing.
"""
from __future__ import annotations

from html.parser import HTMLParser

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from test_exports import slide_types

from tools import publish

MAX_WORDS = 150
MAX_CODE_LINES = 25


class _Rendered(HTMLParser):
    """The words outside <pre>, the lines inside it, and the first heading."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self.code_lines = 0
        self.heading = ""
        self._pre: list[str] | None = None  # the text of the <pre> being read
        self._in_heading = False

    def handle_starttag(self, tag, attrs):
        if tag == "pre":
            self._pre = []
        self._in_heading = self._in_heading or (tag in ("h1", "h2", "h3", "h4") and not self.heading)

    def handle_endtag(self, tag):
        if tag == "pre" and self._pre is not None:
            self.code_lines += len("".join(self._pre).strip("\n").splitlines())
            self._pre = None
        if tag in ("h1", "h2", "h3", "h4"):
            self._in_heading = False

    def handle_data(self, data):
        if self._pre is not None:
            self._pre.append(data)
            return
        # a word has a letter or a digit: not a lone dash, bullet or the heading's ¶ anchor
        self.words += [w for w in data.split() if any(ch.isalnum() for ch in w)]
        if self._in_heading:
            self.heading += data.replace("¶", "")


def _rendered(markdown: str) -> _Rendered:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    parsed = _Rendered()
    parsed.feed(markdown2html_mistune(markdown))
    parsed.close()
    return parsed


def slides(nb) -> list[dict]:
    """Each slide of `nb`, in order: {"title", "words", "code_lines"}."""
    found: list[dict] = []
    for cell, (kind, index) in zip(nb.cells, slide_types(nb)):
        if kind in ("skip", "notes") or index < 0:
            continue
        if index == len(found):
            found.append({"title": "", "words": 0, "code_lines": 0})
        slide = found[index]
        if cell.cell_type == "markdown":
            rendered = _rendered(cell.source)
            slide["words"] += len(rendered.words)
            slide["code_lines"] += rendered.code_lines
            slide["title"] = slide["title"] or " ".join(rendered.heading.split())
        elif cell.cell_type == "code" and not set(publish.HIDDEN_INPUT_TAGS) & set(cell.metadata.get("tags", [])):
            slide["code_lines"] += len(cell.source.rstrip().splitlines())
    return found


def too_full(nb) -> list[str]:
    """One line per slide of `nb` above a limit: its number, title and counts (a slide without a
    heading is named after the last one before it)."""
    problems, last = [], ""
    for number, slide in enumerate(slides(nb), 1):
        title = slide["title"] or (f"after {last}" if last else "(untitled)")
        last = slide["title"] or last
        if slide["words"] > MAX_WORDS or slide["code_lines"] > MAX_CODE_LINES:
            problems.append(f"slide {number} {title!r}: {slide['words']} words, {slide['code_lines']} code lines")
    return problems


def _meta(kind, **extra):
    return {"slideshow": {"slide_type": kind}, **extra}


def test_counts_words_and_code_lines_per_slide():
    """Guards the guard: what counts, on which slide."""
    words_30 = " ".join(["word"] * 30)
    nb = new_notebook(cells=[
        new_markdown_cell("# Title — one *two* `code span` [link](x.ipynb) ¶"),  # 6 words
        new_code_cell("a = 1\n\nb = 2\n", metadata=_meta("-")),  # 3 lines
        new_code_cell("p = 1", metadata=_meta("skip", tags=["parameters"])),
        new_code_cell("p = 2", metadata=_meta("-", tags=["injected-parameters"])),
        new_markdown_cell(f"## Second\n\n{words_30}\n\n```python\nx = 1\ny = 2\n```", metadata=_meta("slide")),
        new_markdown_cell(words_30, metadata=_meta("fragment")),
        new_markdown_cell(words_30, metadata=_meta("notes")),
        new_code_cell("\n".join(["z = 0"] * 30), metadata=_meta("-", tags=["remove-input"])),
        new_markdown_cell("| a | b |\n|---|---|\n| one | two three |", metadata=_meta("subslide")),
        new_code_cell("\n".join(["z = 0"] * 26), metadata=_meta("-")),
    ])
    assert slides(nb) == [
        {"title": "Title — one two code span link", "words": 6, "code_lines": 3},
        {"title": "Second", "words": 61, "code_lines": 2},
        {"title": "", "words": 5, "code_lines": 26},
    ]
    assert too_full(nb) == ["slide 3 'after Second': 5 words, 26 code lines"]
    nb.cells[5].source = " ".join(["word"] * 120)
    assert too_full(nb)[0] == "slide 2 'Second': 151 words, 2 code lines"


@pytest.mark.parametrize("name", publish.NOTEBOOKS)
def test_every_slide_fits_a_projector(name):
    nb = nbformat.read(publish.NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    problems = too_full(nb)
    assert not problems, (f"{name}.ipynb: {len(problems)} slides above {MAX_WORDS} words of prose or "
                          f"{MAX_CODE_LINES} lines of code (split them, or move detail to notes):\n  "
                          + "\n  ".join(problems))
