"""The code the original tutorial ran: d2l 1.0.3's loader, the book's AlexNet and `Trainer.fit_epoch`.

Each builder returns a `Reference`: the d2l loaders to time (PyTorch's and MXNet's at
several loader-worker counts, to find the best on this machine as well as the
default), a `train` function that runs the book's `fit_epoch` over a window's
batches, and a device sync. The book's classes are written out as the chapter
"Deep Convolutional Neural Networks (AlexNet)" of Dive into Deep Learning has them,
one per framework, so that the benchmark times what readers of the book ran.

d2l 1.0.3 was written for the stacks of 2023; where today's libraries need a change
to run it at all, the change is made here, said in a comment, and leaves the
measured work untouched:
- PyTorch: none.
- TensorFlow: the book's Keras 2 code runs on tf-keras (TF_USE_LEGACY_KERAS=1).
- JAX: d2l's module calls `random.randint(0, 1e6)` at import, which Python 3.12 rejects
  (float bounds), so the call gets int bounds; its Trainer names `jax.random.PRNGKeyArray`,
  which JAX has removed, so the train state is declared here with `Any` in its place.
- MXNet: Gluon's loader checks the sha1 of the official gzip bytes; Debian's copy is
  re-compressed, so the content is checked instead (sha256, as d2l_helpers does).
"""
from __future__ import annotations

import gzip
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from d2l_helpers import data as fmnist
from d2l_helpers import frameworks
from d2l_helpers.architecture import ALEXNET, Layer, training_flops

from .timing import BenchmarkError

VERSION = "1.0.3"
# What d2l 1.0.3's framework modules import and each environment lacks, installed with --no-deps
# into a cache folder only the reference's worker puts on sys.path (d2l pins old numpy and
# matplotlib, which must not replace the environment's own).
REQUIREMENTS = {
    "main": (f"d2l=={VERSION}", "pandas==3.1.1", "tf-keras==2.21.0",
             # d2l's JAX loader is tensorflow-datasets' as_numpy, and these are what tfds imports
             "tensorflow-datasets==4.9.10", "tensorflow-metadata==1.21.0", "array-record==0.8.6", "dm-tree==0.1.10",
             "immutabledict==4.3.1", "pyarrow==26.0.1", "simple-parsing==0.1.9", "docstring-parser==0.18.0",
             "toml==0.10.2", "promise==2.3"),
    "mxnet": (f"d2l=={VERSION}", "pandas==2.0.3", "pytz==2023.3"),
}
REQUIREMENTS["tensorflow"] = REQUIREMENTS["main"]  # TensorFlow's own environment on a GPU machine
# The book's PyTorch AlexNet pads its first convolution by 1; at 224×224 the outputs keep their
# size, and so does the cost.
TORCH_LAYERS = (Layer("conv", 96, kernel=11, stride=4, padding=1),) + ALEXNET[1:]
WORKER_COUNTS = (0, 1, 2, 4)  # loader worker processes tried (4 is d2l's default)


@dataclass
class Reference:
    """What the benchmark times of d2l: loaders by name, the book's training over some batches."""

    loaders: dict
    train: object
    sync: object
    info: dict = field(default_factory=dict)
    default: str = "default"


def install_folder(environment: str, python_tag: str) -> Path:
    """`$XDG_CACHE_HOME/d2l-side-by-side/d2l-1.0.3-<environment>-<python_tag>` (default `~/.cache`):
    one folder per interpreter version, since pandas and pyarrow install compiled for one."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "d2l-side-by-side" / f"d2l-{VERSION}-{environment}-{python_tag}"


def ensure_installed(framework) -> Path:
    """Install d2l and what it imports into the framework environment's cache folder, once."""
    env = frameworks.environment_of(framework)
    python = env.python if env.key != frameworks.MAIN.key else Path(sys.executable)
    wanted = REQUIREMENTS[env.key]
    tag = subprocess.run([str(python), "-c", "import sys; print(sys.implementation.cache_tag)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    folder = install_folder(env.key, tag)
    marker = folder / ".requirements"
    if marker.is_file() and marker.read_text() == "\n".join(wanted):
        return folder
    print(f"Installing {', '.join(wanted)} into {folder}", file=sys.stderr, flush=True)
    command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
               "--upgrade", "--target", str(folder), *wanted]
    if subprocess.run(command).returncode != 0:
        raise BenchmarkError(f"could not install d2l {VERSION} into {folder} (pip's message is above); "
                             "run with --no-d2l to skip the reference")
    marker.write_text("\n".join(wanted))
    return folder


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


def _fit_epoch_over(trainer, model, data):
    """Set up like `Trainer.fit` does, and return a function that runs the book's `fit_epoch`
    over a window's batches, validation left out."""
    trainer.prepare_data(data)
    trainer.prepare_model(model)
    trainer.optim = model.configure_optimizers()
    trainer.epoch = trainer.train_batch_idx = trainer.val_batch_idx = 0
    # The progress board redraws a figure every half epoch; inside short windows a redraw would
    # be timed and would print over the worker's output. Off, as no plot is drawn here anyway.
    model.board.display = False
    trainer.val_dataloader = None

    def train(batches):
        trainer.train_dataloader = batches
        trainer.fit_epoch()

    return train


def _workers(count: int) -> str:
    return f"{count} worker" + ("" if count == 1 else "s")


def _worker_loaders(data):
    """d2l's training loader at each of WORKER_COUNTS, and the name of d2l's own default."""
    default = _workers(data.num_workers)
    loaders = {}
    for count in WORKER_COUNTS:
        data.num_workers = count
        loaders[_workers(count)] = data.get_dataloader(train=True)
    return loaders, default


def _stratified(arrays, limit: int):
    """The same stratified subset of the training set the notebooks use, for d2l's TensorFlow and
    JAX loaders: they resize a whole epoch into a shuffle buffer before the first batch (all 60,000
    images at 224×224 would hold 12 GB)."""
    keep = fmnist.stratified_indices(arrays[1].astype("int64"), limit, seed=0)
    return tuple(array[keep] for array in arrays)


def pytorch(scratch: Path, settings: dict) -> Reference:
    raw = scratch / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name, content in _verified_files():  # torchvision downloads only what raw/ lacks
        (raw / name).write_bytes(content)
    (scratch / "work").mkdir()
    os.chdir(scratch / "work")  # d2l's DataModule reads '../data', as in the book

    import torch
    from d2l import torch as d2l
    from torch import nn

    class AlexNet(d2l.Classifier):
        """The book's class."""

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
    train = _fit_epoch_over(trainer, model, data)
    loaders, default = _worker_loaders(data)
    sync = torch.cuda.synchronize if trainer.gpus else (lambda: None)
    return Reference(loaders, train, sync, {"framework_version": torch.__version__,
                                            "training_flops": training_flops(size, TORCH_LAYERS)}, default)


def tensorflow(scratch: Path, settings: dict) -> Reference:
    _write_gz(scratch / ".keras" / "datasets" / "fashion-mnist")
    # d2l 1.0.3 was written for Keras 2 (under Keras 3 its Module breaks: Keras 3 sets
    # `model.loss = None`, hiding d2l's loss method); the book's Keras is the tf-keras package.
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    # Keras 2's fashion_mnist.load_data() reads ~/.keras/datasets/: this process's home is scratch.
    os.environ["HOME"] = str(scratch)

    import tensorflow as tf
    from d2l import tensorflow as d2l

    class AlexNet(d2l.Classifier):
        """The book's class."""

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
    data.train = _stratified(data.train, settings["train_limit"])
    with d2l.try_gpu():  # the book builds the model inside this device scope
        model = AlexNet(lr=0.01)
    train = _fit_epoch_over(trainer, model, data)

    def train_on_device(batches):
        with d2l.try_gpu():
            train(batches)

    return Reference({"default": data.get_dataloader(train=True)}, train_on_device,
                     tf.test.experimental.sync_devices,
                     {"framework_version": tf.__version__, "training_flops": training_flops(size),
                      "train_subset": len(data.train[0])})


def jax(scratch: Path, settings: dict) -> Reference:
    _write_gz(scratch / ".keras" / "datasets" / "fashion-mnist")
    os.environ["HOME"] = str(scratch)  # d2l's JAX loader is tf.keras' fashion_mnist, as above
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import random
    from typing import Any

    randint = random.randint
    random.randint = lambda a, b: randint(int(a), int(b))  # d2l passes 1e6 (module docstring)
    try:
        import jax
        import optax  # noqa: F401 -- d2l's module needs it importable
        from d2l import jax as d2l
        from flax import linen as nn
        from flax.training import train_state
    finally:
        random.randint = randint

    class AlexNet(d2l.Classifier):
        """The book's class."""

        lr: float = 0.1
        num_classes: int = 10
        training: bool = True

        def setup(self):
            self.net = nn.Sequential([
                nn.Conv(features=96, kernel_size=(11, 11), strides=4, padding=1),
                nn.relu,
                lambda x: nn.max_pool(x, window_shape=(3, 3), strides=(2, 2)),
                nn.Conv(features=256, kernel_size=(5, 5)),
                nn.relu,
                lambda x: nn.max_pool(x, window_shape=(3, 3), strides=(2, 2)),
                nn.Conv(features=384, kernel_size=(3, 3)), nn.relu,
                nn.Conv(features=384, kernel_size=(3, 3)), nn.relu,
                nn.Conv(features=256, kernel_size=(3, 3)), nn.relu,
                lambda x: nn.max_pool(x, window_shape=(3, 3), strides=(2, 2)),
                lambda x: x.reshape((x.shape[0], -1)),  # flatten
                nn.Dense(features=4096),
                nn.relu,
                nn.Dropout(0.5, deterministic=not self.training),
                nn.Dense(features=4096),
                nn.relu,
                nn.Dropout(0.5, deterministic=not self.training),
                nn.Dense(features=self.num_classes)
            ])

    class TrainState(train_state.TrainState):  # Trainer.fit's, with Any for the removed key type
        batch_stats: Any
        dropout_rng: Any

    size = settings["resize"]
    model = AlexNet(lr=0.01)
    data = d2l.FashionMNIST(batch_size=settings["batch_size"], resize=(size, size))
    data.train = _stratified(data.train, settings["train_limit"])
    trainer = d2l.Trainer(max_epochs=1, num_gpus=1)
    train = _fit_epoch_over(trainer, model, data)
    # The rest of Trainer.fit's set-up: parameters from a first batch, the optimiser's state.
    params_key, dropout_key = jax.random.split(jax.random.PRNGKey(0))
    dummy_input = next(iter(data.get_dataloader(train=True)))[:-1]
    params = model.apply_init(dummy_input, key={"params": params_key, "dropout": dropout_key})["params"]
    trainer.state = TrainState.create(apply_fn=model.apply, params=params, batch_stats={},
                                      dropout_rng=dropout_key, tx=model.configure_optimizers())

    def sync():
        jax.block_until_ready(trainer.state.params)

    return Reference({"default": data.get_dataloader(train=True)}, train, sync,
                     {"framework_version": jax.__version__, "training_flops": training_flops(size),
                      "train_subset": len(data.train[0])})


def mxnet(scratch: Path, settings: dict) -> Reference:
    _write_gz(scratch / "mxnet" / "datasets" / "fashion-mnist")
    os.environ["MXNET_HOME"] = str(scratch / "mxnet")  # read at import: Gluon looks in $MXNET_HOME

    import mxnet as mx
    from d2l import mxnet as d2l
    from mxnet import init, npx
    from mxnet.gluon import nn
    from mxnet.gluon.data.vision import datasets as gluon_datasets

    npx.set_np()  # as every MXNet chapter of the book starts

    def local_file(url, path=None, sha1_hash=None, **_):
        name = url.rsplit("/", 1)[-1]
        fmnist.verified_bytes(Path(path) / name, name.removesuffix(".gz"))
        return str(Path(path) / name)

    gluon_datasets.download = local_file  # module docstring: checks content, never downloads

    class AlexNet(d2l.Classifier):
        """The book's class."""

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
    train = _fit_epoch_over(trainer, model, data)
    loaders, default = _worker_loaders(data)
    return Reference(loaders, train, npx.waitall,
                     {"framework_version": mx.__version__, "training_flops": training_flops(size)}, default)


BUILDERS = {"pytorch": pytorch, "tensorflow": tensorflow, "jax": jax, "mxnet": mxnet}
