"""The data layer: search order, verification, parsing errors, downloads and batch plans."""
import functools
import gzip
import http.server
import sys
import threading

import numpy as np
import pytest

from d2l_helpers import data
from d2l_helpers.data import CHECKSUMS, DataError

NAMES = list(CHECKSUMS)


def link_all(src, dst):
    """A folder that holds the real files, as symlinks (no 30 MB copies)."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        (dst / f"{name}.gz").symlink_to(data.find_file(src, name))
    return dst


def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


# --- the real data -----------------------------------------------------------------------

def test_real_data_has_the_documented_shapes(dataset):
    assert dataset.train_images.shape == (60_000, 28, 28) and dataset.train_images.dtype == np.uint8
    assert dataset.test_images.shape == (10_000, 28, 28)
    assert np.bincount(dataset.train_labels).tolist() == [6_000] * 10
    assert np.bincount(dataset.test_labels).tolist() == [1_000] * 10
    assert len(dataset.class_names) == 10 and dataset.class_names[9] == "ankle boot"


def test_mean_and_std_constants_match_the_training_set(dataset):
    pixels = dataset.train_images.astype(np.float64) / 255
    assert pixels.mean() == pytest.approx(data.MEAN, abs=5e-4)
    assert pixels.std() == pytest.approx(data.STD, abs=5e-4)


def test_plain_and_gzipped_copies_both_verify(real_dir, tmp_path):
    plain = tmp_path / "t10k-labels-idx1-ubyte"
    plain.write_bytes(data.read_bytes(data.find_file(real_dir, "t10k-labels-idx1-ubyte")))
    assert data.verified_bytes(plain, "t10k-labels-idx1-ubyte") == plain.read_bytes()
    regzipped = tmp_path / "again.gz"
    regzipped.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=1))
    assert data.verified_bytes(regzipped, "t10k-labels-idx1-ubyte") == plain.read_bytes()


# --- where it looks ----------------------------------------------------------------------

def test_search_order_is_argument_env_debian_cache(isolated, real_dir, monkeypatch):
    folders = {key: link_all(real_dir, isolated / key) for key in ("arg", "env", "debian")}
    link_all(real_dir, data.cache_dir())
    monkeypatch.setenv("D2L_DATA_DIR", str(folders["env"]))
    assert data.locate(folders["arg"]) == folders["arg"]
    assert data.locate() == folders["env"]
    monkeypatch.delenv("D2L_DATA_DIR")
    assert data.locate() == folders["debian"]
    for path in folders["debian"].iterdir():
        path.unlink()
    assert data.locate() == data.cache_dir()


def test_incomplete_debian_folder_is_skipped(isolated, real_dir):
    debian = link_all(real_dir, isolated / "debian")
    (debian / "t10k-labels-idx1-ubyte.gz").unlink()
    link_all(real_dir, data.cache_dir())
    assert data.locate() == data.cache_dir()


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_named_folder_lacking_a_file_is_an_error_naming_it(isolated, real_dir, monkeypatch, how):
    partial = link_all(real_dir, isolated / "partial")
    (partial / "t10k-labels-idx1-ubyte.gz").unlink()
    link_all(real_dir, isolated / "debian")  # a complete copy elsewhere is not used instead
    argument = partial if how == "argument" else None
    if how == "environment":
        monkeypatch.setenv("D2L_DATA_DIR", str(partial))
    for call in (lambda: data.locate(argument), lambda: data.load_fashion_mnist(argument)):
        with pytest.raises(DataError, match=r"partial \(from (data_dir|D2L_DATA_DIR)\) lacks "
                                            r"t10k-labels-idx1-ubyte"):
            call()


def test_missing_everywhere_offline_says_how_to_fix(isolated):
    with pytest.raises(DataError) as err:
        data.load_fashion_mnist()
    message = str(err.value)
    assert "dataset-fashion-mnist" in message and "D2L_DATA_DIR" in message
    assert "train-images-idx3-ubyte" in message


def test_cache_without_download_reports_missing_file(isolated):
    with pytest.raises(DataError, match="not found"):
        data.load_fashion_mnist(download=False)


# --- bad files ---------------------------------------------------------------------------

def test_truncated_gzip_names_the_file(isolated, real_dir):
    folder = link_all(real_dir, isolated / "mine")
    target = folder / "t10k-labels-idx1-ubyte.gz"
    raw = target.read_bytes()
    target.unlink()
    target.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz is not a valid gzip"):
        data.load_fashion_mnist(folder)
    assert target.stat().st_size == len(raw) // 2  # the user's file is left alone


def test_checksum_mismatch_names_file_and_remedy(isolated, real_dir):
    folder = link_all(real_dir, isolated / "mine")
    target = folder / "t10k-labels-idx1-ubyte.gz"
    content = bytearray(data.read_bytes(target))
    content[100] = (content[100] + 1) % 10
    target.unlink()
    target.write_bytes(gzip.compress(bytes(content)))
    with pytest.raises(DataError, match="fails its checksum.*fresh copy"):
        data.load_fashion_mnist(folder)


def test_wrong_magic_number():
    labels = idx_bytes(np.arange(10), data.LABEL_MAGIC)
    with pytest.raises(DataError, match="magic number 2049, expected 2051"):
        data.parse_idx(labels, data.IMAGE_MAGIC, "labels-as-images")


def test_truncated_payload_and_wrong_image_size():
    images = idx_bytes(np.zeros((3, 28, 28)), data.IMAGE_MAGIC)
    with pytest.raises(DataError, match="truncated or padded"):
        data.parse_idx(images[:-5], data.IMAGE_MAGIC, "short")
    small = idx_bytes(np.zeros((3, 14, 14)), data.IMAGE_MAGIC)
    with pytest.raises(DataError, match="14×14 images, expected 28×28"):
        data.parse_idx(small, data.IMAGE_MAGIC, "small")
    with pytest.raises(DataError, match="too short"):
        data.parse_idx(b"\x00\x00", data.LABEL_MAGIC, "tiny")


def test_images_and_labels_of_different_lengths():
    images = (idx_bytes(np.zeros((3, 28, 28)), data.IMAGE_MAGIC), "imgs")
    labels = (idx_bytes(np.arange(4), data.LABEL_MAGIC), "lbls")
    with pytest.raises(DataError, match="imgs holds 3 images but lbls holds 4 labels"):
        data.read_split(images, labels)
    x, y = data.read_split(images, (idx_bytes(np.arange(3), data.LABEL_MAGIC), "ok"))
    assert x.shape == (3, 28, 28) and y.tolist() == [0, 1, 2]


def test_copy_to_writes_the_four_files_gzipped(isolated, real_dir, monkeypatch, capsys):
    source = link_all(real_dir, isolated / "source")
    (source / "t10k-labels-idx1-ubyte.gz").unlink()  # one plain copy: gzipped on the way
    plain = data.read_bytes(data.find_file(real_dir, "t10k-labels-idx1-ubyte"))
    (source / "t10k-labels-idx1-ubyte").write_bytes(plain)
    monkeypatch.setenv("D2L_DATA_DIR", str(source))
    from d2l_helpers.__main__ import main

    assert main(["--copy-to", str(isolated / ".gpu-data")]) == 0
    copied = isolated / ".gpu-data"
    assert sorted(p.name for p in copied.iterdir()) == sorted(f"{n}.gz" for n in NAMES)
    assert gzip.decompress((copied / "t10k-labels-idx1-ubyte.gz").read_bytes()) == plain
    assert f"Copied the four files to {copied}" in capsys.readouterr().out


def test_a_download_without_pooch_says_what_to_install(isolated, monkeypatch):
    monkeypatch.setitem(sys.modules, "pooch", None)  # import pooch fails
    with pytest.raises(DataError, match=r"downloading it needs pooch, which is not installed.*D2L_DATA_DIR"):
        data.load_fashion_mnist()


# --- downloads (from a mirror on loopback) -------------------------------------------------

@pytest.fixture
def mirror(tmp_path, real_dir, monkeypatch):
    """An HTTP mirror on 127.0.0.1 serving the real files; returns the folder it serves. The first
    mirror refuses, and pooch retries it after pauses that are not what these tests check: none here."""
    import pooch.core

    monkeypatch.setattr(pooch.core.time, "sleep", lambda seconds: None)
    served = link_all(real_dir, tmp_path / "mirror")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(data, "MIRRORS", ("http://127.0.0.1:9/", f"http://127.0.0.1:{server.server_port}/"))
    yield served
    server.shutdown()


def test_download_into_cache_then_reuse(isolated, mirror):
    dataset = data.load_fashion_mnist()
    assert dataset.train_images.shape == (60_000, 28, 28)
    cache = data.cache_dir()
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in NAMES)
    assert data.locate() == cache


def test_corrupt_cache_file_is_moved_aside_and_fetched_again(isolated, mirror):
    cache = data.cache_dir()
    cache.mkdir(parents=True)
    (cache / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"not the labels"))
    dataset = data.load_fashion_mnist()
    assert len(dataset.test_labels) == 10_000
    aside = list(cache.glob("t10k-labels-idx1-ubyte.gz.corrupt-*"))
    assert len(aside) == 1 and gzip.decompress(aside[0].read_bytes()) == b"not the labels"


def test_corrupt_download_is_not_trusted_next_time(isolated, mirror):
    bad = mirror / "t10k-labels-idx1-ubyte.gz"
    bad.unlink()
    bad.write_bytes(gzip.compress(b"garbage from a broken mirror"))
    with pytest.raises(DataError, match="download of t10k-labels-idx1-ubyte is corrupt"):
        data.load_fashion_mnist()
    assert data.find_file(data.cache_dir(), "t10k-labels-idx1-ubyte") is None
    assert list(data.cache_dir().glob("t10k-labels-idx1-ubyte.gz.corrupt-*"))


# --- batching ------------------------------------------------------------------------------

def test_batch_plan_is_seeded_and_complete():
    first = data.batch_plan(1000, 128, seed=3, epoch=0)
    again = data.batch_plan(1000, 128, seed=3, epoch=0)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert [len(b) for b in first] == [128] * 7 + [104]
    assert sorted(np.concatenate(first).tolist()) == list(range(1000))
    assert not np.array_equal(first[0], data.batch_plan(1000, 128, seed=3, epoch=1)[0])
    assert not np.array_equal(first[0], data.batch_plan(1000, 128, seed=4, epoch=0)[0])
    ordered = data.batch_plan(10, 4, seed=0, epoch=0, shuffle=False)
    assert [b.tolist() for b in ordered] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_stratified_subset_balances_classes(dataset):
    picked = data.stratified_indices(dataset.train_labels, 1003, seed=1)
    counts = np.bincount(dataset.train_labels[picked], minlength=10)
    assert counts.tolist() == [101, 101, 101] + [100] * 7
    assert np.array_equal(picked, data.stratified_indices(dataset.train_labels, 1003, seed=1))
    assert not np.array_equal(picked, data.stratified_indices(dataset.train_labels, 1003, seed=2))
    assert len(data.stratified_indices(dataset.train_labels, None, seed=0)) == 60_000


def test_bilinear_matrix():
    matrix = data.bilinear_matrix(28, 80)
    assert matrix.shape == (80, 28)
    np.testing.assert_allclose(matrix.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(data.bilinear_matrix(28, 28), np.eye(28))
    # A linear ramp stays a ramp inside the image (edges are clamped).
    ramp = np.arange(28, dtype=np.float32)
    resized = data.bilinear_matrix(28, 56) @ ramp
    np.testing.assert_allclose(np.diff(resized[1:-1]), 0.5, atol=1e-5)


class _ListStream(data.BatchStream):
    def _store(self, images, labels):
        self.labels = labels

    def _take(self, indices):
        return self.labels[indices]


def test_batch_stream_advances_epoch_only_after_a_full_pass():
    stream = _ListStream(np.zeros((10, 28, 28), np.uint8), np.arange(10), device=None,
                         batch_size=4, resize=68, seed=0, shuffle=True)
    assert len(stream) == 3
    peek = next(iter(stream))
    first = list(stream)
    assert np.array_equal(peek, first[0]) and stream.epoch == 1
    assert sorted(np.concatenate(first).tolist()) == list(range(10))
    assert not all(np.array_equal(a, b) for a, b in zip(first, list(stream)))
