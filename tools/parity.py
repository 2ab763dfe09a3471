"""Do the frameworks compute the same thing? Measured with each notebook's own cells.

`python -m tools.parity` (run by `make run`, before compare.ipynb) builds every
framework's AlexNet from its notebook's tagged cells, in that framework's own
environment, and records in `results/parity.json`:

* the first training batch after resizing, and the shared initial weights as each
  network holds them (the same start, read back from the framework's own layout);
* the logits of that batch and the loss before any update;
* the losses of a few identical SGD steps with dropout off, and the weights after
  the first `weight_steps` of them;
* the losses of the same steps with dropout on, where each framework draws its
  own masks;
* the learning rate each framework's schedule gives those steps when the run is
  one pass over the parity's batches, read back from its optimiser.

The differences that remain with dropout off come from the arithmetic (the order of
floating-point sums, and discrete choices that rounding can tip: which of two equal
values a max-pooling window passes its gradient to, whether a ReLU input within
rounding of zero counts as positive); with dropout on, the masks add theirs.
compare.ipynb turns these numbers into its explanation, and tests/test_parity.py
checks them against fixed tolerances.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from d2l_helpers import frameworks

from .cells import NOTEBOOKS, run_tagged
from .crossenv import REPO, WorkerError, finish_worker, run_worker

BUILD = ("setup", "data", "model", "train-step")
# The CPU preview's input size and batch, and few steps: a worker spends most of its time importing
# its framework and compiling, not computing. The notebooks' cosine schedule spans `epochs` passes,
# so over these steps the learning rate stays within a millionth of its start. While it changes,
# TensorFlow's and MXNet's momentum weighs past gradients by their own steps' rates, PyTorch's and
# JAX's by the current one (the notebooks' Training section), and the updates differ by design.
HELD_LR_EPOCHS = 1000
PREVIEW = dict(preset="preview", resize=76, batch_size=64, train_limit=1280, test_limit=10,
               epochs=HELD_LR_EPOCHS, steps=10, weight_steps=3)
WORKERS = 2  # frameworks measured side by side


# --- in the framework's environment ---------------------------------------------------------------

def learning_rates(ns: dict, count: int) -> list:
    """The learning rate each of the next `count` training steps uses, read from the notebook's optimiser."""
    rates, batches = [], iter(ns["train_iter"])
    for _ in range(count):
        rates.append(ns["d2l"].next_learning_rate(ns))
        ns["train_step"](*next(batches))
    return rates


def _steps(ns: dict, count: int) -> list:
    batches = iter(ns["train_iter"])
    return [float(ns["train_step"](*next(batches))[0]) for _ in range(count)]


def worker(spec: dict) -> None:
    """Measure one framework (see the module's docstring) and write the result files."""
    key, s = spec["framework"], spec["settings"]
    notebook = NOTEBOOKS / frameworks.get(key).notebook
    overrides = dict(preset=s["preset"], resize=s["resize"], batch_size=s["batch_size"],
                     train_limit=s["train_limit"], test_limit=s["test_limit"], seed=s.get("seed", 0),
                     lr=s.get("lr"), epochs=s.get("epochs"))
    ns = run_tagged(notebook, BUILD, **overrides)
    d2l = ns["d2l"]
    d2l.set_dropout(ns["net"], 0.0)
    run_tagged(notebook, ("initial-loss",), namespace=ns)
    X, y = ns["X"], ns["y"]
    start = d2l.get_weights(ns["net"])
    shared = d2l.initial_weights(s["resize"], s.get("seed", 0))
    images = d2l.numpy(X)
    arrays = {"first_batch": images.transpose(0, 3, 1, 2) if images.shape[-1] == 1 else images,
              "labels": d2l.numpy(y).astype(np.int64), "logits": d2l.numpy(ns["predict"](X))}
    losses_off = _steps(ns, s["weight_steps"])
    after = d2l.get_weights(ns["net"])
    losses_off += _steps(ns, s["steps"] - s["weight_steps"])  # continues with the next batches
    for i, ((w, b), (w0, b0)) in enumerate(zip(after, start)):
        arrays[f"w{i}"], arrays[f"b{i}"] = w, b
        arrays[f"w{i}_start"], arrays[f"b{i}_start"] = w0, b0
    np.savez(spec["arrays"], **arrays)

    run_tagged(notebook, ("model", "train-step"), namespace=ns)  # a fresh net, dropout on
    losses_on = _steps(ns, s["steps"])

    # The schedule as each framework applies it, over a run of one pass (it spans the run's batches).
    ns["config"] = dataclasses.replace(ns["config"], epochs=1)
    run_tagged(notebook, ("model", "train-step"), namespace=ns)
    rates = learning_rates(ns, s["steps"])
    finish_worker(spec, {
        "version": d2l.VERSION, "device": d2l.device_choice().name,
        "initial_loss": float(ns["initial_loss"]),
        "start_vs_shared": max(float(np.abs(w - v).max()) for (w, _), (v, _) in zip(start, shared)),
        "losses_no_dropout": losses_off, "losses_dropout": losses_on,
        "learning_rates": rates, "schedule_steps": len(ns["train_iter"]),
    })


# --- in the main environment -------------------------------------------------------------------------

def _max_diff(a, b) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


def measure(settings: dict, keys=None) -> dict:
    """Run every available framework's worker with `settings` and compare the results.

    The first framework measured is the reference the others are compared with.
    Frameworks whose environment is missing are listed under "skipped" with the reason.
    """
    results, arrays, skipped = {}, {}, {}
    chosen = [fw for fw in frameworks.FRAMEWORKS if not keys or fw.key in keys]
    for fw in chosen:
        if frameworks.problem(fw):
            skipped[fw.key] = frameworks.problem(fw)
    with tempfile.TemporaryDirectory(prefix="d2l-parity-") as scratch:
        def measure_one(fw):
            path = Path(scratch) / f"{fw.key}.npz"
            result = run_worker(fw, "tools.parity", {"framework": fw.key, "settings": settings,
                                                     "arrays": str(path)}, capture=True)
            with np.load(path) as data:
                return result, dict(data)

        # Most of a worker's time goes to importing its framework and compiling its steps, on
        # one core: two workers side by side take little more than one.
        available = [fw for fw in chosen if fw.key not in skipped]
        print(f"--- parity: {', '.join(fw.name for fw in available)}, {WORKERS} at a time",
              file=sys.stderr, flush=True)
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            for fw, (result, data) in zip(available, pool.map(measure_one, available)):
                results[fw.key], arrays[fw.key] = result, data
    if not results:
        raise WorkerError("no framework could be measured: " + "; ".join(skipped.values()))
    keys = list(results)
    ref = keys[0]
    layers = sum(1 for name in arrays[ref] if name.startswith("w") and not name.endswith("_start"))

    def weight_diff(key, suffix="", other=ref):
        return max(_max_diff(arrays[key][f"{p}{i}{suffix}"], arrays[other][f"{p}{i}{suffix}"])
                   for i in range(layers) for p in "wb")

    def relative_change(key, other):  # ‖w_key − w_other‖ / ‖w_other − w_start‖ over all weights
        diff = sum(float(np.sum((arrays[key][f"{p}{i}"] - arrays[other][f"{p}{i}"]) ** 2.0))
                   for i in range(layers) for p in "wb")
        moved = sum(float(np.sum((arrays[other][f"{p}{i}"] - arrays[other][f"{p}{i}_start"]) ** 2.0))
                    for i in range(layers) for p in "wb")
        return (diff / moved) ** 0.5

    def spread(series):  # largest difference between any two frameworks, step by step
        rows = np.array([results[k][series] for k in keys])
        return (rows.max(axis=0) - rows.min(axis=0)).tolist()

    losses = [results[k]["initial_loss"] for k in keys]
    moved = max(_max_diff(arrays[ref][f"w{i}"], arrays[ref][f"w{i}_start"]) for i in range(layers))
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": settings, "reference": ref, "frameworks": keys, "skipped": skipped,
        "versions": {k: results[k]["version"] for k in keys},
        "devices": {k: results[k]["device"] for k in keys},
        "start_vs_shared_weights": {k: results[k]["start_vs_shared"] for k in keys},
        "start_vs_reference": {k: weight_diff(k, "_start") for k in keys},
        "first_batch": {k: _max_diff(arrays[k]["first_batch"], arrays[ref]["first_batch"]) for k in keys},
        "labels_equal": {k: bool(np.array_equal(arrays[k]["labels"], arrays[ref]["labels"])) for k in keys},
        "logits": {k: _max_diff(arrays[k]["logits"], arrays[ref]["logits"]) for k in keys},
        "initial_loss": {k: results[k]["initial_loss"] for k in keys},
        "initial_loss_spread": max(losses) - min(losses),
        "no_dropout": {"losses": {k: results[k]["losses_no_dropout"] for k in keys},
                       "loss_spread": spread("losses_no_dropout"),
                       "weights_after": {k: weight_diff(k) for k in keys},
                       "weights_after_pairs": {f"{a}-{b}": {"max": weight_diff(a, other=b),
                                                            "relative": relative_change(a, b)}
                                               for i, a in enumerate(keys) for b in keys[i + 1:]},
                       "largest_weight_change": moved},
        "dropout": {"losses": {k: results[k]["losses_dropout"] for k in keys},
                    "loss_spread": spread("losses_dropout")},
        "schedule": {"steps": results[ref]["schedule_steps"],
                     "learning_rates": {k: results[k]["learning_rates"] for k in keys}},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.parity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=REPO / "results" / "parity.json")
    parser.add_argument("--steps", type=int, default=PREVIEW["steps"])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    try:
        # enough training images for every step to take a batch of its own
        train_limit = max(PREVIEW["train_limit"], args.steps * PREVIEW["batch_size"])
        doc = measure({**PREVIEW, "steps": args.steps, "train_limit": train_limit})
    except WorkerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {args.output}: logits agree to {max(doc['logits'].values()):.1e}, initial losses to "
          f"{doc['initial_loss_spread']:.1e}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
