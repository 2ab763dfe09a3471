"""What a benchmark worker runs, and the line protocol between the worker and the parent.

A worker is a long-lived interpreter of one framework's environment that builds one
workload — the notebook's own cells, d2l's reference code, or a matmul — warms it
up, and then times windows when the parent asks, one at a time. The parent
alternates its workers window by window (ours, d2l's, ours, ...), so each pair of
measurements is taken minutes apart at most, and only one worker computes at a time.

Protocol: the parent starts `python -m benchmarks.workloads <spec>`, reads one JSON
line (`{"ready": info}`), then sends one JSON line per request (`{"window": batches,
"loader": name}`, `{"evaluate": true}`, `{"quit": true}`) and reads one JSON line back.
Everything the libraries print goes to stderr.
"""
from __future__ import annotations

import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time

from d2l_helpers import frameworks
from tools.crossenv import REPO, interpreter

from .timing import BenchmarkError, Counted, Feed, time_window

NOTEBOOK_TAGS = ("setup", "data", "model", "train-step")


# --- options of the notebooks' code, measured against the notebook as it is ----------------------

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


def _torch_bf16(ns):
    import torch

    step, predict, device_type = ns["train_step"], ns["predict"], ns["device"].type

    # Autocast computes convolutions and matrix products in bfloat16 (AMX or AVX-512 BF16 units
    # on CPUs that have them) and keeps the weights and the loss in float32; the logits go back
    # to float32 for NumPy, which has no bfloat16.
    def train_step(X, y):
        with torch.autocast(device_type, dtype=torch.bfloat16):
            loss, y_hat = step(X, y)
        return loss, y_hat.float()

    def predict_bf16(X):
        with torch.autocast(device_type, dtype=torch.bfloat16):
            return predict(X).float()

    ns["train_step"], ns["predict"] = train_step, predict_bf16  # the loop and evaluate look them up


def _tf_xla(ns):
    import tensorflow as tf

    for name in ("train_step", "predict"):
        ns[name] = tf.function(ns[name].python_function, jit_compile=True, reduce_retracing=True)


def _mxnet_hybridize(**kwargs):
    def apply(ns):
        ns["net"].hybridize(**kwargs)
    return apply


# {framework key: {option: (what it changes, environment variables, change to the namespace)}}
OPTIONS = {
    "pytorch": {
        "channels-first": ("model: without channels-last memory (net.to(memory_format=torch.contiguous_format))",
                           {}, _torch_channels_first),
        "fused": ("train-step: SGD(..., fused=True): one kernel per weight tensor for the whole update", {},
                  _torch_fused),
        "compile": ("model: net = torch.compile(net)", {}, _torch_compile),
        "bf16": ("train-step: torch.autocast(dtype=torch.bfloat16) around train_step and predict", {},
                 _torch_bf16),
    },
    "tensorflow": {
        "xla": ("train-step: tf.function(jit_compile=True) for train_step and predict", {}, _tf_xla),
        "no-onednn": ("environment: TF_ENABLE_ONEDNN_OPTS=0", {"TF_ENABLE_ONEDNN_OPTS": "0"}, None),
    },
    "jax": {
        "thunk-off": ("environment: XLA_FLAGS=--xla_cpu_use_thunk_runtime=false (XLA's older CPU runtime)",
                      {"XLA_FLAGS": "--xla_cpu_use_thunk_runtime=false"}, None),
        "onednn": ("environment: XLA_FLAGS=--xla_cpu_use_onednn=true", {"XLA_FLAGS": "--xla_cpu_use_onednn=true"},
                   None),
        "xnn-dot": ("environment: XLA_FLAGS=--xla_cpu_experimental_xnn_fusion_type=dot (XNNPACK for matrix products)",
                    {"XLA_FLAGS": "--xla_cpu_experimental_xnn_fusion_type=dot"}, None),
        "ynn-off": ("environment: XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type= (Eigen, not YNNPACK, for "
                    "matrix products)", {"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type="}, None),
        "onednn-dot": ("environment: XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type= --xla_cpu_use_onednn=true "
                       "--xla_cpu_experimental_onednn_fusion_type=dot (oneDNN for matrix products)",
                       {"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type= --xla_cpu_use_onednn=true "
                                     "--xla_cpu_experimental_onednn_fusion_type=dot"}, None),
    },
    "mxnet": {
        "dynamic": ("model: net.hybridize() without static_alloc and static_shape", {},
                    _mxnet_hybridize(static_alloc=False, static_shape=False)),
        "imperative": ("model: no hybridize (eager Gluon)", {}, _mxnet_hybridize(active=False)),
    },
}


# The same for every framework: the kernels' memory settings (frameworks.KERNEL_ENV) left out.
for _options in OPTIONS.values():
    _options["glibc-defaults"] = ("environment: GLIBC_TUNABLES empty (glibc's default malloc: large blocks "
                                  "go back to the OS when freed)", {"GLIBC_TUNABLES": ""}, None)


def option_parts(key: str, option: str | None) -> list:
    """The options of `option` ("a+b"), checked against OPTIONS."""
    parts = option.split("+") if option else []
    unknown = [p for p in parts if p not in OPTIONS[key]]
    if unknown:
        raise BenchmarkError(f"unknown option(s) {unknown} for {key}: choose from {', '.join(OPTIONS[key])}")
    return parts


def option_env(key: str, option: str | None) -> dict:
    return {k: v for part in option_parts(key, option) for k, v in OPTIONS[key][part][1].items()}


# --- workloads (in the worker) -------------------------------------------------------------------------

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


def _sync(key: str, ns: dict):
    if key == "pytorch":
        import torch

        return torch.cuda.synchronize if ns["device"].type == "cuda" else (lambda: None)
    if key == "tensorflow":
        import tensorflow as tf

        return tf.test.experimental.sync_devices
    if key == "jax":
        import jax
        from flax import nnx

        return lambda: jax.block_until_ready(nnx.state(ns["net"]))
    import mxnet as mx

    return mx.nd.waitall  # the engine is asynchronous: a step's updates may still be running


def notebook(spec: dict) -> Workload:
    """The notebook's own cells under the reference preset (at the benchmark's sizes), with options."""
    from tools.cells import NOTEBOOKS, run_tagged

    key, s = spec["framework"], spec["settings"]
    ns = run_tagged(NOTEBOOKS / frameworks.get(key).notebook, NOTEBOOK_TAGS, preset="reference",
                    batch_size=s["batch_size"], resize=s["resize"], train_limit=s["train_limit"],
                    test_limit=s["test_limit"])
    for part in option_parts(key, spec.get("option")):
        change = OPTIONS[key][part][2]
        if change:
            change(ns)
    train_step, d2l = ns["train_step"], ns["d2l"]

    def train(batches):
        for X, y in batches:
            train_step(X, y)  # the loss stays on the device, as in the notebook's loop; the window's end waits

    def evaluate():
        ns["evaluate"](ns["test_iter"])
        return ns["test_iter"].num_examples

    info = {"version": d2l.VERSION, "device": d2l.device_choice().name, "threads": os.cpu_count()}
    return Workload({"default": ns["train_iter"]}, train, _sync(key, ns), info, evaluate)


def reference(spec: dict) -> Workload:
    """d2l 1.0.3's code (benchmarks.reference), from its cache folder."""
    from . import reference as d2l_reference

    sys.path.insert(0, spec["d2l_dir"])  # only this process sees d2l and what it needs
    scratch = tempfile.mkdtemp(prefix="d2l-reference-")
    built = d2l_reference.BUILDERS[spec["framework"]](__import__("pathlib").Path(scratch), spec["settings"])
    info = {**built.info, "version": d2l_reference.VERSION, "default_loader": built.default,
            "loaders": list(built.loaders)}
    return Workload(built.loaders, built.train, built.sync, info)


def _product(key: str, n: int):
    """One n×n float32 matmul in framework `key`'s library, returning once it is done."""
    if key == "pytorch":
        import torch

        device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        return lambda: (a @ b, sync())
    if key == "tensorflow":
        import tensorflow as tf

        a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
        product = tf.function(tf.linalg.matmul)
        return lambda: (product(a, b), tf.test.experimental.sync_devices())
    if key == "jax":
        import jax
        import jax.numpy as jnp

        a, b = jax.random.normal(jax.random.key(0), (2, n, n))
        product = jax.jit(jnp.matmul)
        return lambda: product(a, b).block_until_ready()
    raise KeyError(key)


def matmul(spec: dict) -> Workload:
    """An n×n float32 matmul in each framework of the main environment, on the GPU if there is one:
    the fastest is the device's reachable rate (the libraries behind them differ by 2× on some
    CPUs). One "loader" per framework; one that fails to import is left out, with the reason."""
    n = spec["settings"]["matmul_size"]
    products, missing = {}, {}
    for fw in frameworks.FRAMEWORKS:
        if frameworks.environment_of(fw) is not frameworks.MAIN:
            continue
        try:
            products[fw.name] = _product(fw.key, n)
        except ImportError as err:
            missing[fw.name] = str(err)
            continue
        products[fw.name]()  # the first call compiles, loads kernels and libraries

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

    import torch

    cuda = torch.cuda.is_available()
    info = {"size": n, "libraries": list(products), "missing": missing, "threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name(0) if cuda else "CPU"}
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


# --- the parent's side -------------------------------------------------------------------------------------

class Worker:
    """A running worker: `ask(window=3)` sends a request and returns the worker's answer."""

    def __init__(self, framework, spec: dict, label: str, timeout: float = 1800):
        python, env = interpreter(framework)
        self.label, self.timeout = label, timeout
        environment = {**os.environ, "MPLBACKEND": "Agg", **env, **spec.get("env", {}),
                       "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        print(f"--- starting {label}", file=sys.stderr, flush=True)
        self.process = subprocess.Popen([python, "-m", "benchmarks.workloads", json.dumps(spec)], cwd=REPO,
                                        env=environment, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = self._read()["ready"]

    def _read(self) -> dict:
        ready, _, _ = select.select([self.process.stdout], [], [], self.timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            try:
                code = self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise BenchmarkError(f"{self.label} answered nothing within {self.timeout:.0f} s") from None
            raise BenchmarkError(f"{self.label} failed with exit code {code} (its log is above)")
        return json.loads(line)

    def ask(self, **request) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"quit": True}) + "\n")
                self.process.stdin.close()
                self.process.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()


def rate(answer: dict) -> float:
    """Examples (or, for the matmul, MFLOP) per second of a window's answer."""
    return answer["examples"] / answer["seconds"]


def median_rate(answers: list) -> float:
    return statistics.median(rate(a) for a in answers)


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
