"""Does an option make the whole preview notebook faster? Each option against the notebook as it is.

`python -m benchmarks.options` runs, per framework, the preview the CPU user runs —
the notebook's setup, data, model and training cells, evaluation after the epoch
included — once as the notebook is and once with each option of
`benchmarks.workloads.OPTIONS` (channels-last or torch.compile for PyTorch, XLA for
TensorFlow, XLA flags for JAX, hybridize variants for MXNet), alternating: as it is,
option A, as it is, option B, ... Compile time is part of the run, so an option that
compiles for longer than it saves shows up as slower. Each run is a fresh process of
the framework's environment. Writes benchmarks/options-{cpu,gpu}.json and a table.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from d2l_helpers import frameworks
from tools.cells import NOTEBOOKS, run_tagged
from tools.crossenv import WorkerError, finish_worker, run_worker

from .report import cpu, machine_info, spread
from .timing import BenchmarkError, summary
from .workloads import OPTIONS, option_env, option_parts

HERE = Path(__file__).resolve().parent


def worker(spec: dict) -> None:
    """One whole preview run, with the option applied once the model and the step are defined."""
    key = spec["framework"]
    begin = time.perf_counter()
    notebook = NOTEBOOKS / frameworks.get(key).notebook
    ns = run_tagged(notebook, ("setup", "data", "model", "train-step"), preset="preview",
                    results_dir=spec["results_dir"], **spec.get("overrides", {}))
    for part in option_parts(key, spec.get("option")):
        change = OPTIONS[key][part][2]
        if change:
            change(ns)
    run_tagged(notebook, ("initial-loss", "train-loop"), namespace=ns)
    seconds = time.perf_counter() - begin
    record = ns["record"]
    record.finish()
    finish_worker(spec, {"seconds": seconds, "train_seconds": record.final["train_seconds"],
                         "test_acc": record.final["test_acc"], "device": record.device,
                         "version": record.framework_version})


def measure(key: str, overrides: dict, scratch: str, chosen=None, repeats: int = 1, seeds=None) -> dict:
    """The runs of one framework: for each option (of `chosen`, else all), `repeats` pairs of the
    notebook as it is and with the option, the order swapped from pair to pair (as it is first).
    With `seeds`, one pair per seed, both runs of a pair with that seed (the notebook's `seed`:
    initial weights, batch order, dropout masks)."""
    fw = frameworks.get(key)
    runs = []
    seeds = seeds or [None] * repeats
    for option in chosen or OPTIONS[key]:
        for i, seed in enumerate(seeds):
            for variant in (None, option) if i % 2 == 0 else (option, None):
                label = f"{fw.name} preview" + (f" + {variant}" if variant else "") + (
                    f", seed {seed}" if seed is not None else "")
                print(f"--- {label}", file=sys.stderr, flush=True)
                spec = {"framework": key, "option": variant, "results_dir": scratch,
                        "overrides": {**overrides, **({"seed": seed} if seed is not None else {})}}
                try:
                    result = run_worker(fw, "benchmarks.options", spec, env=option_env(key, variant))
                except WorkerError as err:  # one option failing says so in the report; the others still run
                    result = {"failed": str(err), "version": None, "device": None}
                runs.append({"option": variant, "for": option, "pair": i, "seed": seed, **result})
                print(f"    {result.get('seconds', float('nan')):.0f} s, test accuracy "
                      f"{result.get('test_acc', float('nan')):.3f}", file=sys.stderr)
    options = {}
    for option in chosen or OPTIONS[key]:
        mine = [r for r in runs if r["for"] == option]
        change = OPTIONS[key][option][0]
        failed = next((r["failed"] for r in mine if r.get("failed")), None)
        if failed:
            options[option] = {"change": change, "failed": failed}
            continue
        pairs = [[r for r in mine if r["pair"] == i] for i in range(len(seeds))]
        with_it = [next(r for r in pair if r["option"]) for pair in pairs]
        as_is = [next(r for r in pair if not r["option"]) for pair in pairs]
        options[option] = {
            "change": change, "seconds": summary([r["seconds"] for r in with_it]),
            "baseline_seconds": summary([r["seconds"] for r in as_is]),
            "speedup": summary([b["seconds"] / r["seconds"] for b, r in zip(as_is, with_it)]),
            "test_acc": with_it[0]["test_acc"], "baseline_test_acc": as_is[0]["test_acc"],
            "test_acc_by_seed": {str(seed): [a["test_acc"], w["test_acc"]] for seed, a, w in zip(seeds, as_is, with_it)
                                 if seed is not None}}
    done = next((r for r in runs if "version" in r and r["version"]), {})
    return {"version": done.get("version"), "device": done.get("device"), "runs": runs, "options": options}


def markdown(doc: dict) -> str:
    lines = [f"# Options for the whole preview notebook, {doc['device'].upper()} ({doc['timestamp']})", "",
             f"Machine: {cpu(doc['machine'])}. Each row: the "
             "preview (setup to the end of the epoch's evaluation) with the option, and the run as the notebook "
             f"is just before it, each in a fresh process. Command: `{doc['command']}` "
             f"({doc['minutes']:.0f} min).", "",
             f"{doc['repeats']} pair(s) per option, the order swapped from pair to pair"
             + (f", pair i with the i-th of seeds {', '.join(map(str, doc['seeds']))}" if doc.get("seeds") else "")
             + "; figures: median (min–max) over the pairs.", "",
             "| framework | option | change | as it is, s | with it, s | speed-up | test acc (as it is → with it) |",
             "|---|---|---|--:|--:|--:|--:|"]
    for key, result in doc["frameworks"].items():
        for option, o in result["options"].items():
            if o.get("failed"):
                lines.append(f"| {frameworks.get(key).name} | {option} | {o['change']} | failed: {o['failed']} "
                             "| | | |")
                continue
            lines.append(f"| {frameworks.get(key).name} | {option} | {o['change']} | {spread(o['baseline_seconds'])} "
                         f"| {spread(o['seconds'])} | {spread(o['speedup'], 2, '×')} | {o['baseline_test_acc']:.3f} → "
                         f"{o['test_acc']:.3f} |")
    for key, result in doc["frameworks"].items():
        for option, o in result["options"].items():
            by_seed = o.get("test_acc_by_seed")
            if by_seed:
                lines += ["", f"{frameworks.get(key).name}, {option}: test accuracy by seed, as it is → with it: "
                          + "; ".join(f"seed {seed}: {a:.3f} → {w:.3f}" for seed, (a, w) in by_seed.items()) + "."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.options", description=__doc__.split("\n\n")[0])
    parser.add_argument("--frameworks", help=f"comma-separated subset of {','.join(frameworks.KEYS)}")
    parser.add_argument("--options", help="only these, as framework:option,... (default: every option)")
    parser.add_argument("--repeats", type=int, default=1, help="pairs per option (default 1)")
    parser.add_argument("--seeds", help="one pair per seed, e.g. 0,1,2,3 (instead of --repeats pairs with the "
                                        "notebook's seed)")
    parser.add_argument("--train-limit", type=int, help="fewer training images than the preview's (tests)")
    parser.add_argument("--output", type=Path, help="default benchmarks/options-cpu.json (or -gpu)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    seeds = [int(seed) for seed in args.seeds.split(",")] if args.seeds else None
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    import tempfile

    chosen = {}
    for pair in args.options.split(",") if args.options else []:
        key, _, option = pair.partition(":")
        chosen.setdefault(key, []).extend(option_parts(key, option))
    keys = (list(chosen) or args.frameworks.split(",")) if (args.options or args.frameworks) else [
        k for k in frameworks.KEYS if frameworks.problem(frameworks.get(k)) is None]
    overrides = {"train_limit": args.train_limit} if args.train_limit else {}
    begin = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="d2l-options-") as scratch:
            results = {key: measure(key, overrides, scratch, chosen.get(key), args.repeats, seeds) for key in keys}
    except (WorkerError, KeyError, BenchmarkError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    device = "gpu" if any(r["device"] not in ("CPU", None) for r in results.values()) else "cpu"
    doc = {"timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"), "device": device,
           "command": " ".join(["python -m benchmarks.options", *(sys.argv[1:] if argv is None else argv)]),
           "minutes": (time.perf_counter() - begin) / 60, "machine": machine_info(),
           "overrides": overrides, "repeats": len(seeds) if seeds else args.repeats, "seeds": seeds,
           "frameworks": results}
    output = args.output or HERE / f"options-{device}.json"
    output.write_text(json.dumps(doc, indent=1) + "\n")
    output.with_suffix(".md").write_text(markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
