"""`python -m tools.readme`: the README's table of the committed run, rewritten from the run records.

A figure measured by a run lives in its record; a document that shows it holds a copy
between two markers, `<!-- begin NAME (generated: ...) -->` and `<!-- end NAME -->`, which
this module writes. README.md's block "committed-run" has one row per framework from
results/alexnet-<key>.json. `make run` refreshes it after the notebooks have run;
`--check` only says whether it is stale (the tests run that). The benchmark writes its own
block into benchmarks/README.md with `replace_block`.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from d2l_helpers import frameworks
from d2l_helpers.config import TEST_SIZE, TRAIN_SIZE
from d2l_helpers.results import load_record

README = frameworks.REPO / "README.md"
RESULTS = frameworks.REPO / "results"


def _pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- begin {re.escape(name)}\b[^>]*-->\n)(.*?)(<!-- end {re.escape(name)} -->)", re.S)


def block(text: str, name: str) -> str:
    """The text between the markers of block `name`; an error naming the markers when there are none."""
    match = _pattern(name).search(text)
    if match is None:
        raise ValueError(f"no block {name!r}: expected '<!-- begin {name} ... -->' and '<!-- end {name} -->'")
    return match.group(2)


def replace_block(text: str, name: str, content: str) -> str:
    """`text` with the inside of block `name` replaced by `content` (a trailing newline is added)."""
    block(text, name)  # the markers must be there
    content = content if content.endswith("\n") else content + "\n"
    return _pattern(name).sub(lambda m: m.group(1) + content + m.group(3), text, count=1)


def _images(limit, total: int) -> str:
    return f"all {total:,}" if limit is None else f"{limit:,}"


def committed_run(results: Path = RESULTS) -> str:
    """The table of README's block "committed-run": one row per framework's run record."""
    lines = ["| framework | device | preset | image side | training images | training | examples/s "
             "| test accuracy | loss before training |", "|---|---|---|--:|--:|--:|--:|--:|--:|"]
    for fw in frameworks.FRAMEWORKS:
        path = results / fw.record
        if not path.is_file():
            lines.append(f"| {fw.name} | no record: {path.relative_to(results.parent)} is missing | | | | | | | |")
            continue
        r = load_record(path)
        c, f = r.config, r.final
        minutes, seconds = divmod(round(f["train_seconds"]), 60)
        lines.append(f"| [{r.framework} {r.framework_version}](results/{fw.record}) | {r.device} | `{c['preset']}` "
                     f"| {c['resize']} | {_images(c['train_limit'], TRAIN_SIZE)} | {minutes} min {seconds:02d} s "
                     f"| {f['examples_per_sec']:,.0f} | {f['test_acc']:.3f} ({_images(c['test_limit'], TEST_SIZE)}) "
                     f"| {r.initial_loss:.5f} |")
    return "\n".join(lines) + "\n"


BLOCKS = {"committed-run": committed_run}


def stale(path: Path = README) -> list:
    """The names of the blocks of `path` that differ from what their records give."""
    text = path.read_text()
    return [name for name, make in BLOCKS.items() if block(text, name) != make()]


def main(argv=None) -> int:
    """Entry point of `python -m tools.readme`."""
    parser = argparse.ArgumentParser(prog="python -m tools.readme", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether README.md is stale (exit 1 if so)")
    args = parser.parse_args(argv)
    try:
        if args.check:
            names = stale()
            for name in names:
                print(f"README.md: block {name!r} is stale: run `python -m tools.readme`", file=sys.stderr)
            return 1 if names else 0
        text = README.read_text()
        for name, make in BLOCKS.items():
            text = replace_block(text, name, make())
        README.write_text(text)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {README.name}: {', '.join(BLOCKS)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
