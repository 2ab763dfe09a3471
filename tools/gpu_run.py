"""`python3 -m tools.gpu_run` (`make gpu-run`): the reference run of every framework that imports here.

For a GPU machine whose Python has the frameworks but no Jupyter, papermill, tqdm or pooch
and no package index (the check machine's image: PyTorch and JAX, no TensorFlow or MXNet):
only the repository and the data folder travel. `make gpu-data` (`python -m d2l_helpers
--copy-to .gpu-data`) makes that folder here; the run uses `.gpu-data` when it is there.

For each framework of the registry that imports under this interpreter, and each precision
asked for, a fresh process runs the training notebook's own cells — setup, data, model,
train: the code papermill runs in `make run` — under the `reference` preset (10 epochs of
all 60,000 training images at 224×224, scored on all 10,000 test images after each epoch),
which it refuses to train on a CPU. The runs share a time budget: each gets an equal part
of what is left and does not start an epoch that would end past it. Each run record is
saved after every epoch, the summary (`gpu-run.json`, with d2l 1.0.3's throughput where
d2l imports) after every run, so a run that is cut off keeps what it measured. One line per
epoch; what the notebooks' cells print goes to a log beside each record.

    python3 -m tools.gpu_run --out "$OUT"       # the check machine: everything into the folder that comes back
    python3 -m tools.gpu_run --precision float32,bfloat16
    python -m tools.gpu_run --preset smoke      # the same path, tiny, on a CPU (tests, tools/rehearse_gpu.sh)
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from d2l_helpers import frameworks
from d2l_helpers.config import PRECISIONS

from .cells import NOTEBOOKS, run_tagged
from .crossenv import REPO, Worker, WorkerError, finish_worker, rate, run_worker

BUDGET_MINUTES = 8.0  # the check machine stops a command after 10
MIN_SHARE_S = 30.0  # a run with less of the budget than this is not started
FINISH_S = 15.0  # of a run's share, kept for its last record, result and exit
DATA_DIR = REPO / ".gpu-data"
DEFAULT_OUT = REPO / "results" / "gpu"
SUMMARY = "gpu-run.json"
# What each notebook's setup cell imports beyond its framework.
NOTEBOOK_IMPORTS = {"jax": ("flax", "optax"), "tensorflow": ("keras",)}
FLAX_FOR_JAX_011 = (0, 12, 10)  # flax 0.12.8 and 0.12.9 fail to import nnx under jax 0.11


# --- in the worker: one framework, one precision ---------------------------------------------------

def refusal(config, choice, asked: str, notebook: str) -> str | None:
    """Why a run with this notebook's `config` on `choice` (a devices.Choice) must not start."""
    if config.preset == "reference" and choice.gpu is None:
        return (f"refusing the reference preset on the CPU ({choice.reason}): 10 epochs of 60,000 images "
                "at 224×224 take hours there; --preset smoke checks the path")
    if config.precision != asked:
        return (f"{notebook} would train in {config.precision}, not {asked}: its setup cell does not pass "
                "`precision` to make_config")
    return None


def run_summary(record, path, cut: str | None) -> dict:
    """What the summary keeps of a run record, however many epochs it holds."""
    history, final = record.history, record.final
    return {"record": str(path), "device": record.device, "device_note": record.device_note,
            "version": record.framework_version, "config": record.config,
            "epochs_done": len(history), "cut": cut,
            "test_acc": final.get("test_acc"), "train_seconds": final.get("train_seconds"),
            "examples_per_s": final.get("examples_per_sec"),
            "epoch_seconds": [h["seconds"] for h in history],
            "epoch_examples_per_s": [h["examples_per_sec"] for h in history],
            "test_acc_per_epoch": [h["test_acc"] for h in history]}


def worker(spec: dict) -> None:
    """One run in its own process: the notebook's cells, the record saved after every epoch."""
    from d2l_helpers import training

    fw = frameworks.get(spec["framework"])
    folder = Path(spec["results_dir"])
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.perf_counter() + spec["deadline"] - time.time()
    cut = None
    with open(folder / f"{Path(fw.record).stem}.log", "w") as log, contextlib.redirect_stdout(log):
        ns = run_tagged(NOTEBOOKS / fw.notebook, ("setup",), preset=spec["preset"], precision=spec["precision"],
                        results_dir=str(folder), **spec["overrides"])
        d2l = ns["d2l"]
        print(d2l.device_choice().line(d2l.FRAMEWORK), file=sys.stderr, flush=True)
        problem = refusal(ns["config"], d2l.device_choice(), spec["precision"], fw.notebook)
        if problem:
            finish_worker(spec, {"refused": problem})
            return
        try:
            with training.unattended(folder, deadline):
                run_tagged(NOTEBOOKS / fw.notebook, ("data", "model", "train"), namespace=ns)
        except training.OutOfTime as err:
            cut = str(err)
    record = ns["record"]
    if record.history:
        record.finish()
    finish_worker(spec, run_summary(record, record.save(folder), cut))


# --- in the parent ------------------------------------------------------------------------------

def _version(package: str) -> tuple:
    return tuple(int(part) for part in re.findall(r"\d+", importlib.metadata.version(package))[:3])


def import_problem(fw) -> str | None:
    """Why `fw`'s notebook cannot run under this interpreter, in one line, or None."""
    if frameworks.environment_of(fw).key != frameworks.MAIN.key:
        return frameworks.problem(fw)
    missing = [m for m in (fw.module, *NOTEBOOK_IMPORTS.get(fw.key, ())) if importlib.util.find_spec(m) is None]
    if missing:
        return f"{', '.join(missing)} not installed for {sys.executable}"
    needs_flax = "flax" in NOTEBOOK_IMPORTS.get(fw.key, ())
    if needs_flax and _version("jax") >= (0, 11) and _version("flax") < FLAX_FOR_JAX_011:
        wanted = ".".join(map(str, FLAX_FOR_JAX_011))
        return (f"flax {importlib.metadata.version('flax')} cannot import nnx under jax "
                f"{importlib.metadata.version('jax')}: it needs flax {wanted} or later")
    return None


def data_problem(data_dir) -> str | None:
    """Why the workers would not find Fashion-MNIST here (a named folder must hold all four files)."""
    from d2l_helpers import data

    try:
        folder = data.locate(data_dir)
    except data.DataError as err:
        return str(err)
    if folder is None and importlib.util.find_spec("pooch") is None:
        return (f"Fashion-MNIST is not in {', '.join(map(str, data.candidate_dirs()))}, and pooch, which would "
                "download it, is not installed: make the folder with `make gpu-data` and carry it along")
    return None


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


def salvage(fw, folder: Path, error: str) -> dict:
    """After a worker failed or ran out of time: what its record saved so far holds."""
    from d2l_helpers.results import load_record

    path = folder / fw.record
    try:
        record = load_record(path)
    except ValueError:
        return {"failed": error}
    return {**run_summary(record, path, error), "failed": error}


def write(doc: dict, path: Path, begin: float) -> None:
    """Write the summary atomically (a run cut off at any moment leaves a readable file)."""
    doc["minutes"] = (time.time() - begin) / 60
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, path)


def describe(name: str, run: dict) -> str:
    """The line the parent prints for a finished run."""
    epochs = f"{run.get('epochs_done', 0)} of {run['config']['epochs']} epoch(s)" if "config" in run else "no epoch"
    if run.get("examples_per_s"):
        said = (f"{name}: test accuracy {run['test_acc']:.3f} after {epochs}, {run['examples_per_s']:,.0f} "
                f"examples/s on {run['device']} ({run['train_seconds']:.0f} s training)")
    else:
        said = f"{name}: {epochs}"
    problem = run.get("failed") or run.get("cut")
    return f"{said}; cut: {problem}" if problem else said


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools.gpu_run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="reference", help="default: reference (smoke: a tiny check)")
    parser.add_argument("--frameworks", help=f"comma-separated subset of {','.join(frameworks.KEYS)}")
    parser.add_argument("--precision", default=PRECISIONS[0],
                        help=f"comma-separated, each run once per precision: {', '.join(PRECISIONS)} "
                             "(default float32)")
    parser.add_argument("--budget", type=float, default=BUDGET_MINUTES,
                        help=f"minutes the whole call may take (default {BUDGET_MINUTES:g})")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--train-limit", type=int)
    parser.add_argument("--data-dir", help="the folder with the four Fashion-MNIST files (default: .gpu-data "
                                           "if it exists, else where the notebooks look)")
    parser.add_argument("--d2l-dir", help="a folder with d2l 1.0.3 installed (pip --target) for the reference")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"where the records (<precision>/alexnet-<key>.json) and {SUMMARY} go "
                             "(default results/gpu)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    begin = time.time()
    end = begin + args.budget * 60
    precisions = args.precision.split(",")
    wrong = [p for p in precisions if p not in PRECISIONS]
    if wrong:
        parser.error(f"unknown precision {', '.join(wrong)}: choose from {', '.join(PRECISIONS)}")
    fws = [frameworks.get(key) for key in (args.frameworks.split(",") if args.frameworks else frameworks.KEYS)]
    if args.preset == "reference":
        from d2l_helpers import devices

        if not devices.nvidia_gpus():
            print("gpu_run: refusing the reference preset: no NVIDIA GPU answered here (libcuda.so.1), and its 10 "
                  "epochs at 224×224 take hours on a CPU; --preset smoke checks the path", file=sys.stderr)
            return 2
    data_dir = args.data_dir or (str(DATA_DIR) if DATA_DIR.is_dir() else None)
    if data_dir:
        os.environ["D2L_DATA_DIR"] = str(Path(data_dir).resolve())
    problem = data_problem(data_dir)
    if problem:
        print(f"gpu_run: {problem}", file=sys.stderr)
        return 1
    overrides = {k: v for k, v in (("epochs", args.epochs), ("train_limit", args.train_limit)) if v is not None}
    args.out.mkdir(parents=True, exist_ok=True)
    summary = args.out / SUMMARY
    doc = {"timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "command": " ".join(["python3 -m tools.gpu_run", *(sys.argv[1:] if argv is None else argv)]),
           "python": sys.version.split()[0], "budget_minutes": args.budget, "preset": args.preset,
           "overrides": overrides, "runs": {}, "skipped": {}}
    jobs = []
    for fw in fws:
        problem = import_problem(fw)
        for precision in precisions:
            if problem is None and precision == "bfloat16" and not fw.bfloat16:
                problem = f"the {fw.name} notebook trains in float32 only"
            if problem:
                doc["skipped"][f"{fw.key} {precision}"] = problem
                print(f"--- skipping {fw.name} {precision}: {problem}", file=sys.stderr, flush=True)
            else:
                jobs.append((fw, precision))
    write(doc, summary, begin)
    for i, (fw, precision) in enumerate(jobs):
        name, share = f"{fw.name} {precision}", (end - time.time()) / (len(jobs) - i)
        if share < MIN_SHARE_S:
            doc["skipped"][f"{fw.key} {precision}"] = f"not started: {share:.0f} s of the budget left for it"
            print(f"--- skipping {name}: {doc['skipped'][f'{fw.key} {precision}']}", file=sys.stderr, flush=True)
            write(doc, summary, begin)
            continue
        print(f"--- {name}: preset {args.preset}, {share:.0f} s of the budget", file=sys.stderr, flush=True)
        folder = args.out / precision
        spec = {"framework": fw.key, "preset": args.preset, "precision": precision, "results_dir": str(folder),
                "overrides": overrides, "deadline": time.time() + share - FINISH_S}
        try:
            run = run_worker(fw, "tools.gpu_run", spec, timeout=share)
        except WorkerError as err:
            run = salvage(fw, folder, str(err))
        if "refused" in run:
            doc["skipped"][f"{fw.key} {precision}"] = run["refused"]
            print(f"--- {name}: {run['refused']}", file=sys.stderr, flush=True)
        else:
            if precision == "float32" and "config" in run and end - time.time() > MIN_SHARE_S:
                config = run["config"]
                settings = {"resize": config["resize"], "batch_size": config["batch_size"], "warmup": 3,
                            "steps": 10, "windows": 3, "train_limit": config["batch_size"] * 40}
                run["d2l"] = d2l_reference(fw, settings, args.d2l_dir)
                if "examples_per_s" in run["d2l"] and run["epoch_examples_per_s"]:
                    run["ratio_to_d2l"] = run["epoch_examples_per_s"][-1] / run["d2l"]["examples_per_s"]
            doc["runs"].setdefault(fw.key, {})[precision] = run
        write(doc, summary, begin)
    for key, runs in doc["runs"].items():
        for precision, run in runs.items():
            print(describe(f"{frameworks.get(key).name} {precision}", run), file=sys.stderr)
    for job, reason in doc["skipped"].items():
        print(f"skipped {job}: {reason}", file=sys.stderr)
    print(f"wrote {summary} and the run records under {args.out} ({doc['minutes']:.1f} min of the "
          f"{args.budget:g}-minute budget)", file=sys.stderr)
    return 0 if doc["runs"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
