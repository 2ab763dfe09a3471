"""Fashion-MNIST: find it, verify it, parse it, and plan batches — with numpy only.

The four IDX files are looked for in a fixed order (see `candidate_dirs`) and,
if no folder holds them all, downloaded into the user cache. Every file is
checked against the sha256 of its *decompressed* bytes, so a gzipped and a
plain copy of the same data both pass, and a re-compressed one too.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import time
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

CLASS_NAMES = ("t-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot")

# Pixel statistics of the training set (after scaling to [0, 1]), used to normalise inputs.
MEAN, STD = 0.2860, 0.3530

# sha256 of each file's decompressed bytes.
CHECKSUMS = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
REMEDY = ("install Debian's package (sudo apt-get install dataset-fashion-mnist), "
          "set D2L_DATA_DIR to a folder holding the four files, or connect to the internet "
          "so they can be downloaded")


class DataError(RuntimeError):
    """The dataset is missing, corrupt or malformed; the message says which file and what to do."""


class FashionMNIST(NamedTuple):
    train_images: np.ndarray  # uint8, (60000, 28, 28)
    train_labels: np.ndarray  # int64, (60000,)
    test_images: np.ndarray   # uint8, (10000, 28, 28)
    test_labels: np.ndarray   # int64, (10000,)
    class_names: tuple[str, ...]


def cache_dir() -> Path:
    """Where downloads go: `$XDG_CACHE_HOME/d2l-side-by-side/fashion-mnist` (default `~/.cache`)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "d2l-side-by-side" / "fashion-mnist"


def candidate_dirs(data_dir=None) -> list[Path]:
    """Folders searched, in order: `data_dir`, `$D2L_DATA_DIR`, Debian's package, the cache."""
    dirs = [data_dir, os.environ.get("D2L_DATA_DIR"), DEBIAN_DIR, cache_dir()]
    return [Path(d).expanduser() for d in dirs if d]


def find_file(folder: Path, name: str) -> Path | None:
    """The gzipped or plain copy of `name` in `folder`, if any."""
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def read_bytes(path: Path) -> bytes:
    """The decompressed content of `path` (gzip detected by its magic bytes, not its name)."""
    raw = Path(path).read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as err:
        raise DataError(f"{path} is not a valid gzip file (truncated or corrupt: {err}); "
                        "delete it and fetch it again") from err


def verified_bytes(path: Path, name: str) -> bytes:
    """Read `path` and check it holds the genuine `name` file."""
    content = read_bytes(path)
    digest = hashlib.sha256(content).hexdigest()
    if digest != CHECKSUMS[name]:
        raise DataError(f"{path} fails its checksum (sha256 of the decompressed bytes is {digest}, "
                        f"expected {CHECKSUMS[name]}): the file is corrupt or not Fashion-MNIST; "
                        "replace it with a fresh copy")
    return content


def parse_idx(content: bytes, magic: int, source) -> np.ndarray:
    """Parse an IDX file of unsigned bytes, checking its magic number and declared shape."""
    ndim = {IMAGE_MAGIC: 3, LABEL_MAGIC: 1}[magic]
    header = 4 + 4 * ndim
    if len(content) < header:
        raise DataError(f"{source} is too short to be an IDX file ({len(content)} bytes)")
    found = int.from_bytes(content[:4], "big")
    if found != magic:
        kind = "images" if magic == IMAGE_MAGIC else "labels"
        raise DataError(f"{source} has magic number {found}, expected {magic} for IDX {kind}: "
                        "is it the right file?")
    shape = tuple(int.from_bytes(content[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(content) != expected:
        raise DataError(f"{source} declares shape {shape} ({expected} bytes) but holds "
                        f"{len(content)} bytes: the file is truncated or padded")
    if ndim == 3 and shape[1:] != (28, 28):
        raise DataError(f"{source} holds {shape[1]}×{shape[2]} images, expected 28×28")
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape)


def read_split(images: tuple[bytes, object], labels: tuple[bytes, object]):
    """Parse one split's (content, source) pairs into uint8 images and int64 labels."""
    x = parse_idx(images[0], IMAGE_MAGIC, images[1])
    y = parse_idx(labels[0], LABEL_MAGIC, labels[1]).astype(np.int64)
    if len(x) != len(y):
        raise DataError(f"{images[1]} holds {len(x)} images but {labels[1]} holds {len(y)} labels")
    if y.size and y.max() >= len(CLASS_NAMES):
        raise DataError(f"{labels[1]} has label {y.max()}, outside the 10 classes")
    return x, y


def _move_aside(path: Path) -> Path:
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    path.replace(aside)
    return aside


def _download(name: str, folder: Path) -> Path:
    """Fetch `name.gz` into `folder`: retries, a progress bar and an atomic write (by pooch)."""
    try:
        import pooch  # only needed off the happy path
    except ImportError as err:
        raise DataError(f"Fashion-MNIST file {name} was not found locally, and downloading it needs pooch, "
                        f"which is not installed (pip install pooch). Or: {REMEDY}.") from err

    errors = []
    for mirror in MIRRORS:
        fetcher = pooch.create(path=folder, base_url=mirror, registry={f"{name}.gz": None},
                               retry_if_failed=2)
        try:
            return Path(fetcher.fetch(f"{name}.gz", progressbar=True))
        except Exception as err:  # network errors come in many types; try the next mirror
            errors.append(f"{mirror}: {err}")
    raise DataError(f"Fashion-MNIST file {name} was not found locally and could not be downloaded "
                    f"({'; '.join(errors)}). To fix: {REMEDY}.")


def _from_cache(name: str, folder: Path, download: bool) -> bytes:
    """Verified bytes of `name` from the cache, replacing a corrupt cached copy."""
    path = find_file(folder, name)
    if path is not None:
        try:
            return verified_bytes(path, name)
        except DataError as err:
            aside = _move_aside(path)
            if not download:
                raise DataError(f"{err} (moved aside to {aside})") from err
            print(f"Cached {path.name} was corrupt; moved aside to {aside.name}, downloading again.")
    if not download:
        raise DataError(f"Fashion-MNIST file {name} was not found in {folder}. To fix: {REMEDY}.")
    path = _download(name, folder)
    try:
        return verified_bytes(path, name)
    except DataError as err:
        aside = _move_aside(path)
        raise DataError(f"the download of {name} is corrupt (moved aside to {aside}): {err}") from err


def locate(data_dir=None) -> Path | None:
    """The first searched folder that holds all four files (the cache counts only when complete).

    A folder you name — `data_dir`, else `$D2L_DATA_DIR` — must hold all four: if it lacks
    one, that is an error naming the file, never a quiet switch to another copy.
    """
    explicit = data_dir or os.environ.get("D2L_DATA_DIR")
    if explicit:
        folder = Path(explicit).expanduser()
        missing = [name for name in CHECKSUMS if find_file(folder, name) is None]
        if missing:
            given = "data_dir" if data_dir else "D2L_DATA_DIR"
            raise DataError(f"{folder} (from {given}) lacks {', '.join(missing)} (as .gz or plain): "
                            f"put the file(s) there, or stop setting {given} to use the usual places")
        return folder
    for folder in candidate_dirs():
        if all(find_file(folder, name) for name in CHECKSUMS):
            return folder
    return None


def load_fashion_mnist(data_dir=None, *, download: bool = True) -> FashionMNIST:
    """Load Fashion-MNIST as numpy arrays, verified and parsed.

    Looks in `data_dir`, `$D2L_DATA_DIR`, `/usr/share/datasets/fashion-mnist` and
    the user cache, in that order, and downloads into the cache as a last resort.
    Raises `DataError` with the file and the remedy when something is wrong.
    """
    folder = locate(data_dir)
    cache = cache_dir()
    contents = {}
    for name in CHECKSUMS:
        if folder is not None and folder != cache:
            path = find_file(folder, name)
            contents[name] = (verified_bytes(path, name), path)
        else:
            contents[name] = (_from_cache(name, cache, download), cache / name)
    train = read_split(contents["train-images-idx3-ubyte"], contents["train-labels-idx1-ubyte"])
    test = read_split(contents["t10k-images-idx3-ubyte"], contents["t10k-labels-idx1-ubyte"])
    return FashionMNIST(*train, *test, CLASS_NAMES)


def copy_files(target) -> Path:
    """Copy the four verified files, gzipped, into the folder `target` (made if missing) and return
    it: a folder to carry to a machine without the dataset (`python -m d2l_helpers --copy-to`)."""
    load_fashion_mnist()  # finds, downloads if need be, and verifies them
    source, target = locate() or cache_dir(), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    for name in CHECKSUMS:
        path = find_file(source, name)
        raw = path.read_bytes()
        (target / f"{name}.gz").write_bytes(raw if raw[:2] == b"\x1f\x8b" else gzip.compress(raw))
        verified_bytes(target / f"{name}.gz", name)
    return target


def stratified_indices(labels: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a seeded subset with (nearly) the same count per class.

    `limit // 10` examples per class; the remainder goes to the lowest classes.
    `None` keeps everything.
    """
    if limit is None or limit >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class, extra = divmod(limit, len(classes))
    chosen = []
    for i, cls in enumerate(classes):
        members = np.flatnonzero(labels == cls)
        take = per_class + (1 if i < extra else 0)
        if take > len(members):
            raise ValueError(f"class {cls} has only {len(members)} examples, {take} requested")
        chosen.append(rng.permutation(members)[:take])
    return np.sort(np.concatenate(chosen))


def batch_plan(num_examples: int, batch_size: int, *, seed: int, epoch: int,
               shuffle: bool = True) -> list[np.ndarray]:
    """Index arrays of one epoch's batches; the order depends only on (seed, epoch).

    Every framework asks this function for its order, so all three see the same
    batches. The last batch may be smaller.
    """
    if shuffle:
        order = np.random.default_rng([seed, epoch]).permutation(num_examples)
    else:
        order = np.arange(num_examples)
    return [order[i:i + batch_size] for i in range(0, num_examples, batch_size)]


def bilinear_matrix(size_in: int, size_out: int) -> np.ndarray:
    """Matrix `R` (size_out × size_in) with `R @ img @ R.T` = bilinear resize of a square image.

    Uses half-pixel centres, the convention of PyTorch (align_corners=False) and
    TensorFlow. Resizing as two matrix products runs on the device in every
    framework and gives the same numbers in all three.
    """
    scale = size_in / size_out
    src = np.clip((np.arange(size_out) + 0.5) * scale - 0.5, 0, size_in - 1)
    low = np.floor(src).astype(int)
    high = np.minimum(low + 1, size_in - 1)
    frac = (src - low).astype(np.float32)
    matrix = np.zeros((size_out, size_in), np.float32)
    rows = np.arange(size_out)
    np.add.at(matrix, (rows, low), 1 - frac)
    np.add.at(matrix, (rows, high), frac)
    return matrix


class BatchStream:
    """Batches of one split, in the seeded order of `batch_plan`; each full pass is a new epoch.

    Framework adapters subclass it: `_store` moves the uint8 arrays to the device
    once, `_take` gathers, normalises and resizes one batch there.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, *, device, batch_size: int,
                 resize: int, seed: int = 0, shuffle: bool = False):
        self.device = device
        self.num_examples = len(images)
        self.batch_size, self.resize = batch_size, resize
        self.seed, self.shuffle = seed, shuffle
        self.epoch = 0
        self.resize_matrix = bilinear_matrix(images.shape[1], resize)
        self._store(images, labels)

    @classmethod
    def for_config(cls, dataset: "FashionMNIST", config, device):
        """Train (shuffled, seeded) and test streams of the split `config` asks for."""
        train_x, train_y, test_x, test_y = split_for(dataset, config)
        common = dict(device=device, batch_size=config.batch_size, resize=config.resize,
                      seed=config.seed)
        return cls(train_x, train_y, shuffle=True, **common), cls(test_x, test_y, **common)

    def __len__(self) -> int:
        return -(-self.num_examples // self.batch_size)

    def __iter__(self):
        plan = batch_plan(self.num_examples, self.batch_size, seed=self.seed,
                          epoch=self.epoch, shuffle=self.shuffle)
        for indices in plan:
            yield self._take(indices)
        # Only a complete pass counts as an epoch, so peeking at a batch changes no order.
        self.epoch += 1

    def _store(self, images: np.ndarray, labels: np.ndarray) -> None:
        raise NotImplementedError

    def _take(self, indices: np.ndarray):
        raise NotImplementedError


def split_for(dataset: FashionMNIST, config) -> tuple[np.ndarray, ...]:
    """The (train_images, train_labels, test_images, test_labels) a config asks for."""
    train = stratified_indices(dataset.train_labels, config.train_limit, config.seed)
    test = stratified_indices(dataset.test_labels, config.test_limit, config.seed)
    return (dataset.train_images[train], dataset.train_labels[train],
            dataset.test_images[test], dataset.test_labels[test])

