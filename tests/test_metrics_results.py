"""The divergence check, confusion counts, run records and the training log."""
import json
import math
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from d2l_helpers import devices, metrics, results, training
from d2l_helpers.config import make_config
from d2l_helpers.results import RunRecord
from d2l_helpers.training import TrainingLog


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_diverging_loss_stops_with_advice(bad):
    with pytest.raises(metrics.TrainingDiverged, match=r"epoch 2, by step 7.*smaller learning rate.*lr=0\.001"):
        metrics.ensure_finite(bad, epoch=2, step=7, lr=0.01)
    metrics.ensure_finite(2.3, epoch=1, step=1, lr=0.01)


def test_softmax_is_stable_and_sums_to_one():
    p = metrics.softmax(np.array([[1000.0, 1000.0, 0.0], [0.0, 0.0, 0.0]]))
    assert np.allclose(p.sum(axis=1), 1) and np.allclose(p[0], [0.5, 0.5, 0]) and np.allclose(p[1], 1 / 3)


def test_confusion_matrix_and_per_class_accuracy():
    labels = np.array([0, 0, 1, 2, 2, 2])
    predicted = np.array([0, 1, 1, 2, 0, 2])
    matrix = metrics.confusion_matrix(labels, predicted, num_classes=4)
    assert matrix.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
    assert metrics.per_class_accuracy(matrix).tolist() == [0.5, 1.0, 2 / 3, 0.0]  # empty class: 0
    with pytest.raises(ValueError, match="6 labels but 5 predictions"):
        metrics.confusion_matrix(labels, predicted[:5])


def test_predict_all_concatenates_in_order():
    batches = [(np.ones((2, 3)), np.array([1, 2])), (np.zeros((1, 3)), np.array([0]))]
    labels, logits = metrics.predict_all(lambda X: X * 2, batches, np.asarray)
    assert labels.tolist() == [1, 2, 0] and labels.dtype == np.int64
    assert logits.tolist() == [[2, 2, 2], [2, 2, 2], [0, 0, 0]]


def make_record():
    config = make_config("smoke", gpu=False, epochs=2)
    record = RunRecord.start("PyTorch", "2.14.1", devices.Choice(reason="no GPU found"), config,
                             parameters=123, layer_shapes=[["Conv2d", [96, 54, 54]]], initial_loss=2.31)
    record.add_epoch(1, 2.0, 0.3, 0.5, 10.0, 100.0)
    record.add_epoch(2, np.float32(1.0), 0.6, 0.7, 12.0, 80.0)
    return record


def test_record_round_trip(tmp_path):
    record = make_record()
    assert record.device == "CPU" and record.device_note == "no GPU found" and record.key == "pytorch"
    final = record.finish()
    assert final == {"train_loss": 1.0, "train_acc": 0.6, "test_acc": 0.7, "train_seconds": 22.0,
                     "examples_per_sec": pytest.approx((1000 + 960) / 22)}
    path = record.save(tmp_path / "results")
    assert path.name == "alexnet-pytorch.json"
    assert [p.name for p in path.parent.iterdir()] == ["alexnet-pytorch.json"]  # no temp file left
    loaded = results.load_record(path)
    assert loaded == record
    assert "test acc 0.700" in loaded.summary() and "preset smoke" in loaded.summary()


def test_finish_needs_an_epoch():
    with pytest.raises(ValueError, match="no epoch"):
        RunRecord("MXNet", "1.9.1", "CPU", {}).finish()


def test_load_rejects_files_that_are_not_records(tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a readable run record"):
        results.load_record(tmp_path / "a.json")
    record = make_record()
    record.add_step(5, 2.0, 0.2)
    record.finish()
    raw = json.loads(record.save(tmp_path).read_text())
    del raw["history"][0]["test_acc"]
    (tmp_path / "b.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="an epoch lacks \\['test_acc'\\]"):
        results.load_record(tmp_path / "b.json")
    raw = json.loads(record.save(tmp_path).read_text())
    del raw["steps"][0]["acc"]
    (tmp_path / "c.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="a step lacks \\['acc'\\]"):
        results.load_record(tmp_path / "c.json")
    raw["schema"] = 1
    (tmp_path / "d.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="schema 1, this code reads 2: run its notebook again"):
        results.load_record(tmp_path / "d.json")


def test_training_log_keeps_window_means_and_epochs():
    record = make_record()
    record.history.clear()
    log = TrainingLog(record, steps_per_epoch=5, log_every=2, plot=False)
    for epoch in (1, 2):
        log.begin_epoch(epoch)
        for step in range(5):
            log.step(loss=float(10 * epoch + step), correct=step, examples=10)
        row = log.end_epoch(test_acc=0.5 + epoch / 10)
        assert row["epoch"] == epoch and row["seconds"] >= 0
    # rows after steps 2, 4, 5 of each epoch: means over the steps since the row before
    assert [r["step"] for r in record.steps] == [2, 4, 5, 7, 9, 10]
    assert [r["loss"] for r in record.steps] == [10.5, 12.5, 14, 20.5, 22.5, 24]
    assert [r["acc"] for r in record.steps] == [0.05, 0.25, 0.4, 0.05, 0.25, 0.4]
    assert record.history[1]["train_loss"] == 22 and record.history[1]["test_acc"] == 0.7
    assert record.steps_per_epoch == 5 and record.log_every == 2


def test_training_log_stops_a_diverging_run():
    log = TrainingLog(make_record(), steps_per_epoch=5, plot=False, read_every=0)
    log.begin_epoch(1)
    log.step(2.3, 1, 10)
    with pytest.raises(metrics.TrainingDiverged, match="epoch 1, by step 2"):
        log.step(math.nan, 1, 10)


class DeviceScalar:
    """Stands in for a framework's scalar: `+` and `*` stay "on the device", reading counts."""

    reads = 0

    def __init__(self, value):
        self.value = value

    def __add__(self, other):
        return DeviceScalar(self.value + getattr(other, "value", other))

    __radd__ = __add__

    def __mul__(self, other):
        return DeviceScalar(self.value * other)

    def __float__(self):
        DeviceScalar.reads += 1
        return float(self.value)


def test_training_log_reads_device_scalars_by_time_and_at_the_epoch_end(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(training.time, "perf_counter", lambda: clock[0])
    record = make_record()
    record.history.clear()
    log = TrainingLog(record, steps_per_epoch=10, log_every=3, plot=False, read_every=1.0)
    log.begin_epoch(1)
    DeviceScalar.reads = 0
    for step in range(1, 10):
        clock[0] = step * 0.3  # a step every 0.3 s: the sums are read at steps 4 and 8 (1.2 s, 2.4 s)
        log.step(DeviceScalar(2.0), DeviceScalar(3), 10)
    assert [r["step"] for r in record.steps] == [3, 6]  # a row is recorded when it is read
    assert DeviceScalar.reads == 2 * (2 + 1)  # at each read: a finished row's two sums, the open row's loss
    clock[0] = 3.05
    log.step(DeviceScalar(4.0), DeviceScalar(5), 10)  # the last step: read at once
    assert [r["step"] for r in record.steps] == [3, 6, 9, 10]
    row = log.end_epoch(test_acc=0.5)
    assert row["train_loss"] == pytest.approx((9 * 2.0 + 4.0) / 10) and row["train_acc"] == pytest.approx(32 / 100)
    assert row["seconds"] == pytest.approx(3.05)  # the clock stopped when the last step was read
    assert [r["loss"] for r in record.steps] == [2.0, 2.0, 2.0, 4.0]


def test_training_log_stops_a_diverging_device_run_at_the_next_read(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(training.time, "perf_counter", lambda: clock[0])
    log = TrainingLog(make_record(), steps_per_epoch=100, plot=False, read_every=1.0)
    log.begin_epoch(1)
    clock[0] = 0.5
    log.step(DeviceScalar(math.nan), DeviceScalar(1), 10)  # not read yet
    clock[0] = 1.0
    with pytest.raises(metrics.TrainingDiverged, match="by step 2"):
        log.step(DeviceScalar(2.0), DeviceScalar(1), 10)  # one second on: read, in the open row


def test_progress_without_tqdm_prints_a_plain_line_now_and_then(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm fails
    clock = [0.0]
    monkeypatch.setattr(training.time, "perf_counter", lambda: clock[0])
    batches = []
    for batch in training.progress(range(25), "epoch 1/1"):
        clock[0] += 1.0  # one second a batch: a line after batches 10 and 20, and one at the end
        batches.append(batch)
    assert batches == list(range(25))
    assert capsys.readouterr().out.splitlines() == [
        "epoch 1/1: 10/25 batches, 10 s", "epoch 1/1: 20/25 batches, 20 s", "epoch 1/1: 25/25 batches in 25 s"]
