"""Training and evaluation throughput of the three notebooks, beside d2l 1.0.3's own code.

`python -m benchmarks.bench` (or `make bench`) measures, in one run on this machine:

* each notebook's own data stream, model and `train_step` (its tagged cells, run by
  `d2l_helpers.cells.run_tagged` under the reference preset): examples per second
  over timed windows of training steps, data pipeline included, and `evaluate`;
* the same for the code the original tutorial ran: d2l 1.0.3's `FashionMNIST` loader
  (per-image resize on the CPU), the book's `AlexNet` class and `Trainer.fit_epoch`;
* the device's own limit, a large float32 matmul, to turn throughput into the
  fraction of the reachable FLOP rate that training achieves.

Every measurement runs in a fresh interpreter of its own (frameworks change each
other's threading, and d2l must stay off the notebooks' import path); each prints
one JSON object on stdout. The parent writes `benchmarks/results-{cpu,gpu}.json`
and a markdown table beside it, and prints the table.
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from d2l_helpers import data as fmnist
from d2l_helpers.architecture import ALEXNET, INPUT_CHANNELS, Layer, output_shapes
from d2l_helpers.cells import NOTEBOOKS, run_tagged
from d2l_helpers.config import TEST_SIZE, TRAIN_SIZE, ConfigError, make_config

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FRAMEWORKS = ("pytorch", "tensorflow", "mxnet")
TAGS = ("setup", "data", "model", "train-step")

# d2l 1.0.3 and the modules its framework files import that this project's environment
# lacks. Installed with --no-deps: d2l pins jupyter, matplotlib 3.7.2 and more, which
# would shadow the venv's own stack; pandas' other needs (numpy, dateutil, tzdata) are there.
D2L_REQUIREMENTS = ("d2l==1.0.3", "pandas==2.0.3", "pytz==2023.3", "scipy==1.10.1",
                    "tf-keras==2.17.0")

# "At its best" options, each a change to one notebook cell or the environment; `--variants`
# measures them (alone, or combined as "a+b") against the notebook as it is, in the same run.
VARIANTS = {
    "pytorch": {
        "channels_last": "model cell: net.to(memory_format=torch.channels_last)",
        "compile": "model cell: net = torch.compile(net)",
    },
    "tensorflow": {
        "xla": "train-step cell: @tf.function(jit_compile=True) on train_step and predict",
        # d2l_helpers.tensorflow turns oneDNN on (TensorFlow does so itself only on CPUs with
        # AVX-512 VNNI/BF16 or AMX), so the variant is the setting switched back off.
        "no-onednn": "environment: TF_ENABLE_ONEDNN_OPTS=0",
    },
    "mxnet": {
        "dynamic": "model cell: net.hybridize() without static_alloc/static_shape",
        "imperative": "model cell: no net.hybridize() (eager Gluon)",
        "no-onednn": "environment: MXNET_MKLDNN_ENABLED=0 (the pip wheel ships MKL-DNN, on by default)",
    },
}
VARIANT_ENV = {
    ("tensorflow", "no-onednn"): {"TF_ENABLE_ONEDNN_OPTS": "0"},
    ("mxnet", "no-onednn"): {"MXNET_MKLDNN_ENABLED": "0"},
}

DEFAULTS = dict(steps=3, warmup=1, repeats=3, resize=224, batch_size=128, eval_batches=2,
                matmul_size=4096, matmul_repeats=5)
# --quick: a tiny run that proves every part works (used by the tests), not a measurement.
QUICK = dict(steps=1, warmup=1, repeats=1, resize=68, batch_size=16, eval_batches=1,
             matmul_size=512, matmul_repeats=3)


class BenchmarkError(RuntimeError):
    """A worker failed or a setting is impossible; the message says which and why."""


# --- the model's cost --------------------------------------------------------------------------

def forward_macs(resize: int, layers=ALEXNET) -> int:
    """Multiply-accumulates of one example's forward pass through the conv and dense layers.

    Pooling, ReLU, dropout and bias additions are left out: together they are well
    under 1% of the total.
    """
    total, inputs = 0, (INPUT_CHANNELS, resize, resize)
    for layer, shape in zip(layers, output_shapes(resize, layers)):
        if layer.kind == "conv":
            total += math.prod(shape) * inputs[0] * layer.kernel ** 2
        elif layer.kind == "dense":
            total += math.prod(inputs) * layer.size
        inputs = shape
    return total


def training_flops(resize: int, layers=ALEXNET) -> int:
    """FLOPs of one example's training step: 2 per MAC, and the backward pass costs twice
    the forward (gradients of activations and of weights), so 3 × 2 × MACs."""
    return 6 * forward_macs(resize, layers)


# The book's PyTorch AlexNet pads its first convolution by 1; the outputs keep their size
# whenever resize % 4 is 0 or 3 (224 included), and so does the cost.
D2L_TORCH_LAYERS = (Layer("conv", 96, kernel=11, stride=4, padding=1),) + ALEXNET[1:]


# --- timing ------------------------------------------------------------------------------------

class Feed:
    """One long-lived iterator over a loader: counts the examples it hands out and times the
    first batch (a pipeline's start-up: worker processes, or a shuffle buffer to fill)."""

    def __init__(self, loader):
        start = time.perf_counter()
        self._batches = iter(loader)
        self._first = next(self._batches)
        self.first_batch_s = time.perf_counter() - start
        self.examples = 0

    def take(self, count: int):
        """Yield the next `count` batches."""
        for _ in range(count):
            if self._first is not None:
                batch, self._first = self._first, None
            else:
                batch = next(self._batches, None)
                if batch is None:
                    raise BenchmarkError("the loader ran out of batches within one epoch: "
                                         "ask for fewer steps")
            self.examples += int(batch[-1].shape[0])
            yield batch


def measure_training(loader, window, sync, settings: dict) -> dict:
    """Examples/s of `window` (a callable that trains on an iterable of batches) over
    `repeats` windows of `steps` batches, after `warmup` steps.

    Each window's clock runs from fetching its first batch until `sync` says the device
    has finished the last update, so the data pipeline and every step count in full.
    """
    start = time.perf_counter()
    feed = Feed(loader)
    window(feed.take(settings["warmup"]))
    sync()
    warmup_s = time.perf_counter() - start
    runs = []
    for _ in range(settings["repeats"]):
        before, begin = feed.examples, time.perf_counter()
        window(feed.take(settings["steps"]))
        sync()
        runs.append((feed.examples - before) / (time.perf_counter() - begin))
    return {"examples_per_s": statistics.median(runs), "runs": runs,
            "warmup_s": warmup_s, "first_batch_s": feed.first_batch_s}


def measure_evaluation(evaluate, examples: int, settings: dict) -> dict:
    """Examples/s of `evaluate()` (one pass over `examples` test examples, ending on the
    host), after one untimed pass that builds graphs and caches."""
    evaluate()
    runs = []
    for _ in range(settings["repeats"]):
        begin = time.perf_counter()
        evaluate()
        runs.append(examples / (time.perf_counter() - begin))
    return {"examples_per_s": statistics.median(runs), "runs": runs, "examples": examples}


# --- workers: the notebooks ---------------------------------------------------------------------

def _prepare_pytorch(ns: dict, options: set[str]):
    import torch

    if "channels_last" in options:
        # Converting the weights is enough: convolutions follow the weights' layout, and a
        # 1-channel input batch is already channels-last in memory. The optimizer keeps
        # working: Module.to() swaps each parameter's data in place.
        ns["net"].to(memory_format=torch.channels_last)
    if "compile" in options:
        # train_step and evaluate look `net` up in the namespace at each call.
        ns["net"] = torch.compile(ns["net"])
    cuda = ns["device"].type == "cuda"
    info = {"version": torch.__version__, "threads": torch.get_num_threads(),
            "onednn": torch.backends.mkldnn.is_available(),
            "device": torch.cuda.get_device_name(ns["device"]) if cuda else "CPU"}
    return info, (torch.cuda.synchronize if cuda else (lambda: None))


def _prepare_tensorflow(ns: dict, options: set[str]):
    import tensorflow as tf
    from tensorflow.python.util import _pywrap_util_port

    if "xla" in options:
        # The cell's own Python functions, compiled with XLA instead of plain graphs.
        for name in ("train_step", "predict"):
            ns[name] = tf.function(ns[name].python_function, jit_compile=True,
                                   reduce_retracing=True)
    info = {"version": tf.__version__, "onednn": _pywrap_util_port.IsMklEnabled(),
            "device": ns["d2l"].device_name(ns["device"])}
    return info, tf.test.experimental.sync_devices


def _prepare_mxnet(ns: dict, options: set[str]):
    import mxnet as mx

    if "dynamic" in options:
        ns["net"].hybridize(static_alloc=False, static_shape=False)
    if "imperative" in options:
        ns["net"].hybridize(active=False)
    onednn = (mx.runtime.Features().is_enabled("MKLDNN")
              and os.environ.get("MXNET_MKLDNN_ENABLED", "1") != "0")
    info = {"version": mx.__version__, "onednn": onednn,
            "device": ns["d2l"].device_name(ns["device"])}
    # The engine is asynchronous: a step's weight updates may still run after its loss is read.
    return info, mx.nd.waitall


PREPARE = {"pytorch": _prepare_pytorch, "tensorflow": _prepare_tensorflow, "mxnet": _prepare_mxnet}


def notebook_worker(framework: str, settings: dict, variant: str | None) -> dict:
    """Throughput of the notebook's own cells, with the `VARIANTS` options in `variant` ("a+b")."""
    ns = run_tagged(NOTEBOOKS / f"alexnet-{framework}.ipynb", TAGS, preset="reference",
                    batch_size=settings["batch_size"], resize=settings["resize"],
                    train_limit=settings["train_limit"], test_limit=settings["test_limit"])
    info, sync = PREPARE[framework](ns, set(variant.split("+")) if variant else set())
    train_step = ns["train_step"]

    def window(batches):
        for X, y in batches:
            float(train_step(X, y)[0])  # the loss on the host, as the notebook's loop reads it

    train = measure_training(ns["train_iter"], window, sync, settings)
    evaluate, test_iter = ns["evaluate"], ns["test_iter"]
    evaluation = measure_evaluation(lambda: evaluate(test_iter), test_iter.num_examples, settings)
    return {**info, "train": train, "eval": evaluation}


# --- workers: d2l 1.0.3, as the original tutorial ran it ---------------------------------------

def _verified_files():
    """(name, decompressed bytes) of the four Fashion-MNIST files, checksums verified."""
    folder = fmnist.locate()
    if folder is None:
        raise fmnist.DataError(f"Fashion-MNIST not found. To fix: {fmnist.REMEDY}.")
    for name in fmnist.CHECKSUMS:
        yield name, fmnist.verified_bytes(fmnist.find_file(folder, name), name)


def _write_gz(folder: Path) -> None:
    """The four files as `<name>.gz` in `folder`, the form Keras and Gluon read."""
    folder.mkdir(parents=True)
    for name, content in _verified_files():
        (folder / f"{name}.gz").write_bytes(gzip.compress(content, compresslevel=1))


def time_d2l(trainer, model, data, sync, settings: dict) -> dict:
    """Time d2l's own `Trainer.fit_epoch` on windows of one epoch's batches.

    This is `Trainer.fit` without its loop over epochs: the same set-up calls, then
    `fit_epoch` (forward, loss, `training_step`'s plot bookkeeping, backward and the
    optimizer step, exactly as the book trains) over each window's batches. Validation
    is left out (`val_dataloader = None` makes `fit_epoch` stop after training).

    Comparable with the notebook's figure: same batch size, same input size, same layer
    shapes and so the same FLOPs per example (see `D2L_TORCH_LAYERS`), timed the same way
    (`measure_training`). What differs is what is being compared: d2l's loader resizes each
    image on the CPU, and its training loop is the book's. Its optimizer is plain SGD
    (`configure_optimizers`: no momentum or weight decay), which saves two element-wise
    passes over 21.6 M parameters per step, small next to the convolutions.
    """
    trainer.prepare_data(data)
    trainer.prepare_model(model)
    trainer.optim = model.configure_optimizers()
    trainer.epoch = trainer.train_batch_idx = trainer.val_batch_idx = 0
    # The progress board redraws a matplotlib figure every half epoch; in the book that is a
    # few redraws per 469 batches, but the short TensorFlow epoch here (a subset) would redraw
    # inside the windows, and a redraw would print over this worker's output. So: off.
    model.board.display = False
    loader, trainer.val_dataloader = trainer.train_dataloader, None

    def window(batches):
        trainer.train_dataloader = batches
        trainer.fit_epoch()

    return measure_training(loader, window, sync, settings)


def _d2l_pytorch(scratch: Path, settings: dict) -> dict:
    raw = scratch / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    # torchvision downloads only when raw/ lacks the decompressed files.
    for name, content in _verified_files():
        (raw / name).write_bytes(content)
    (scratch / "work").mkdir()
    os.chdir(scratch / "work")  # d2l's DataModule reads '../data', as in the book

    import torch
    from d2l import torch as d2l
    from torch import nn

    class AlexNet(d2l.Classifier):
        """The book's class (chapter "Deep Convolutional Neural Networks (AlexNet)"), verbatim."""

        def __init__(self, lr=0.1, num_classes=10):
            super().__init__()
            self.save_hyperparameters()
            self.net = nn.Sequential(
                nn.LazyConv2d(96, kernel_size=11, stride=4, padding=1),
                nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
                nn.LazyConv2d(256, kernel_size=5, padding=2), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(),
                nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(),
                nn.LazyConv2d(256, kernel_size=3, padding=1), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
                nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5),
                nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5),
                nn.LazyLinear(num_classes))
            self.net.apply(d2l.init_cnn)

    size = settings["resize"]
    model = AlexNet(lr=0.01)
    data = d2l.FashionMNIST(batch_size=settings["batch_size"], resize=(size, size))
    trainer = d2l.Trainer(max_epochs=1, num_gpus=1)
    sync = torch.cuda.synchronize if trainer.gpus else (lambda: None)
    train = time_d2l(trainer, model, data, sync, settings)
    return {"version": _d2l_version(), "framework_version": torch.__version__,
            "loader_workers": data.num_workers, "train": train,
            "training_flops": training_flops(size, D2L_TORCH_LAYERS)}


def _d2l_tensorflow(scratch: Path, settings: dict) -> dict:
    _write_gz(scratch / ".keras" / "datasets" / "fashion-mnist")
    # d2l 1.0.3 was written for Keras 2 (under Keras 3, the default of TensorFlow 2.17, its
    # Module fails: Keras 3 sets `model.loss = None`, hiding d2l's loss method). The tutorial's
    # Keras is the tf-keras package, which TensorFlow uses instead when this is set.
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    # Keras 2's fashion_mnist.load_data() looks in ~/.keras/datasets/ and downloads only
    # what is missing there: this process's home is the scratch folder.
    os.environ["HOME"] = str(scratch)

    import tensorflow as tf
    from d2l import tensorflow as d2l

    class AlexNet(d2l.Classifier):
        """The book's class (chapter "Deep Convolutional Neural Networks (AlexNet)"), verbatim."""

        def __init__(self, lr=0.1, num_classes=10):
            super().__init__()
            self.save_hyperparameters()
            self.net = tf.keras.models.Sequential([
                tf.keras.layers.Conv2D(filters=96, kernel_size=11, strides=4,
                                       activation='relu'),
                tf.keras.layers.MaxPool2D(pool_size=3, strides=2),
                tf.keras.layers.Conv2D(filters=256, kernel_size=5, padding='same',
                                       activation='relu'),
                tf.keras.layers.MaxPool2D(pool_size=3, strides=2),
                tf.keras.layers.Conv2D(filters=384, kernel_size=3, padding='same',
                                       activation='relu'),
                tf.keras.layers.Conv2D(filters=384, kernel_size=3, padding='same',
                                       activation='relu'),
                tf.keras.layers.Conv2D(filters=256, kernel_size=3, padding='same',
                                       activation='relu'),
                tf.keras.layers.MaxPool2D(pool_size=3, strides=2),
                tf.keras.layers.Flatten(),
                tf.keras.layers.Dense(4096, activation='relu'),
                tf.keras.layers.Dropout(0.5),
                tf.keras.layers.Dense(4096, activation='relu'),
                tf.keras.layers.Dropout(0.5),
                tf.keras.layers.Dense(num_classes)])

    size = settings["resize"]
    trainer = d2l.Trainer(max_epochs=1)
    data = d2l.FashionMNIST(batch_size=settings["batch_size"], resize=(size, size))
    # d2l's TensorFlow loader resizes the whole epoch into a shuffle buffer before its first
    # batch (60,000 images at 224×224 hold 12 GB). The same stratified subset the notebook
    # trains on keeps that buffer small; per batch the pipeline does the same work.
    keep = fmnist.stratified_indices(data.train[1].astype("int64"), settings["train_limit"],
                                     seed=0)
    data.train = tuple(array[keep] for array in data.train)
    with d2l.try_gpu():  # the book trains inside this device scope
        model = AlexNet(lr=0.01)
        train = time_d2l(trainer, model, data, tf.test.experimental.sync_devices, settings)
    return {"version": _d2l_version(), "framework_version": tf.__version__,
            "train_subset": len(keep), "train": train, "training_flops": training_flops(size)}


def _d2l_mxnet(scratch: Path, settings: dict) -> dict:
    _write_gz(scratch / "mxnet" / "datasets" / "fashion-mnist")
    # Read when MXNet is imported: Gluon's FashionMNIST looks in $MXNET_HOME/datasets/.
    os.environ["MXNET_HOME"] = str(scratch / "mxnet")

    import mxnet as mx
    from d2l import mxnet as d2l
    from mxnet import init, npx
    from mxnet.gluon import nn
    from mxnet.gluon.data.vision import datasets as gluon_datasets

    npx.set_np()  # as every MXNet chapter of the book starts

    def local_file(url, path=None, sha1_hash=None, **_):
        # Gluon checks the sha1 of the official .gz bytes and downloads on a mismatch.
        # Debian re-compressed the files: same content, other gz bytes. So the content is
        # checked instead (sha256 of the decompressed bytes, as d2l_helpers does), and
        # nothing is ever downloaded.
        name = url.rsplit("/", 1)[-1]
        fmnist.verified_bytes(Path(path) / name, name.removesuffix(".gz"))
        return str(Path(path) / name)

    gluon_datasets.download = local_file

    class AlexNet(d2l.Classifier):
        """The book's class (chapter "Deep Convolutional Neural Networks (AlexNet)"), verbatim."""

        def __init__(self, lr=0.1, num_classes=10):
            super().__init__()
            self.save_hyperparameters()
            self.net = nn.Sequential()
            self.net.add(
                nn.Conv2D(96, kernel_size=11, strides=4, activation='relu'),
                nn.MaxPool2D(pool_size=3, strides=2),
                nn.Conv2D(256, kernel_size=5, padding=2, activation='relu'),
                nn.MaxPool2D(pool_size=3, strides=2),
                nn.Conv2D(384, kernel_size=3, padding=1, activation='relu'),
                nn.Conv2D(384, kernel_size=3, padding=1, activation='relu'),
                nn.Conv2D(256, kernel_size=3, padding=1, activation='relu'),
                nn.MaxPool2D(pool_size=3, strides=2),
                nn.Dense(4096, activation='relu'), nn.Dropout(0.5),
                nn.Dense(4096, activation='relu'), nn.Dropout(0.5),
                nn.Dense(num_classes))
            self.net.initialize(init.Xavier())

    size = settings["resize"]
    model = AlexNet(lr=0.01)
    data = d2l.FashionMNIST(batch_size=settings["batch_size"], resize=(size, size))
    trainer = d2l.Trainer(max_epochs=1, num_gpus=1)
    train = time_d2l(trainer, model, data, npx.waitall, settings)
    return {"version": _d2l_version(), "framework_version": mx.__version__,
            "loader_workers": data.num_workers, "train": train,
            "training_flops": training_flops(size)}


REFERENCE = {"pytorch": _d2l_pytorch, "tensorflow": _d2l_tensorflow, "mxnet": _d2l_mxnet}


def _d2l_version() -> str:
    import d2l

    return d2l.__version__


def d2l_worker(framework: str, settings: dict, d2l_dir: str) -> dict:
    """Throughput of d2l 1.0.3's loader, the book's AlexNet and `Trainer.fit_epoch`."""
    sys.path.insert(0, d2l_dir)  # only this process sees d2l and the modules installed with it
    with tempfile.TemporaryDirectory(prefix="d2l-reference-") as scratch:
        try:
            return REFERENCE[framework](Path(scratch), settings)
        finally:
            os.chdir(REPO)  # leave the scratch folder before it is removed


# --- worker: the device's own limit --------------------------------------------------------------

def matmul_worker(settings: dict) -> dict:
    """GFLOP/s of an n×n float32 matmul in PyTorch, on the GPU if there is one (median)."""
    import torch

    cuda = torch.cuda.is_available()
    device = torch.device("cuda:0" if cuda else "cpu")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    n = settings["matmul_size"]
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b  # the first call loads kernels and libraries
    sync()
    begin = time.perf_counter()
    a @ b
    sync()
    # Enough products per timing to last ~0.2 s: one on a CPU, many on a GPU.
    inner = max(1, round(0.2 / (time.perf_counter() - begin)))
    runs = []
    for _ in range(settings["matmul_repeats"]):
        begin = time.perf_counter()
        for _ in range(inner):
            a @ b
        sync()
        runs.append(inner * 2 * n ** 3 / (time.perf_counter() - begin) / 1e9)
    return {"size": n, "gflops": statistics.median(runs), "runs": runs,
            "threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name(device) if cuda else "CPU"}


def worker_main(spec: dict) -> None:
    """Run one measurement and write its JSON result on stdout (all logs go to stderr)."""
    result_fd = os.dup(1)
    os.dup2(2, 1)  # what the libraries print, from Python or C++, goes to stderr
    kind = spec["kind"]
    if kind == "matmul":
        result = matmul_worker(spec["settings"])
    elif kind == "notebook":
        result = notebook_worker(spec["framework"], spec["settings"], spec.get("variant"))
    else:
        result = d2l_worker(spec["framework"], spec["settings"], spec["d2l_dir"])
    sys.stdout.flush()
    with os.fdopen(result_fd, "w") as out:
        json.dump(result, out)


# --- the parent ----------------------------------------------------------------------------------

def d2l_dir_default() -> Path:
    """`$XDG_CACHE_HOME/d2l-side-by-side/d2l-1.0.3` (default `~/.cache`)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "d2l-side-by-side" / "d2l-1.0.3"


def ensure_d2l(folder: Path) -> Path:
    """Install `D2L_REQUIREMENTS` into `folder` (a throwaway --target folder) unless there."""
    marker = folder / ".requirements"
    wanted = "\n".join(D2L_REQUIREMENTS)
    if marker.is_file() and marker.read_text() == wanted:
        return folder
    print(f"Installing {', '.join(D2L_REQUIREMENTS)} into {folder}", file=sys.stderr)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--upgrade", "--target", str(folder), *D2L_REQUIREMENTS]
    if subprocess.run(command).returncode != 0:
        raise BenchmarkError(f"could not install d2l 1.0.3 into {folder} (pip's message is above); "
                             "run with --no-d2l to skip the reference")
    marker.write_text(wanted)
    return folder


def run_worker(spec: dict, label: str, env: dict | None = None) -> dict:
    """Run `spec` in a fresh interpreter and return its JSON result; its log streams to stderr."""
    print(f"--- {label}", file=sys.stderr, flush=True)
    environment = {**os.environ, "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    begin = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--worker", json.dumps(spec)],
                          cwd=REPO, env=environment, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise BenchmarkError(f"{label} failed with exit code {proc.returncode}; its log is above")
    print(f"    done in {time.perf_counter() - begin:.0f} s", file=sys.stderr, flush=True)
    return json.loads(proc.stdout)


def machine_info() -> dict:
    """CPU model, cores, RAM, OS and Python of this machine."""
    def field(path, key, sep=":"):
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            return None
        return next((line.split(sep, 1)[1].strip().strip('"') for line in lines
                     if line.split(sep, 1)[0].strip() == key), None)

    mem_kb = field("/proc/meminfo", "MemTotal")
    return {"cpu": field("/proc/cpuinfo", "model name") or platform.processor(),
            "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "ram_gib": round(int(mem_kb.split()[0]) / 2 ** 20, 1) if mem_kb else None,
            "os": field("/etc/os-release", "PRETTY_NAME", "=") or platform.system(),
            "kernel": platform.release(), "python": platform.python_version()}


def resolve_settings(args) -> dict:
    """The run's settings: explicit options, else `--quick`'s or the defaults; checked early."""
    base = QUICK if args.quick else DEFAULTS
    settings = {key: getattr(args, key) if getattr(args, key) is not None else value
                for key, value in base.items()}
    for key in ("steps", "warmup", "repeats", "eval_batches", "matmul_size", "matmul_repeats"):
        if settings[key] < 1:
            # warm-up ≥ 1: the first step builds graphs and starts the data pipeline
            raise BenchmarkError(f"--{key.replace('_', '-')} must be at least 1")
    batches = settings["warmup"] + settings["steps"] * settings["repeats"]
    # One epoch covers the whole measurement (no epoch boundary inside a timed window);
    # the extra batch is the one the notebook's data cell peeks at.
    settings["train_limit"] = min(TRAIN_SIZE, max(10, settings["batch_size"] * (batches + 1)))
    settings["test_limit"] = min(TEST_SIZE, max(10, settings["batch_size"] * settings["eval_batches"]))
    if settings["batch_size"] * batches > settings["train_limit"]:
        raise BenchmarkError(f"{batches} batches of {settings['batch_size']} exceed the "
                             f"{TRAIN_SIZE:,} training images: ask for fewer steps")
    make_config("reference", gpu=False, batch_size=settings["batch_size"], resize=settings["resize"],
                train_limit=settings["train_limit"], test_limit=settings["test_limit"])
    return settings


def resolve_variants(names: str | None, frameworks) -> list[tuple[str, str]]:
    """(framework, option) pairs from 'all' or 'framework:option[+option],...', for the
    chosen frameworks; 'all' means each option alone."""
    if not names:
        return []
    known = [(fw, option) for fw in FRAMEWORKS for option in VARIANTS[fw]]
    chosen = known if names == "all" else [tuple(name.split(":", 1)) for name in names.split(",")]
    unknown = [f"{pair[0]}:{pair[-1]}" for pair in chosen
               if len(pair) != 2 or any((pair[0], part) not in known for part in pair[1].split("+"))]
    if unknown:
        raise BenchmarkError(f"unknown variant(s) {', '.join(unknown)}: choose from "
                             + ", ".join(f"{fw}:{option}" for fw, option in known))
    return [(fw, option) for fw, option in chosen if fw in frameworks]


def run(args) -> dict:
    """Run every measurement the options ask for and return the results document."""
    frameworks = args.frameworks.split(",") if args.frameworks else list(FRAMEWORKS)
    unknown = set(frameworks) - set(FRAMEWORKS)
    if unknown:
        raise BenchmarkError(f"unknown framework(s) {sorted(unknown)}: choose from {FRAMEWORKS}")
    settings = resolve_settings(args)
    variants = resolve_variants(args.variants, frameworks)
    d2l_dir = None if args.no_d2l else ensure_d2l(Path(args.d2l_dir or d2l_dir_default()))

    matmul = run_worker({"kind": "matmul", "settings": settings}, "matmul (device limit)")
    flops = training_flops(settings["resize"])
    results = {}
    for fw in frameworks:
        ours = run_worker({"kind": "notebook", "framework": fw, "settings": settings},
                          f"{fw}: notebook")
        rate = ours["train"]["examples_per_s"]
        ours["gflops"] = rate * flops / 1e9
        ours["fraction_of_matmul"] = ours["gflops"] / matmul["gflops"]
        if d2l_dir:
            ref = run_worker({"kind": "d2l", "framework": fw, "settings": settings,
                              "d2l_dir": str(d2l_dir)}, f"{fw}: d2l 1.0.3 reference")
            ref["gflops"] = ref["train"]["examples_per_s"] * ref["training_flops"] / 1e9
            ours["d2l"] = ref
            ours["ratio_to_d2l"] = rate / ref["train"]["examples_per_s"]
        ours["variants"] = {}
        for _, option in (pair for pair in variants if pair[0] == fw):
            parts = option.split("+")
            env = {k: v for part in parts for k, v in VARIANT_ENV.get((fw, part), {}).items()}
            other = run_worker({"kind": "notebook", "framework": fw, "settings": settings,
                                "variant": option}, f"{fw}: notebook + {option}", env=env)
            other["change"] = "; ".join(VARIANTS[fw][part] for part in parts)
            other["train_ratio"] = other["train"]["examples_per_s"] / rate
            other["eval_ratio"] = other["eval"]["examples_per_s"] / ours["eval"]["examples_per_s"]
            ours["variants"][option] = other
        results[fw] = ours

    gpu = matmul["device"] != "CPU" or any(r["device"] != "CPU" for r in results.values())
    return {
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": "gpu" if gpu else "cpu",
        "machine": {**machine_info(), "gpu": matmul["device"] if matmul["device"] != "CPU" else None,
                    "versions": {**{fw: r["version"] for fw, r in results.items()},
                                 **{"d2l": r["d2l"]["version"] for r in results.values() if "d2l" in r}}},
        "settings": {**settings, "quick": args.quick, "d2l_reference": bool(d2l_dir),
                     "variants": [f"{fw}:{option}" for fw, option in variants]},
        "model": {"forward_macs_per_example": forward_macs(settings["resize"]),
                  "training_flops_per_example": flops,
                  "convention": "conv and dense layers only; 2 FLOPs per MAC; training = 3 × forward"},
        "matmul": matmul,
        "frameworks": results,
    }


def _fmt(value, digits=1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def markdown(doc: dict) -> str:
    """The results as a markdown report: settings, one row per framework, the options tried."""
    s, m, mm = doc["settings"], doc["machine"], doc["matmul"]
    lines = [
        f"# AlexNet throughput, {doc['device'].upper()} ({doc['timestamp']})",
        "",
        f"Machine: {m['cpu']}, {m['usable_cores']} cores, {m['ram_gib']} GiB RAM"
        + (f", GPU {m['gpu']}" if m["gpu"] else "") + f"; {m['os']}; Python {m['python']}.",
        f"Settings: batch {s['batch_size']}, {s['resize']}×{s['resize']} inputs; {s['warmup']} warm-up "
        f"step(s), then {s['repeats']} window(s) of {s['steps']} step(s), median; evaluation over "
        f"{s['test_limit']} test images." + (" Quick mode: not a measurement." if s["quick"] else ""),
        f"Device limit: {mm['size']}×{mm['size']} float32 matmul on {mm['device']}, "
        f"{_fmt(mm['gflops'])} GFLOP/s. Training cost: "
        f"{doc['model']['training_flops_per_example'] / 1e9:.2f} GFLOP per example "
        f"({doc['model']['convention']}).",
        "",
        "| Framework | version | train ex/s (median) | all windows | eval ex/s | d2l 1.0.3 ex/s "
        "| ours ÷ d2l | d2l first batch s | GFLOP/s | of matmul |",
        "|---|---|--:|---|--:|--:|--:|--:|--:|--:|",
    ]
    for fw, r in doc["frameworks"].items():
        ref = r.get("d2l")
        lines.append(
            f"| {fw} | {r['version']} | {_fmt(r['train']['examples_per_s'])} | "
            + ", ".join(_fmt(x) for x in r["train"]["runs"])
            + f" | {_fmt(r['eval']['examples_per_s'])} | "
            f"{_fmt(ref['train']['examples_per_s'] if ref else None)} | "
            f"{_fmt(r.get('ratio_to_d2l'), 2)}{'×' if ref else ''} | "
            f"{_fmt(ref['train']['first_batch_s'] if ref else None, 2)} | "
            f"{_fmt(r['gflops'])} | {r['fraction_of_matmul']:.0%} |")
    options = [(fw, name, v) for fw, r in doc["frameworks"].items() for name, v in r["variants"].items()]
    if options:
        lines += ["", "Options, each against the notebook as it is (same run):", "",
                  "| Framework | option | change | train ex/s | × notebook | eval ex/s | × notebook "
                  "| warm-up s |", "|---|---|---|--:|--:|--:|--:|--:|"]
        for fw, name, v in options:
            lines.append(f"| {fw} | {name} | {v['change']} | {_fmt(v['train']['examples_per_s'])} | "
                         f"{v['train_ratio']:.2f} | {_fmt(v['eval']['examples_per_s'])} | "
                         f"{v['eval_ratio']:.2f} | {_fmt(v['train']['warmup_s'])} |")
    lines += ["", "Timed: wall clock from fetching a window's first batch until the device has "
              "finished its last update (data pipeline included). d2l 1.0.3: its FashionMNIST "
              "loader (per-image resize on the CPU), the book's AlexNet class and "
              "Trainer.fit_epoch, validation left out. d2l first batch: its loader's start-up, "
              "paid once per epoch (worker processes in PyTorch and MXNet; in TensorFlow the "
              f"resize of the whole epoch, here {s['train_limit']} images, into its shuffle "
              "buffer, which its steady-state figure therefore leaves out). Warm-up times are "
              "in the JSON."]
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--frameworks", help=f"comma-separated subset of {','.join(FRAMEWORKS)} (default: all)")
    parser.add_argument("--steps", type=int, help=f"timed steps per window (default {DEFAULTS['steps']})")
    parser.add_argument("--warmup", type=int, help=f"untimed steps first (default {DEFAULTS['warmup']})")
    parser.add_argument("--repeats", type=int, help=f"timed windows (default {DEFAULTS['repeats']})")
    parser.add_argument("--resize", type=int, help=f"input side in pixels (default {DEFAULTS['resize']})")
    parser.add_argument("--batch-size", type=int, help=f"default {DEFAULTS['batch_size']}")
    parser.add_argument("--eval-batches", type=int,
                        help=f"test batches per evaluation pass (default {DEFAULTS['eval_batches']})")
    parser.add_argument("--matmul-size", type=int, help=f"default {DEFAULTS['matmul_size']}")
    parser.add_argument("--matmul-repeats", type=int, help=f"default {DEFAULTS['matmul_repeats']}")
    parser.add_argument("--quick", action="store_true",
                        help="tiny settings that only prove the benchmark runs: "
                             + ", ".join(f"{k}={v}" for k, v in QUICK.items()))
    parser.add_argument("--variants", help="'all' or comma-separated framework:option[+option] "
                        "from: "
                        + ", ".join(f"{fw}:{o}" for fw in FRAMEWORKS for o in VARIANTS[fw]))
    parser.add_argument("--no-d2l", action="store_true", help="skip the d2l 1.0.3 reference")
    parser.add_argument("--d2l-dir", help=f"where d2l 1.0.3 is installed (default {d2l_dir_default()})")
    parser.add_argument("--output", type=Path,
                        help="results JSON (default benchmarks/results-cpu.json or -gpu.json); "
                             "the markdown goes beside it with the suffix .md")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Entry point of `python -m benchmarks.bench`."""
    args = parse_args(argv)
    if args.worker:
        worker_main(json.loads(args.worker))
        return 0
    try:
        doc = run(args)
    except (BenchmarkError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    output = args.output or HERE / f"results-{doc['device']}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(doc, indent=2) + "\n")
    report = markdown(doc)
    output.with_suffix(".md").write_text(report)
    print(report)
    print(f"Wrote {output} and {output.with_suffix('.md')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
