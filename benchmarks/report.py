"""The benchmark's report: the machine it ran on, and its results as a markdown table.

`python -m benchmarks.report RUN1.json RUN2.json` sets two consecutive runs side by side: whether every
median repeats within ±10%, and which targets each run misses."""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path

from d2l_helpers import frameworks

from .reference import WORKER_COUNTS


def machine_info() -> dict:
    """CPU model (with its family, model number and widest vector unit), cores, RAM, OS and Python."""
    def field(path, key, sep=":"):
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            return None
        return next((line.split(sep, 1)[1].strip().strip('"') for line in lines
                     if line.split(sep, 1)[0].strip() == key), None)

    mem_kb = field("/proc/meminfo", "MemTotal")
    # Cloud machines of one name differ: "AMD EPYC" has stood for CPUs with and without AVX-512 here.
    flags = (field("/proc/cpuinfo", "flags") or "").split()
    vector = next((name for flag, name in [("avx512f", "AVX-512"), ("avx2", "AVX2"), ("asimd", "NEON")]
                   if flag in flags), None)
    family = field("/proc/cpuinfo", "cpu family")
    ident = [f"family {family}, model {field('/proc/cpuinfo', 'model')}" if family else None, vector]
    return {"cpu": field("/proc/cpuinfo", "model name") or platform.processor(),
            "cpu_id": "; ".join(x for x in ident if x) or None,
            "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "ram_gib": round(int(mem_kb.split()[0]) / 2 ** 20, 1) if mem_kb else None,
            "os": field("/etc/os-release", "PRETTY_NAME", "=") or platform.system(),
            "kernel": platform.release(), "python": platform.python_version()}


def cpu(m: dict) -> str:
    """A machine_info() as "CPU (family, model; vector unit), N cores" for a report's first line."""
    ident = f" ({m['cpu_id']})" if m.get("cpu_id") else ""
    return f"{m['cpu']}{ident}, {m.get('usable_cores', m['cores'])} cores"


def spread(s: dict, digits: int = 1, unit: str = "") -> str:
    """A summary (benchmarks.timing.summary) as "median (min–max)"."""
    return f"{s['median']:,.{digits}f}{unit} ({s['min']:,.{digits}f}–{s['max']:,.{digits}f})"


def _ratio(s: dict | None) -> str:
    return spread(s, 2, "×") if s else "–"


def _row(key: str, r: dict) -> list:
    d2l = r.get("d2l")
    cells = [frameworks.get(key).name + (f" + {r['option']}" if r.get("option") else ""), r["version"],
             spread(r["ours_examples_per_s"])]
    if not d2l:
        cells += ["–"] * 4
    else:
        cells += [f"{spread(r['d2l default examples_per_s'])} [{d2l['default_loader']}]",
                  _ratio(r["ratio to d2l default"])]
        if "ratio to d2l best" in r:
            cells += [f"{spread(r['d2l best examples_per_s'])} [{d2l['best_loader']}]", _ratio(r["ratio to d2l best"])]
        else:
            cells += ["the default", "the same"]
    share = {k: 100 * v for k, v in r["share_of_matmul"].items() if k != "n"}
    return cells + [spread(share, 0, "%"), f"{r['eval_examples_per_s']:,.1f}"]


def markdown(doc: dict) -> str:
    """The results as a markdown report: machine, settings, one row per framework."""
    s, m = doc["settings"], doc["machine"]
    lines = [
        f"# AlexNet training throughput, {doc['device'].upper()} ({doc['timestamp']})",
        "",
        f"Machine: {cpu(m)}, {m['ram_gib']} GiB RAM"
        + (f", GPU {m['gpu']}" if m["gpu"] else "") + f"; {m['os']}; Python {m['python']}.",
        f"Settings: batch {s['batch_size']}, {s['resize']}×{s['resize']} inputs; {s['warmup']} warm-up steps, then "
        f"{s['pairs']} pairs of windows of {s['steps']} steps (ours and d2l's, in alternating order), a "
        f"{doc['matmul']['size']}×{doc['matmul']['size']} float32 matmul in each of "
        f"{', '.join(doc['matmul']['libraries'])} measured after each pair. Figures: "
        "median (min–max) over the pairs." + (" Quick mode: not a measurement." if s["quick"] else ""),
        f"Command: `{doc['command']}` ({doc['minutes']:.0f} min).",
        "",
        "| framework | version | ours ex/s | d2l default ex/s | ours ÷ d2l default | d2l best ex/s | ours ÷ d2l best "
        "| share of matmul | eval ex/s |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for key, r in doc["frameworks"].items():
        lines.append("| " + " | ".join(_row(key, r)) + " |")
    for key, why in doc.get("skipped", {}).items():
        lines.append(f"| {frameworks.get(key).name} | – | skipped: {why} | | | | | | |")
    for key, r in doc["frameworks"].items():
        for name in [n for n in r if n.startswith("ratio to ours + ")]:
            side = name.removeprefix("ratio to ")
            lines += ["", f"{frameworks.get(key).name}, in the same pairs, {side}: "
                      f"{spread(r[f'{side} examples_per_s'])} ex/s; as it is ÷ with the option: {_ratio(r[name])}."]
    rates = {name: statistics.median(p["matmul_by_library"][name] for r in doc["frameworks"].values()
                                     for p in r["pairs"]) for name in doc["matmul"]["libraries"]}
    if doc["frameworks"]:
        lines += ["", "Matmul rate, median over all pairs: " + ", ".join(
            f"{name} {rate:,.0f} GFLOP/s" for name, rate in rates.items())
            + ". Each share of matmul is taken against the fastest of them in the same pair."
            + "".join(f" {name} left out: {why}." for name, why in doc["matmul"].get("missing", {}).items())]
    workers = ", ".join(map(str, WORKER_COUNTS))
    flops = doc["model"]["training_flops_per_example"] / 1e9
    lines += ["", "Timed: wall clock from fetching a window's first batch until the device has finished its "
              "last update (data pipeline included). d2l 1.0.3: its FashionMNIST loader (per-image resize on "
              "the CPU), the book's AlexNet and Trainer.fit_epoch, validation left out, plain SGD (ours adds "
              "momentum and weight decay). 'd2l best' is the loader-worker count that was fastest in a search "
              f"over {workers} workers in the same run (PyTorch and MXNet; TensorFlow and JAX load with "
              f"tf.data). Share of matmul: ours in GFLOP/s ({flops:.2f} GFLOP per example, "
              f"{doc['model']['convention']}) over the fastest matmul's rate in the same pair. The count is "
              "the direct method's."]
    return "\n".join(lines) + "\n"


# The targets for a framework against d2l within one run: a median ratio of at least 1.1× with no
# pair below 1.0×, and at least 75% of the matmul rate.
TARGETS = {"median ratio": 1.1, "lowest pair": 1.0, "share of matmul": 0.75}
AGREEMENT = 0.10  # two consecutive runs repeat when every median moves by at most this fraction


def _best(r: dict) -> dict:
    """The ratio to d2l at its best loader: the default's own where the search chose the default."""
    return r.get("ratio to d2l best") or r["ratio to d2l default"]


def _figures(r: dict) -> dict:
    return {"ours ÷ d2l default": r["ratio to d2l default"], "ours ÷ d2l best": _best(r),
            "share of matmul": r["share_of_matmul"]}


def _targets_missed(r: dict) -> list:
    """The targets one run misses, each figure with one more digit than the tables: 1.098× misses 1.1×."""
    sides = [("", r["ratio to d2l default"])]
    if "ratio to d2l best" in r:
        sides = [(" (d2l default)", r["ratio to d2l default"]), (" (d2l best)", r["ratio to d2l best"])]
    missed = []
    for label, s in sides:
        if s["median"] < TARGETS["median ratio"]:
            missed.append(f"median {s['median']:.3f}×{label}")
        if s["min"] < TARGETS["lowest pair"]:
            missed.append(f"a pair at {s['min']:.3f}×{label}")
    if r["share_of_matmul"]["median"] < TARGETS["share of matmul"]:
        missed.append(f"share {100 * r['share_of_matmul']['median']:.1f}%")
    return missed


def _same_setting(first: dict, second: dict) -> None:
    for what, a, b in (("settings", first["settings"], second["settings"]),
                       ("CPU", first["machine"].get("cpu_id"), second["machine"].get("cpu_id")),
                       ("model", first["model"], second["model"])):
        if a != b:
            raise ValueError(f"the two runs differ in their {what} ({a} vs {b}): they do not repeat one measurement")
    if first["settings"]["quick"]:
        raise ValueError("a --quick run is not a measurement: compare two full runs")
    missing = [k for k in first["frameworks"] if k not in second["frameworks"] or "d2l" not in first["frameworks"][k]
               or "d2l" not in second["frameworks"][k]]
    if missing:
        raise ValueError(f"{', '.join(missing)}: not measured against d2l in both runs")


def two_runs(first: dict, second: dict) -> str:
    """Two consecutive runs of one setting: each run's medians (min–max) per framework, the change of
    every median from one run to the other against the ±10% agreement, and the targets each run meets."""
    _same_setting(first, second)
    runs = (first, second)
    lines = ["| framework | run | ours, examples/s | d2l default, examples/s | ours ÷ d2l default "
             "| ours ÷ d2l best | share of the matmul rate |", "|---|--:|--:|--:|--:|--:|--:|"]
    for key in first["frameworks"]:
        for i, doc in enumerate(runs, 1):
            r = doc["frameworks"][key]
            d2l = r["d2l"]
            best = (f"{d2l['best_loader']}: {_ratio(r['ratio to d2l best'])}" if "ratio to d2l best" in r
                    else "the default")
            share = {k: 100 * v for k, v in r["share_of_matmul"].items() if k != "n"}
            default = spread(r["d2l default examples_per_s"]) + (
                f" [{d2l['default_loader']}]" if d2l["default_loader"] != "default" else "")
            lines.append(f"| {frameworks.get(key).name if i == 1 else ''} | {i} | {spread(r['ours_examples_per_s'])} "
                         f"| {default} | {_ratio(r['ratio to d2l default'])} | {best} | {spread(share, 0, '%')} |")
    lines += ["", "| framework | ours ÷ d2l default: run 1 → 2 | ours ÷ d2l best: run 1 → 2 "
              "| share of matmul: run 1 → 2 | within ±10% | targets missed: run 1 — run 2 |",
              "|---|--:|--:|--:|---|---|"]
    for key in first["frameworks"]:
        a, b = (_figures(doc["frameworks"][key]) for doc in runs)
        cells, agree = [], True
        for name in a:
            x, y = a[name]["median"], b[name]["median"]
            change = y / x - 1
            agree &= abs(change) <= AGREEMENT
            shown = (f"{100 * x:.0f}% → {100 * y:.0f}%" if name.startswith("share") else f"{x:.2f}× → {y:.2f}×")
            cells.append(f"{shown} ({100 * change:+.1f}%)")
        missed = ["; ".join(_targets_missed(doc["frameworks"][key])) or "none" for doc in runs]
        lines.append(f"| {frameworks.get(key).name} | {' | '.join(cells)} | {'yes' if agree else 'no'} "
                     f"| {missed[0]} — {missed[1]} |")
    rates = [statistics.median(p["matmul_gflops"] for r in doc["frameworks"].values() for p in r["pairs"])
             for doc in runs]
    lines += ["", "Fastest matmul per pair, median: " + " and ".join(f"{x:,.0f} GFLOP/s" for x in rates)
              + f" in runs 1 and 2 ({100 * (rates[1] / rates[0] - 1):+.0f}%)."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    """`python -m benchmarks.report RUN1.json RUN2.json`: the two runs side by side (two_runs)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=two_runs.__doc__.split(":")[0])
    parser.add_argument("runs", nargs=2, type=Path, metavar="RUN.json", help="two results of benchmarks.bench")
    args = parser.parse_args(argv)
    try:
        docs = [json.loads(path.read_text()) for path in args.runs]
        print(two_runs(*docs), end="")
    except (OSError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
