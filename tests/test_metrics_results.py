"""Timer, accumulator, accuracy counting, the divergence check and run records."""
import json
import math
import time

import numpy as np
import pytest

from d2l_helpers import metrics, results
from d2l_helpers.results import RunRecord


def test_timer_measures_intervals_and_throughput():
    timer = metrics.Timer()
    with pytest.raises(RuntimeError):
        timer.stop()
    timer.start()
    time.sleep(0.02)
    first = timer.stop()
    assert 0.015 < first < 1
    timer.start()
    timer.stop()
    assert timer.sum() >= first and len(timer.times) == 2
    assert timer.avg() == pytest.approx(timer.sum() / 2)
    assert timer.examples_per_sec(100) == pytest.approx(100 / timer.sum())
    assert metrics.Timer().examples_per_sec(10) == 0.0


def test_accumulator():
    acc = metrics.Accumulator(3)
    acc.add(1.5, 2, 10)
    acc.add(0.5, np.int64(1), 5)
    assert acc.data == [2.0, 3.0, 15.0] and acc[2] == 15.0
    with pytest.raises(ValueError):
        acc.add(1, 2)
    acc.reset()
    assert acc.data == [0.0, 0.0, 0.0]


def test_count_correct():
    logits = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert metrics.count_correct(logits, np.array([1, 0, 0])) == 2
    with pytest.raises(ValueError):
        metrics.count_correct(logits, np.array([1, 0]))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_diverging_loss_stops_with_advice(bad):
    with pytest.raises(metrics.TrainingDiverged, match=r"epoch 2, step 7.*smaller learning rate.*lr=0\.001"):
        metrics.ensure_finite(bad, epoch=2, step=7, lr=0.01)
    metrics.ensure_finite(2.3, epoch=1, step=1, lr=0.01)


def make_record():
    record = RunRecord("PyTorch", "2.14.1", "CPU", {"preset": "smoke", "epochs": 2}, parameters=123,
                       layer_shapes=[["Conv2d", [96, 54, 54]]])
    record.add_epoch(1, 2.0, 0.3, 0.5, 10.0, 100.0)
    record.add_epoch(2, np.float32(1.0), 0.6, 0.7, 12.0, 80.0)
    return record


def test_record_round_trip(tmp_path):
    record = make_record()
    final = record.finish()
    assert final == {"train_loss": 1.0, "train_acc": 0.6, "test_acc": 0.7, "train_seconds": 22.0,
                     "examples_per_sec": 90.0}
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
    record.finish()
    raw = json.loads(record.save(tmp_path).read_text())
    del raw["history"][0]["test_acc"]
    (tmp_path / "b.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="lacks \\['test_acc'\\]"):
        results.load_record(tmp_path / "b.json")
    raw["schema"] = 99
    (tmp_path / "c.json").write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="schema 99"):
        results.load_record(tmp_path / "c.json")
