"""Benchmark records: the machine they ran on, the fields each starts with, one writer, and
`make bench`'s table.

Every study of benchmarks/ (bench, options, seeds) writes its record the same way:
`<name>.json` with everything measured, `<name>.md` beside it with the table, which
is also printed.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
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
    # Cloud CPUs of one model name differ (with or without AVX-512, say): the family, model number
    # and widest vector unit tell them apart.
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


def stamp(module: str, argv: list, begin: float) -> dict:
    """The fields a record starts with: when it ended, the command, how long it took (`begin`: a
    time.perf_counter() reading), and the machine, with its load average over the last 15 minutes
    (what else ran beside the measurement)."""
    return {"timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join([f"python -m {module}", *argv]),
            "minutes": (time.perf_counter() - begin) / 60,
            "machine": {**machine_info(), "load_15min": round(os.getloadavg()[2], 1)}}


def write_record(doc: dict, output: Path, table: str) -> None:
    """Write `doc` to `output` (JSON) and `table` beside it (`.md`), and print the table."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(doc, indent=1) + "\n")
    output.with_suffix(".md").write_text(table)
    print(table)
    print(f"Wrote {output} and {output.with_suffix('.md')}", file=sys.stderr)


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
    cells = [frameworks.get(key).name, r["version"], spread(r["ours_examples_per_s"])]
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


def table(doc: dict) -> str:
    """The results of `make bench`: machine, settings and command, one row per framework, the matmul rates.
    benchmarks/README.md shows the latest run's."""
    s, m = doc["settings"], doc["machine"]
    lines = [
        f"Machine: {cpu(m)}, {m['ram_gib']} GiB RAM"
        + (f", GPU {m['gpu']}" if m["gpu"] else "") + f"; {m['os']}; Python {m['python']}"
        + (f"; load average {m['load_15min']} over the run's last 15 minutes." if "load_15min" in m else "."),
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
    rates = {name: statistics.median(p["matmul_by_library"][name] for r in doc["frameworks"].values()
                                     for p in r["pairs"]) for name in doc["matmul"]["libraries"]}
    if doc["frameworks"]:
        lines += ["", "Matmul rate, median over all pairs: " + ", ".join(
            f"{name} {rate:,.0f} GFLOP/s" for name, rate in rates.items())
            + ". Each share of matmul is taken against the fastest of them in the same pair."
            + "".join(f" {name} left out: {why}." for name, why in doc["matmul"].get("missing", {}).items())]
    return "\n".join(lines) + "\n"


def markdown(doc: dict) -> str:
    """The results as a markdown report: `table`, then how each figure was taken."""
    lines = [f"# AlexNet training throughput, {doc['device'].upper()} ({doc['timestamp']})", "", table(doc).rstrip()]
    workers = ", ".join(map(str, WORKER_COUNTS))
    flops = doc["model"]["training_flops_per_example"] / 1e9
    lines += ["", "Timed: wall clock from fetching a window's first batch until the device has finished its "
              "last update (data pipeline included). d2l 1.0.3: its FashionMNIST loader (per-image resize on "
              "the CPU), the book's AlexNet and Trainer.fit_epoch, validation left out, plain SGD (ours adds "
              "momentum and weight decay). 'd2l best' is the loader-worker count that was fastest in a search "
              f"over {workers} workers in the same run (PyTorch and MXNet; TensorFlow and JAX load with "
              f"tf.data). Share of matmul: ours in GFLOP/s ({flops:.2f} GFLOP per example, "
              f"{doc['model']['convention']}) over the fastest matmul's rate in the same pair. No ratio or share "
              "has a target: the run reports them."]
    return "\n".join(lines) + "\n"
