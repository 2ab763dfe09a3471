"""`python -m tools.gpu_run` (`make gpu-run`): the reference run of every framework that imports here.

For a GPU machine that has a Python with the frameworks but no Jupyter, no papermill
and no package index (the H200 lent for checks: PyTorch and JAX, no TensorFlow, no
MXNet). For each framework of the registry that imports under this interpreter, a
fresh process runs the training notebook's own cells — setup, data, model, train:
the code papermill runs in `make run` — under the `reference` preset (10 epochs of
all 60,000 training images at 224×224, scored on all 10,000 test images after each
epoch). It writes each run record to results/gpu/ and a summary, with the d2l 1.0.3
reference's throughput where d2l imports, to benchmarks/results-gpu.json.

    python3 -m tools.gpu_run --data-dir .gpu-data     # the Fashion-MNIST files, carried along
    python -m tools.gpu_run --preset smoke            # the same path, tiny, on a CPU (tests)
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from d2l_helpers import frameworks

from .cells import NOTEBOOKS, run_tagged
from .crossenv import REPO, Worker, WorkerError, finish_worker, rate, run_worker

TAGS = ("setup", "data", "model", "train")


def worker(spec: dict) -> None:
    """One framework's run, in its own process: the notebook's cells, then the record saved."""
    begin = time.perf_counter()
    ns = run_tagged(NOTEBOOKS / frameworks.get(spec["framework"]).notebook, TAGS, preset=spec["preset"],
                    results_dir=spec["results_dir"], **spec["overrides"])
    record = ns["record"]
    record.finish()
    path = record.save(spec["results_dir"])
    finish_worker(spec, {"record": str(path), "device": record.device, "device_note": record.device_note,
                         "version": record.framework_version, "config": record.config,
                         "test_acc": record.final["test_acc"], "train_seconds": record.final["train_seconds"],
                         "examples_per_s": record.final["examples_per_sec"],
                         "epoch_seconds": [h["seconds"] for h in record.history],
                         "epoch_examples_per_s": [h["examples_per_sec"] for h in record.history],
                         "test_acc_per_epoch": [h["test_acc"] for h in record.history],
                         "process_seconds": time.perf_counter() - begin})


def d2l_reference(fw, settings: dict, d2l_dir: str | None) -> dict:
    """d2l 1.0.3's training throughput at the same batch and image size, where d2l imports here."""
    folder = d2l_dir or os.environ.get("D2L_DIR")
    if not folder:
        return {"skipped": "no d2l 1.0.3 here: pass --d2l-dir with a folder holding d2l and what it imports "
                           "(benchmarks.reference.REQUIREMENTS), installed with pip --target"}
    try:
        ref = Worker(fw, "benchmarks.workloads", {"kind": "reference", "framework": fw.key, "settings": settings,
                                                  "d2l_dir": folder}, f"{fw.name}: d2l 1.0.3")
    except Exception as err:  # d2l may not import on this stack; the run goes on without it
        return {"skipped": f"d2l 1.0.3 did not start: {err}"}
    try:
        loader = ref.info["default_loader"]
        ref.ask(window=settings["warmup"], loader=loader)
        windows = [ref.ask(window=settings["steps"], loader=loader) for _ in range(settings["windows"])]
        return {"version": ref.info["version"], "loader": loader,
                "examples_per_s": sorted(rate(w) for w in windows)[len(windows) // 2],
                "windows": windows}
    finally:
        ref.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.gpu_run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="reference", help="default: reference (smoke: a tiny check)")
    parser.add_argument("--frameworks", help=f"comma-separated subset of {','.join(frameworks.KEYS)}")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--train-limit", type=int)
    parser.add_argument("--data-dir", help="the folder with the four Fashion-MNIST files (sets D2L_DATA_DIR)")
    parser.add_argument("--d2l-dir", help="a folder with d2l 1.0.3 installed (pip --target) for the reference")
    parser.add_argument("--results-dir", type=Path, default=REPO / "results" / "gpu")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results-gpu.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    if args.data_dir:
        os.environ["D2L_DATA_DIR"] = str(Path(args.data_dir).resolve())
    overrides = {k: v for k, v in (("epochs", args.epochs), ("train_limit", args.train_limit)) if v is not None}
    keys = args.frameworks.split(",") if args.frameworks else list(frameworks.KEYS)
    begin, results, skipped = time.perf_counter(), {}, {}
    for key in keys:
        fw = frameworks.get(key)
        if fw.environment.key == frameworks.MAIN.key:  # this interpreter is the main environment
            installed = importlib.util.find_spec(fw.module) is not None
            problem = None if installed else f"{fw.module} is not installed for {sys.executable}"
        else:
            problem = frameworks.problem(fw)
        if problem:
            skipped[key] = problem
            print(f"--- skipping {fw.name}: {problem}", file=sys.stderr, flush=True)
            continue
        print(f"--- {fw.name}: preset {args.preset}", file=sys.stderr, flush=True)
        try:
            results[key] = run_worker(fw, "tools.gpu_run", {"framework": key, "preset": args.preset,
                                                             "results_dir": str(args.results_dir),
                                                             "overrides": overrides})
        except WorkerError as err:
            skipped[key] = str(err)
            continue
        config = results[key]["config"]
        settings = {"resize": config["resize"], "batch_size": config["batch_size"], "warmup": 3, "steps": 10,
                    "windows": 3, "train_limit": config["batch_size"] * 40}
        results[key]["d2l"] = d2l_reference(fw, settings, args.d2l_dir)
        d2l = results[key]["d2l"]
        if "examples_per_s" in d2l:
            results[key]["ratio_to_d2l"] = results[key]["epoch_examples_per_s"][-1] / d2l["examples_per_s"]
    doc = {"timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "command": " ".join(["python -m tools.gpu_run", *(sys.argv[1:] if argv is None else argv)]),
           "python": sys.version.split()[0], "minutes": (time.perf_counter() - begin) / 60,
           "preset": args.preset, "overrides": overrides, "frameworks": results, "skipped": skipped}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=1) + "\n")
    for key, r in results.items():
        print(f"{frameworks.get(key).name}: test accuracy {r['test_acc']:.3f} after {len(r['epoch_seconds'])} "
              f"epoch(s), {r['examples_per_s']:,.0f} examples/s on {r['device']} ({r['train_seconds']:.0f} s "
              "training)", file=sys.stderr)
    print(f"wrote {args.output} and the run records in {args.results_dir} ({doc['minutes']:.1f} min)",
          file=sys.stderr)
    return 0 if results else 1


if __name__ == "__main__":
    raise SystemExit(main())
