"""How much a preview's test accuracy owes to its seed: each framework's whole preview, once per seed.

`python -m benchmarks.seeds --seeds 0,1,2,3` runs, per framework, the preview a CPU user runs (the
notebook's setup, data, model and training cells, evaluation after the epoch included, each run a
fresh process, as `benchmarks.options` runs it) once per seed — the seed sets the initial weights,
the batch order and the dropout masks — and reports the test accuracy by seed, its range and mean,
and how many seeds end below our 0.80 target. `--set train_limit=30000` (repeatable) runs the preset
with another value, to study a change of the preset before making it. Writes
benchmarks/seeds-cpu.json (or -gpu) and a table.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from d2l_helpers import frameworks
from d2l_helpers.config import ConfigError, make_config
from tools.crossenv import WorkerError, run_worker

from .options import parse_settings
from .report import cpu, spread, stamp, write_record
from .timing import summary

HERE = Path(__file__).resolve().parent
TARGET = 0.80  # the preview's test accuracy we promise (README, "Presets")


def measure(key: str, overrides: dict, seeds: list[int], scratch: str) -> dict:
    """One preview of framework `key` per seed; a failed run is reported, and the others still run."""
    fw = frameworks.get(key)
    runs = []
    for seed in seeds:
        print(f"--- {fw.name} preview, seed {seed}", file=sys.stderr, flush=True)
        spec = {"framework": key, "option": None, "results_dir": scratch, "overrides": {**overrides, "seed": seed}}
        try:
            result = run_worker(fw, "benchmarks.options", spec)
        except WorkerError as err:
            result = {"failed": str(err)}
        runs.append({"seed": seed, **result})
        print(f"    {result.get('seconds', float('nan')):.0f} s, test accuracy "
              f"{result.get('test_acc', float('nan')):.3f}", file=sys.stderr)
    done = [r for r in runs if "failed" not in r]
    out = {"version": done[0]["version"] if done else None, "device": done[0]["device"] if done else None,
           "runs": runs, "failed": len(runs) - len(done)}
    if done:
        accuracies = [r["test_acc"] for r in done]
        out.update(test_acc={**summary(accuracies), "mean": statistics.fmean(accuracies)},
                   below_target=sum(acc < TARGET for acc in accuracies),
                   seconds=summary([r["seconds"] for r in done]))
    return out


def markdown(doc: dict) -> str:
    """The record as a table: each framework's test accuracy by seed, its range and mean."""
    setting = ", ".join(f"{k}={v}" for k, v in doc["overrides"].items()) or "as it is"
    lines = [f"# The preview's test accuracy by seed, {doc['device'].upper()} ({doc['timestamp']})", "",
             f"Machine: {cpu(doc['machine'])}. The preview preset ({setting}): "
             f"{doc['config']}." + (f" {doc['note']}" if doc.get("note") else "")
             + " Each run: the notebook's preview from setup to the epoch's evaluation, "
             f"in a fresh process, with the seed of its column. Command: `{doc['command']}` "
             f"({doc['minutes']:.0f} min).", "",
             f"| framework | test accuracy by seed ({', '.join(map(str, doc['seeds']))}) | min–max | mean "
             f"| below {TARGET:.2f} | preview, s: median (min–max) |",
             "|---|---|--:|--:|--:|--:|"]
    for key, r in doc["frameworks"].items():
        by_seed = ", ".join("failed" if "failed" in run else f"{run['test_acc']:.3f}" for run in r["runs"])
        if "test_acc" not in r:
            lines.append(f"| {frameworks.get(key).name} | {by_seed} | | | | |")
            continue
        acc = r["test_acc"]
        lines.append(f"| {frameworks.get(key).name} {r['version']} | {by_seed} | {acc['min']:.3f}–{acc['max']:.3f} "
                     f"| {acc['mean']:.3f} | {r['below_target']} of {len(r['runs']) - r['failed']} "
                     f"| {spread(r['seconds'])} |")
    failures = [f"{frameworks.get(key).name}, seed {run['seed']}: {run['failed']}"
                for key, r in doc["frameworks"].items() for run in r["runs"] if "failed" in run]
    if failures:
        lines += ["", "Failed runs: " + "; ".join(failures) + "."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    """Entry point of `python -m benchmarks.seeds`."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.seeds", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2,3", help="comma-separated seeds (default 0,1,2,3)")
    parser.add_argument("--frameworks", help=f"comma-separated subset of {','.join(frameworks.KEYS)} "
                                             "(default: every one set up here)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="another value for one of the preview preset's settings (repeatable)")
    parser.add_argument("--note", help="what else sets this run apart, for the record (e.g. a change of the notebooks)")
    parser.add_argument("--output", type=Path, help="default benchmarks/seeds-cpu.json (or -gpu)")
    args = parser.parse_args(argv)
    try:
        seeds = [int(seed) for seed in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds {args.seeds!r}: write whole numbers separated by commas, e.g. 0,1,2,3")
    try:
        overrides = parse_settings(args.set)
        config = make_config("preview", gpu=False, **overrides)  # an unknown name or impossible value fails here
        keys = [frameworks.get(k).key for k in args.frameworks.split(",")] if args.frameworks else [
            k for k in frameworks.KEYS if frameworks.problem(frameworks.get(k)) is None]
    except (ConfigError, KeyError) as err:
        print(f"error: {err.args[0] if isinstance(err, KeyError) else err}", file=sys.stderr)
        return 1
    begin = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="d2l-seeds-") as scratch:
        results = {key: measure(key, overrides, seeds, scratch) for key in keys}
    device = "gpu" if any(r["device"] not in ("CPU", None) for r in results.values()) else "cpu"
    doc = {"device": device, **stamp("benchmarks.seeds", sys.argv[1:] if argv is None else list(argv), begin),
           "seeds": seeds, "overrides": overrides, "target": TARGET, "note": args.note,
           "config": ", ".join(f"{k}={v}" for k, v in config.as_dict().items() if k not in ("preset", "seed")),
           "frameworks": results}
    write_record(doc, args.output or HERE / f"seeds-{device}.json", markdown(doc))
    return 1 if any(r["failed"] for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
