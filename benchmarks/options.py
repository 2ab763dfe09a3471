"""Does a setting of the notebooks make the whole preview faster? Each option against the notebook as it is.

`python -m benchmarks.options` runs, per framework, the preview a CPU user runs — the
notebook's setup, data, model and training cells, evaluation after the epoch included,
each run a fresh process of the framework's environment — once as the notebook is and
once with an option that undoes one of its settings, in pairs whose order swaps from
pair to pair. Compile time is part of the run. The options are the settings of
benchmarks/README.md's decisions table, so that each decision can be measured again.
Writes benchmarks/options-{cpu,gpu}.json and a table. Its worker is also the one
`benchmarks.seeds` runs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from d2l_helpers import frameworks
from d2l_helpers.config import ConfigError, make_config
from tools.cells import NOTEBOOKS, run_tagged
from tools.crossenv import WorkerError, finish_worker, run_worker

from .report import cpu, spread, stamp, write_record
from .timing import BenchmarkError, summary

HERE = Path(__file__).resolve().parent


def _torch_channels_first(ns):
    import torch

    # Module.to() swaps parameter data in place, so the optimiser keeps working; convolutions
    # follow their weights' layout (a one-channel input batch is either layout in memory).
    ns["net"].to(memory_format=torch.contiguous_format)


def _torch_fused(ns):
    import torch

    old = ns["optimizer"]  # train_step looks `optimizer` and `scheduler` up at each call
    ns["optimizer"] = torch.optim.SGD(ns["net"].parameters(), **{**old.defaults, "fused": True})
    ns["scheduler"] = torch.optim.lr_scheduler.CosineAnnealingLR(ns["optimizer"], T_max=ns["scheduler"].T_max)


def _torch_compile(ns):
    import torch

    ns["net"] = torch.compile(ns["net"])  # train_step and predict look `net` up at each call


def _tf_xla(ns):
    import tensorflow as tf

    for name in ("train_step", "predict"):
        ns[name] = tf.function(ns[name].python_function, jit_compile=True, reduce_retracing=True)


def _mxnet_hybridize(**kwargs):
    def apply(ns):
        ns["net"].hybridize(**kwargs)
    return apply


# {framework key: {option: (what it changes, environment variables, change to the notebook's namespace)}}
OPTIONS = {
    "pytorch": {
        "channels-first": ("model: without channels-last memory (net.to(memory_format=torch.contiguous_format))",
                           {}, _torch_channels_first),
        "fused": ("train-step: SGD(..., fused=True): one kernel per weight tensor for the whole update", {},
                  _torch_fused),
        "compile": ("model: net = torch.compile(net)", {}, _torch_compile),
    },
    "tensorflow": {
        "no-onednn": ("environment: TF_ENABLE_ONEDNN_OPTS=0", {"TF_ENABLE_ONEDNN_OPTS": "0"}, None),
        "xla": ("train-step: tf.function(jit_compile=True) for train_step and predict", {}, _tf_xla),
    },
    "mxnet": {
        "dynamic": ("model: net.hybridize() without static_alloc and static_shape", {},
                    _mxnet_hybridize(static_alloc=False, static_shape=False)),
        "imperative": ("model: no hybridize (eager Gluon)", {}, _mxnet_hybridize(active=False)),
        "omp-default": ("environment: OMP_NUM_THREADS at half the cores, MXNet's own choice on x86",
                        {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // 2))}, None),
    },
}
# The same for every framework: the kernels' memory settings (frameworks.KERNEL_ENV) left out.
for _fw in frameworks.FRAMEWORKS:
    OPTIONS.setdefault(_fw.key, {})["glibc-defaults"] = (
        "environment: GLIBC_TUNABLES empty (glibc's default malloc: large blocks go back to the OS when freed)",
        {"GLIBC_TUNABLES": ""}, None)


def option_parts(key: str, option: str | None) -> list:
    """The options of `option` ("a+b"), checked against OPTIONS."""
    parts = option.split("+") if option else []
    unknown = [p for p in parts if p not in OPTIONS[key]]
    if unknown:
        raise BenchmarkError(f"unknown option(s) {unknown} for {key}: choose from {', '.join(OPTIONS[key])}")
    return parts


def option_env(key: str, option: str | None) -> dict:
    """The environment variables of `option`."""
    return {k: v for part in option_parts(key, option) for k, v in OPTIONS[key][part][1].items()}


def parse_settings(pairs: list[str]) -> dict:
    """`["train_limit=30000", "lr=0.02"]` as overrides of the preview preset (numbers; `make_config` checks them)."""
    overrides = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"--set {pair!r}: write name=value, e.g. train_limit=30000")
        try:
            overrides[name] = int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            raise ConfigError(f"--set {pair!r}: {value!r} is not a number") from None
    return overrides


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


def measure(key: str, overrides: dict, scratch: str, chosen=None, repeats: int = 1) -> dict:
    """The runs of one framework: for each option (of `chosen`, else all), `repeats` pairs of the
    notebook as it is and with the option, the order swapped from pair to pair (as it is first)."""
    fw = frameworks.get(key)
    runs = []
    for option in chosen or OPTIONS[key]:
        for i in range(repeats):
            for variant in (None, option) if i % 2 == 0 else (option, None):
                print(f"--- {fw.name} preview" + (f" + {variant}" if variant else ""), file=sys.stderr, flush=True)
                spec = {"framework": key, "option": variant, "results_dir": scratch, "overrides": overrides}
                try:
                    result = run_worker(fw, "benchmarks.options", spec, env=option_env(key, variant))
                except WorkerError as err:  # one option failing says so in the report; the others still run
                    result = {"failed": str(err), "version": None, "device": None}
                runs.append({"option": variant, "for": option, "pair": i, **result})
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
        pairs = [[r for r in mine if r["pair"] == i] for i in range(repeats)]
        with_it = [next(r for r in pair if r["option"]) for pair in pairs]
        as_is = [next(r for r in pair if not r["option"]) for pair in pairs]
        options[option] = {
            "change": change, "seconds": summary([r["seconds"] for r in with_it]),
            "baseline_seconds": summary([r["seconds"] for r in as_is]),
            "speedup": summary([b["seconds"] / r["seconds"] for b, r in zip(as_is, with_it)]),
            "test_acc": with_it[0]["test_acc"], "baseline_test_acc": as_is[0]["test_acc"]}
    done = next((r for r in runs if r.get("version")), {})
    return {"version": done.get("version"), "device": done.get("device"), "runs": runs, "options": options}


def markdown(doc: dict) -> str:
    """The record as a table: one row per option, the preview's seconds as it is and with it."""
    lines = [f"# Options for the whole preview notebook, {doc['device'].upper()} ({doc['timestamp']})", "",
             f"Machine: {cpu(doc['machine'])}. Each row: the preview (setup to the end of the epoch's evaluation) "
             "with the option, and the run as the notebook is just before it, each in a fresh process. "
             f"Command: `{doc['command']}` ({doc['minutes']:.0f} min).", "",
             f"{doc['repeats']} pair(s) per option, the order swapped from pair to pair; figures: median (min–max) "
             "over the pairs; speed-up: seconds as it is ÷ seconds with it (above 1: the option is faster).", "",
             "| framework | option | change | as it is, s | with it, s | speed-up | test acc (as it is → with it) |",
             "|---|---|---|--:|--:|--:|--:|"]
    for key, result in doc["frameworks"].items():
        for option, o in result["options"].items():
            name = f"{frameworks.get(key).name} {result['version'] or ''}".strip()
            if o.get("failed"):
                lines.append(f"| {name} | {option} | {o['change']} | failed: {o['failed']} | | | |")
                continue
            lines.append(f"| {name} | {option} | {o['change']} | {spread(o['baseline_seconds'])} "
                         f"| {spread(o['seconds'])} | {spread(o['speedup'], 2, '×')} | {o['baseline_test_acc']:.3f} → "
                         f"{o['test_acc']:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    """Entry point of `python -m benchmarks.options`."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.options", description=__doc__.split("\n\n")[0])
    parser.add_argument("--frameworks", help=f"comma-separated subset of {','.join(frameworks.KEYS)}")
    parser.add_argument("--options", help="only these, as framework:option,... from " + ", ".join(
        f"{k}:{o}" for k in OPTIONS for o in OPTIONS[k]) + " (default: every option)")
    parser.add_argument("--repeats", type=int, default=2, help="pairs per option (default 2)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="another value for one of the preview preset's settings (repeatable), e.g. "
                             "train_limit=320 for a quick check")
    parser.add_argument("--output", type=Path, help="default benchmarks/options-cpu.json (or -gpu)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    try:
        chosen = {}
        for pair in args.options.split(",") if args.options else []:
            key, _, option = pair.partition(":")
            chosen.setdefault(frameworks.get(key).key, []).extend(option_parts(frameworks.get(key).key, option))
        keys = list(chosen) or ([frameworks.get(k).key for k in args.frameworks.split(",")] if args.frameworks else [
            k for k in frameworks.KEYS if frameworks.problem(frameworks.get(k)) is None])
        overrides = parse_settings(args.set)
        make_config("preview", gpu=False, **overrides)  # an unknown name or impossible value fails here
    except (KeyError, BenchmarkError, ConfigError) as err:
        print(f"error: {err.args[0] if isinstance(err, KeyError) else err}", file=sys.stderr)
        return 1
    begin = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="d2l-options-") as scratch:
        results = {key: measure(key, overrides, scratch, chosen.get(key), args.repeats) for key in keys}
    device = "gpu" if any(r["device"] not in ("CPU", None) for r in results.values()) else "cpu"
    doc = {"device": device, **stamp("benchmarks.options", sys.argv[1:] if argv is None else list(argv), begin),
           "overrides": overrides, "repeats": args.repeats, "frameworks": results}
    write_record(doc, args.output or HERE / f"options-{device}.json", markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
