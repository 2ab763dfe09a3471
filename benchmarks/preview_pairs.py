"""`python -m benchmarks.preview_pairs A B`: a notebook's preview training under two checkouts, in pairs.

Each run is a fresh interpreter (the main environment's, with the kernels' memory settings)
that executes one checkout's notebook cells — setup, data, model, train — under the
preview preset, and times the training cell (the epoch and its test pass, the progress bar,
the live plot) by the wall clock. Outside Jupyter there is no display, so each checkout's
`plotting._display_handle` is replaced by one that renders the figure to PNG at every
update, as Jupyter's inline backend does: what a reader's kernel pays per redraw. Runs
alternate A, B, B, A, ... per framework, so a machine that speeds up or slows down weighs
on both sides alike. A and B are folders with `d2l_helpers`, `tools` and `notebooks` (a git
worktree, say). Writes the record and its table (benchmarks.report.write_record).

    python -m benchmarks.preview_pairs /tmp/a /tmp/b --frameworks pytorch,jax --pairs 2 \\
        --train-limit 6000 --test-limit 2000 --output benchmarks/training-log-cpu.json
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TAGS = ("setup", "data", "model", "train-step", "initial-loss")


def worker(spec: dict) -> None:
    """In the checkout's own code: build the notebook, then time its training cell."""
    import io

    from d2l_helpers import frameworks, plotting
    from tools.cells import run_tagged

    class PngHandle:  # Jupyter's display_id handle, as far as its cost goes
        updates = 0

        def update(self, fig):
            PngHandle.updates += 1
            fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")

    plotting._display_handle = lambda fig: PngHandle()
    notebook = Path(spec["tree"]) / "notebooks" / frameworks.get(spec["framework"]).notebook
    ns = run_tagged(notebook, TAGS, preset="preview", results_dir=spec["scratch"], **spec["limits"])
    begin = time.perf_counter()
    run_tagged(notebook, ("train-loop",), namespace=ns)
    seconds = time.perf_counter() - begin
    record = ns["record"]
    record.finish()
    Path(spec["result"]).write_text(json.dumps({
        "cell_seconds": seconds, "redraws": PngHandle.updates, "test_acc": record.final["test_acc"],
        "train_seconds": record.final["train_seconds"], "examples_per_s": record.final["examples_per_sec"]}))


def run(tree: Path, key: str, limits: dict) -> dict:
    """One run of `key`'s preview (with `limits`, e.g. train_limit) in checkout `tree`, in a fresh interpreter."""
    from d2l_helpers import frameworks

    with tempfile.TemporaryDirectory(prefix="preview-pairs-") as scratch:
        result = Path(scratch) / "result.json"
        spec = {"tree": str(tree), "framework": key, "scratch": scratch, "result": str(result), "limits": limits}
        env = {**os.environ, **frameworks.KERNEL_ENV, "MPLBACKEND": "Agg", "PYTHONPATH": str(tree)}
        subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], env=env, cwd=tree, check=True,
                       stdout=subprocess.DEVNULL)
        return json.loads(result.read_text())


def markdown(doc: dict) -> str:
    from .report import cpu  # not at the top: a worker runs this file as a script, outside the package

    lines = [f"# {doc['title']}", "", f"`{doc['command']}` ({doc['minutes']:.0f} min)", "",
             f"{cpu(doc['machine'])}, load average {doc['machine']['load_15min']} over the last 15 minutes; "
             f"A: {doc['a']}; B: {doc['b']}. The preview preset (one epoch at 76×76) "
             f"with {doc['limits'] or 'no limit changed'}; each figure is the wall-clock time of "
             "the notebook's training cell, in a fresh interpreter, with a display stand-in that renders "
             "the live plot to PNG at each redraw, as Jupyter does. Runs in the order A, B, B, A, ...", "",
             "| framework | pair | A s | B s | B / A | A redraws | B redraws | A test acc | B test acc |",
             "|---|---|---|---|---|---|---|---|---|"]
    for key, fw in doc["frameworks"].items():
        for i, (a, b) in enumerate(zip(fw["a"], fw["b"]), 1):
            lines.append(f"| {key} | {i} | {a['cell_seconds']:.1f} | {b['cell_seconds']:.1f} | "
                         f"{b['cell_seconds'] / a['cell_seconds']:.3f} | {a['redraws']} | {b['redraws']} | "
                         f"{a['test_acc']:.4f} | {b['test_acc']:.4f} |")
    lines += ["", "Median B / A per framework: " + ", ".join(
        f"{key} {fw['median_ratio']:.3f} ({min(fw['ratios']):.3f}–{max(fw['ratios']):.3f})"
        for key, fw in doc["frameworks"].items()) + "."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.preview_pairs", description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path, nargs="?", help="the first checkout (a folder with d2l_helpers, tools, "
                                                        "notebooks)")
    parser.add_argument("b", type=Path, nargs="?", help="the second checkout")
    parser.add_argument("--frameworks", default="pytorch,jax", help="main-environment frameworks, comma-separated")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--train-limit", type=int, help="fewer training images than the preview's 30,000")
    parser.add_argument("--test-limit", type=int, help="fewer test images than the preview's 10,000")
    parser.add_argument("--title", default="The preview's training cell under two checkouts")
    parser.add_argument("--a-name", help="what A is, for the record (default: its path)")
    parser.add_argument("--b-name", help="what B is, for the record (default: its path)")
    parser.add_argument("--output", type=Path, help="the record (.json); its table goes beside it (.md)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    if not (args.a and args.b and args.output):
        parser.error("give the two checkouts and --output")
    keys, begin = args.frameworks.split(","), time.perf_counter()
    doc = {"title": args.title, "a": args.a_name or str(args.a), "b": args.b_name or str(args.b),
           "limits": {k: v for k, v in (("train_limit", args.train_limit), ("test_limit", args.test_limit)) if v},
           "frameworks": {key: {"a": [], "b": []} for key in keys}}
    for i in range(args.pairs):
        for key in keys:
            order = ("a", "b") if i % 2 == 0 else ("b", "a")
            for side in order:
                result = run(getattr(args, side).resolve(), key, doc["limits"])
                doc["frameworks"][key][side].append(result)
                print(f"{key} pair {i + 1} {side.upper()}: {result['cell_seconds']:.1f} s, "
                      f"{result['redraws']} redraws", file=sys.stderr, flush=True)
    for fw in doc["frameworks"].values():
        fw["ratios"] = [b["cell_seconds"] / a["cell_seconds"] for a, b in zip(fw["a"], fw["b"])]
        fw["median_ratio"] = statistics.median(fw["ratios"])
    from .report import stamp, write_record

    doc.update(stamp("benchmarks.preview_pairs", [shlex.join(sys.argv[1:] if argv is None else argv)], begin))
    write_record(doc, args.output, markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
