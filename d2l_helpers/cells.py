"""Run tagged cells of a notebook outside Jupyter, so tests and benchmarks use the code a reader sees."""
from __future__ import annotations

import json
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def tagged_sources(notebook, tag: str) -> list[str]:
    """Sources of the code cells of `notebook` (a path) that carry `tag`, in order."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    return ["".join(c["source"]) for c in cells
            if c["cell_type"] == "code" and tag in c.get("metadata", {}).get("tags", [])]


def run_tagged(notebook, tags, **overrides) -> dict:
    """Execute the parameters cell, apply `overrides`, then each tag's cells; return the namespace.

    Cells run in the order of `tags`, so ("setup", "data", "model") builds what a
    reader has after those sections. Figures the cells draw are closed.
    """
    namespace: dict = {"__name__": "__notebook__"}
    for source in tagged_sources(notebook, "parameters"):
        exec(compile(source, f"{notebook}:parameters", "exec"), namespace)
    namespace.update(overrides)
    for tag in tags:
        for source in tagged_sources(notebook, tag):
            exec(compile(source, f"{notebook}:{tag}", "exec"), namespace)
    import matplotlib.pyplot as plt

    plt.close("all")
    return namespace
