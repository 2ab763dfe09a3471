"""What a benchmark worker runs: the notebook's own cells, d2l's reference code, or a matmul.

A worker is a long-lived interpreter of one framework's environment
(`tools.crossenv.Worker` starts it) that builds one workload, warms it up, and
then times windows when the parent asks, one at a time. The parent alternates
its workers window by window (ours, d2l's, ours, ...), so each pair of
measurements is taken minutes apart at most, and only one worker computes at a time.

Protocol: `python -m benchmarks.workloads <spec>` prints one JSON line
(`{"ready": info}`), then answers each JSON request line (`{"window": batches,
"loader": name}`, `{"evaluate": true}`, `{"quit": true}`) with one JSON line.
Everything the libraries print goes to stderr.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from d2l_helpers import frameworks
from tools.cells import NOTEBOOKS, run_tagged

from .timing import Counted, Feed, time_window

NOTEBOOK_TAGS = ("setup", "data", "model", "train-step")


class Workload:
    """Loaders by name, a training function over batches, a device sync, and what to report."""

    def __init__(self, loaders: dict, train, sync, info: dict, evaluate=None):
        self.feeds = {name: Feed(loader) for name, loader in loaders.items()}
        self.train, self.sync, self.info, self.evaluate_fn = train, sync, info, evaluate

    def window(self, batches: int, loader: str | None = None) -> dict:
        feed = self.feeds[loader or next(iter(self.feeds))]
        return time_window(self.train, Counted(feed, batches), self.sync)

    def evaluate(self) -> dict:
        self.evaluate_fn()  # the first pass builds graphs and caches
        begin = time.perf_counter()
        examples = self.evaluate_fn()
        return {"examples": examples, "seconds": time.perf_counter() - begin}


def notebook(spec: dict) -> Workload:
    """The notebook's own cells under the reference preset, at the benchmark's sizes."""
    s = spec["settings"]
    ns = run_tagged(NOTEBOOKS / frameworks.get(spec["framework"]).notebook, NOTEBOOK_TAGS, preset="reference",
                    batch_size=s["batch_size"], resize=s["resize"], train_limit=s["train_limit"],
                    test_limit=s["test_limit"])
    train_step, d2l, net = ns["train_step"], ns["d2l"], ns["net"]

    def train(batches):
        for X, y in batches:
            train_step(X, y)  # the loss stays on the device, as in the notebook's loop; the window's end waits

    def evaluate():
        ns["evaluate"](ns["test_iter"])
        return ns["test_iter"].num_examples

    info = {"version": d2l.VERSION, "device": d2l.device_choice().name, "threads": os.cpu_count()}
    # The loss is on the host after each step, but an update may still run: wait for the weights.
    return Workload({"default": ns["train_iter"]}, train, lambda: d2l.synchronize(net), info, evaluate)


def reference(spec: dict) -> Workload:
    """d2l 1.0.3's code (benchmarks.reference), from its cache folder."""
    from . import reference as d2l_reference

    sys.path.insert(0, spec["d2l_dir"])  # only this process sees d2l and what it needs
    scratch = tempfile.mkdtemp(prefix="d2l-reference-")
    built = d2l_reference.BUILDERS[spec["framework"]](Path(scratch), spec["settings"])
    info = {**built.info, "version": d2l_reference.VERSION, "default_loader": built.default,
            "loaders": list(built.loaders)}
    return Workload(built.loaders, built.train, built.sync, info)


def matmul(spec: dict) -> Workload:
    """An n×n float32 matmul in each framework of the main environment, on the GPU if there is one:
    the fastest is the device's reachable rate (the libraries behind them differ by 2× on some
    CPUs). One "loader" per framework; one that fails to import is left out, with the reason."""
    n = spec["settings"]["matmul_size"]
    products, missing, device = {}, {}, "CPU"
    for fw in frameworks.FRAMEWORKS:
        if frameworks.environment_of(fw) is not frameworks.MAIN:
            continue
        try:
            adapter = importlib.import_module(fw.adapter)
        except ImportError as err:
            missing[fw.name] = str(err)
            continue
        products[fw.name] = adapter.matmul(n)
        products[fw.name]()  # the first call compiles, loads kernels and libraries
        device = adapter.device_choice().name

    class Work:  # stands in for a batch's labels: its "size" is the product's MFLOP
        shape = (2 * n ** 3 // 10 ** 6,)

    class Products:
        """Stands in for a loader: each batch is one product, whose 'examples' are its 2n³/10⁶ MFLOP."""

        def __init__(self, product):
            self.product = product

        def __iter__(self):
            while True:
                yield (self.product, Work)

    def train(batches):
        for product, _ in batches:
            product()

    info = {"size": n, "libraries": list(products), "missing": missing, "device": device}
    return Workload({name: Products(product) for name, product in products.items()}, train, lambda: None, info)


BUILD = {"notebook": notebook, "reference": reference, "matmul": matmul}


def serve(spec: dict) -> None:
    """The worker's main loop (see the module docstring)."""
    reply = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # what the libraries print, from Python or C++, goes to stderr
    workload = BUILD[spec["kind"]](spec)
    reply.write(json.dumps({"ready": workload.info}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("quit"):
            break
        if "window" in request:
            answer = workload.window(request["window"], request.get("loader"))
        else:
            answer = workload.evaluate()
        reply.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
