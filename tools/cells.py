"""Run tagged cells of a notebook outside Jupyter, so tests and benchmarks use the code a reader sees."""
from __future__ import annotations

import linecache
from pathlib import Path

from d2l_helpers.codeview import tagged_sources

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _run(source: str, filename: str, namespace: dict) -> None:
    # Registered with linecache so tracebacks show the cell's lines and tools that
    # read a function's source (TensorFlow's AutoGraph) can find it.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    exec(compile(source, filename, "exec"), namespace)


def run_tagged(notebook, tags, namespace: dict | None = None, **overrides) -> dict:
    """Execute the parameters cell, apply `overrides`, then each tag's cells; return the namespace.

    Cells run in the order of `tags`, so ("setup", "data", "model") builds what a
    reader has after those sections. Given a `namespace` from an earlier call, only
    the cells of `tags` run, in it (to rebuild the model, say). Figures are closed.
    """
    import matplotlib

    matplotlib.use("Agg")  # no window, no inline backend: figures are only built
    if namespace is None:
        namespace = {"__name__": "__notebook__"}
        for i, source in enumerate(tagged_sources(notebook, "parameters")):
            _run(source, f"<{Path(notebook).name}:parameters:{i}>", namespace)
    namespace.update(overrides)
    for tag in tags:
        for i, source in enumerate(tagged_sources(notebook, tag)):
            _run(source, f"<{Path(notebook).name}:{tag}:{i}>", namespace)
    import matplotlib.pyplot as plt

    plt.close("all")
    return namespace
