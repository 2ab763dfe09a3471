"""Run tagged cells of a notebook outside Jupyter, so tests and benchmarks use the code a reader sees."""
from __future__ import annotations

import json
import linecache
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def tagged_sources(notebook, tag: str) -> list[str]:
    """Sources of the code cells of `notebook` (a path) that carry `tag`, in order."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells
            if c["cell_type"] == "code" and tag in c.get("metadata", {}).get("tags", [])]


def _run(source: str, filename: str, namespace: dict) -> None:
    # Registered with linecache so tracebacks show the cell's lines and tools that
    # read a function's source (TensorFlow's AutoGraph) can find it.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    exec(compile(source, filename, "exec"), namespace)


def run_tagged(notebook, tags, **overrides) -> dict:
    """Execute the parameters cell, apply `overrides`, then each tag's cells; return the namespace.

    Cells run in the order of `tags`, so ("setup", "data", "model") builds what a
    reader has after those sections. Figures the cells draw are closed.
    """
    namespace: dict = {"__name__": "__notebook__"}
    for i, source in enumerate(tagged_sources(notebook, "parameters")):
        _run(source, f"<{Path(notebook).name}:parameters:{i}>", namespace)
    namespace.update(overrides)
    for tag in tags:
        for i, source in enumerate(tagged_sources(notebook, tag)):
            _run(source, f"<{Path(notebook).name}:{tag}:{i}>", namespace)
    import matplotlib.pyplot as plt

    plt.close("all")
    return namespace
