"""Training throughput of each notebook, paired window by window with d2l 1.0.3's own code.

`python -m benchmarks.bench` (or `make bench`) measures, per framework, in one run:

* the notebook's own data stream, model and `train_step` (its tagged cells, under the
  reference preset: 224×224, batch 128), and d2l 1.0.3's loader, the book's AlexNet and
  `Trainer.fit_epoch` — at d2l's default loader-worker count and at the count that was
  fastest here — in alternating windows: ours, d2l, d2l, ours, ours, d2l, ... (the order
  flips every pair, so a slow drift of the machine's speed favours neither side);
* between the pairs, a large float32 matmul in each framework of the main environment: the
  fastest of them is the device's reachable rate, measured again each time, so that each
  window is compared with the machine's state at that moment.

Each pair gives a ratio (ours ÷ d2l) and a share of the matmul rate; the report gives
their medians with the minimum and maximum, and sets no pass mark on them. Every
workload runs in a long-lived worker of its framework's environment
(benchmarks.workloads), only one of which computes at a time. The results go to
benchmarks/results-{cpu,gpu}.json and a markdown table beside it.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from d2l_helpers import frameworks
from d2l_helpers.architecture import forward_macs, training_flops
from d2l_helpers.config import TEST_SIZE, TRAIN_SIZE, ConfigError, make_config
from d2l_helpers.results import BENCH_SCHEMA
from tools.crossenv import Worker, WorkerError, rate
from tools.readme import replace_block

from . import reference
from .report import markdown, stamp, table, write_record
from .timing import BenchmarkError, summary

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"  # shows the latest run's table in its block "bench-cpu" (or "bench-gpu")
WORKLOADS = "benchmarks.workloads"  # the module each worker runs
DEFAULTS = dict(pairs=5, steps=2, warmup=2, resize=224, batch_size=128, eval_batches=2,
                matmul_size=4096, matmul_products=4)
# --quick: a tiny run that proves every part works (the tests use it), not a measurement.
QUICK = dict(pairs=2, steps=1, warmup=2, resize=68, batch_size=16, eval_batches=1,
             matmul_size=512, matmul_products=3)


def resolve_settings(args) -> dict:
    """The run's settings: explicit options, else --quick's or the defaults; checked early."""
    base = QUICK if args.quick else DEFAULTS
    settings = {key: getattr(args, key) if getattr(args, key, None) is not None else value
                for key, value in base.items()}
    for key in ("pairs", "steps", "warmup", "eval_batches", "matmul_size", "matmul_products"):
        if settings[key] < 1:
            raise BenchmarkError(f"--{key.replace('_', '-')} must be at least 1")
    # Enough training images that no window crosses an epoch boundary: the warm-up, the search
    # over d2l's loader-worker counts, two windows per pair, and the batch a data cell peeks at.
    batches = settings["warmup"] * (1 + len(reference.WORKER_COUNTS)) + settings["steps"] * (
        len(reference.WORKER_COUNTS) + 2 * settings["pairs"]) + 1
    settings["train_limit"] = min(TRAIN_SIZE, max(10, settings["batch_size"] * batches))
    settings["test_limit"] = min(TEST_SIZE, max(10, settings["batch_size"] * settings["eval_batches"]))
    make_config("reference", gpu=False, batch_size=settings["batch_size"], resize=settings["resize"],
                train_limit=settings["train_limit"], test_limit=settings["test_limit"])
    return settings


def measure_framework(fw, settings: dict, matmul: Worker, with_d2l: bool) -> dict:
    """The paired measurement of one framework (see the module docstring)."""
    flops = training_flops(settings["resize"])
    ours = Worker(fw, WORKLOADS, {"kind": "notebook", "framework": fw.key, "settings": settings},
                  f"{fw.name}: notebook")
    workers = [ours]
    try:
        ours_warmup = ours.ask(window=settings["warmup"])
        result = {**ours.info, "warmup_s": ours_warmup["seconds"]}
        sides = {"ours": (ours, None)}
        if with_d2l:
            ref = Worker(fw, WORKLOADS, {"kind": "reference", "framework": fw.key, "settings": settings,
                                         "d2l_dir": str(reference.ensure_installed(fw))},
                         f"{fw.name}: d2l {reference.VERSION}")
            workers.append(ref)
            search = {}
            for loader in ref.info["loaders"]:
                ref.ask(window=settings["warmup"], loader=loader)  # starts its worker processes
                search[loader] = rate(ref.ask(window=settings["steps"], loader=loader))
            default = ref.info["default_loader"]
            best = max(search, key=search.get)
            result["d2l"] = {**ref.info, "search": search, "best_loader": best}
            sides["d2l default"] = (ref, default)
            if best != default:
                sides["d2l best"] = (ref, best)
        pairs = []
        for i in range(settings["pairs"]):
            order = list(sides) if i % 2 == 0 else list(reversed(sides))
            windows = {name: sides[name][0].ask(window=settings["steps"], loader=sides[name][1]) for name in order}
            libraries = matmul.info["libraries"] if i % 2 == 0 else matmul.info["libraries"][::-1]
            by_library = {name: rate(matmul.ask(window=settings["matmul_products"], loader=name)) / 1e3
                          for name in libraries}
            pair = {"order": order, "windows": windows, "matmul_by_library": by_library,
                    "matmul_gflops": max(by_library.values())}
            pair["ours_gflops"] = rate(windows["ours"]) * flops / 1e9
            pair["share_of_matmul"] = pair["ours_gflops"] / pair["matmul_gflops"]
            for name in sides:
                if name != "ours":
                    pair[f"ratio to {name}"] = rate(windows["ours"]) / rate(windows[name])
            pairs.append(pair)
            print(f"    pair {i + 1}: " + ", ".join(f"{n} {rate(w):.1f} ex/s" for n, w in windows.items())
                  + ", matmul " + ", ".join(f"{n} {r:.0f}" for n, r in by_library.items()) + " GFLOP/s",
                  file=sys.stderr, flush=True)
        result["pairs"] = pairs
        result["ours_examples_per_s"] = summary([rate(p["windows"]["ours"]) for p in pairs])
        result["share_of_matmul"] = summary([p["share_of_matmul"] for p in pairs])
        result["matmul_gflops"] = {name: summary([p["matmul_by_library"][name] for p in pairs])
                                   for name in matmul.info["libraries"]}
        for name in sides:
            if name != "ours":
                result[f"{name} examples_per_s"] = summary([rate(p["windows"][name]) for p in pairs])
                result[f"ratio to {name}"] = summary([p[f"ratio to {name}"] for p in pairs])
        evaluation = ours.ask(evaluate=True)
        result["eval_examples_per_s"] = rate(evaluation)
        return result
    finally:
        for worker in workers:
            worker.close()


def run(args) -> dict:
    """Every measurement the options ask for; returns the results document."""
    keys = args.frameworks.split(",") if args.frameworks else list(frameworks.KEYS)
    for key in keys:
        frameworks.get(key)  # an unknown name is an error naming the choices
    settings = resolve_settings(args)
    begin = time.perf_counter()
    matmul = Worker(frameworks.FRAMEWORKS[0], WORKLOADS, {"kind": "matmul", "settings": settings},
                    "matmul (device limit)")
    results, skipped = {}, {}
    try:
        for key in keys:
            fw = frameworks.get(key)
            problem = frameworks.problem(fw)
            if problem:
                skipped[key] = problem
                print(f"--- skipping {fw.name}: {problem}", file=sys.stderr)
                continue
            results[key] = measure_framework(fw, settings, matmul, not args.no_d2l)
    finally:
        matmul.close()
    gpu = matmul.info["device"] != "CPU" or any(r["device"] != "CPU" for r in results.values())
    doc = {"schema": BENCH_SCHEMA, "device": "gpu" if gpu else "cpu", **stamp("benchmarks.bench", args.argv, begin)}
    doc["machine"]["gpu"] = matmul.info["device"] if matmul.info["device"] != "CPU" else None
    return {
        **doc,
        "settings": {**settings, "quick": args.quick, "d2l_reference": not args.no_d2l},
        "model": {"forward_macs_per_example": forward_macs(settings["resize"]),
                  "training_flops_per_example": training_flops(settings["resize"]),
                  "convention": ("conv and dense layers only; 2 FLOPs per MAC; training = 3 × forward, "
                                 "less the first layer's input gradient")},
        "matmul": matmul.info,
        "frameworks": results,
        "skipped": skipped,
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--frameworks", help=f"comma-separated subset of {','.join(frameworks.KEYS)} (default: all)")
    for key, value in DEFAULTS.items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=int, help=f"default {value}")
    parser.add_argument("--quick", action="store_true", help="tiny settings that only prove the benchmark runs: "
                        + ", ".join(f"{k}={v}" for k, v in QUICK.items()))
    parser.add_argument("--no-d2l", action="store_true", help="skip the d2l 1.0.3 reference")
    parser.add_argument("--output", type=Path, help="results JSON (default benchmarks/results-cpu.json or -gpu.json); "
                        "the markdown goes beside it with the suffix .md")
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    return args


def main(argv=None) -> int:
    """Entry point of `python -m benchmarks.bench`."""
    args = parse_args(argv)
    try:
        doc = run(args)
    except (BenchmarkError, WorkerError, ConfigError, KeyError) as err:
        print(f"error: {err.args[0] if isinstance(err, KeyError) else err}", file=sys.stderr)
        return 1
    write_record(doc, args.output or HERE / f"results-{doc['device']}.json", markdown(doc))
    if args.output is None and not args.quick:
        refresh_readme(doc)
    return 0


def refresh_readme(doc: dict) -> None:
    """Put the run's table into benchmarks/README.md, where it has a block for the run's device."""
    try:
        README.write_text(replace_block(README.read_text(), f"bench-{doc['device']}", table(doc)))
    except ValueError as err:
        print(f"{README} keeps its tables: {err}", file=sys.stderr)
        return
    print(f"Updated the table of {README}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
