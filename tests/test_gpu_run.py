"""`make gpu-run`'s script: the refusal on a CPU, the time budget, the writes that survive a cut,
and (slow) the whole path on the CPU with the smoke preset."""
import json
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import pytest
from conftest import REPO

from d2l_helpers import devices, frameworks, training
from d2l_helpers.config import make_config
from d2l_helpers.results import RunRecord, load_record
from tools import gpu_run


def record_for(epochs=3, framework="PyTorch"):
    config = make_config("smoke", gpu=True, epochs=epochs)
    return RunRecord.start(framework, "2.11.0", devices.Choice(devices.Gpu(0, "NVIDIA H200", (9, 0))), config)


# --- the refusal on a CPU ----------------------------------------------------------------------

def test_the_reference_preset_is_refused_without_a_gpu_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(devices, "nvidia_gpus", lambda: [])
    assert gpu_run.main(["--out", str(tmp_path)]) == 2
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and "refusing the reference preset" in said and "--preset smoke" in said
    assert not list(tmp_path.iterdir())  # nothing started, nothing written


def test_a_worker_refuses_the_reference_preset_when_its_framework_sees_no_gpu():
    cpu = devices.Choice(reason="torch.cuda.is_available() is False")
    reference = make_config("reference", gpu=False)
    assert "refusing the reference preset on the CPU (torch.cuda.is_available() is False)" in gpu_run.refusal(
        reference, cpu, "float32", "alexnet-pytorch.ipynb")
    gpu = devices.Choice(devices.Gpu(0, "NVIDIA H200", (9, 0)))
    assert gpu_run.refusal(reference, gpu, "float32", "alexnet-pytorch.ipynb") is None
    assert gpu_run.refusal(make_config("smoke", gpu=False), cpu, "float32", "x.ipynb") is None
    assert "does not pass `precision`" in gpu_run.refusal(reference, gpu, "bfloat16", "alexnet-pytorch.ipynb")


def test_flax_too_old_for_jax_is_said_in_one_line(monkeypatch):
    versions = {"jax": "0.11.2", "flax": "0.12.9"}
    monkeypatch.setattr(gpu_run.importlib.metadata, "version", versions.get)
    monkeypatch.setattr(gpu_run.importlib.util, "find_spec", lambda name: object())
    assert gpu_run.import_problem(frameworks.get("jax")) == (
        "flax 0.12.9 cannot import nnx under jax 0.11.2: it needs flax 0.12.10 or later")
    versions["flax"] = "0.12.10"
    assert gpu_run.import_problem(frameworks.get("jax")) is None


# --- the budget and the incremental writes -----------------------------------------------------

class FakeWorkers:
    """Stands in for run_worker: each run takes `take` of its share on a fake clock, saves a record
    of one epoch, and the second one dies after that epoch."""

    def __init__(self, clock, summary, take=1.0):
        self.clock, self.summary, self.take, self.calls = clock, summary, take, []

    def __call__(self, fw, module, spec, timeout):
        self.calls.append((fw.key, spec["precision"], timeout, spec["deadline"] - self.clock[0]))
        written = json.loads(self.summary.read_text())  # what a cut-off call would leave
        self.seen = sorted(written["runs"])
        self.clock[0] += timeout * self.take
        record = record_for(framework=fw.name)
        record.add_epoch(1, 2.0, 0.3, 0.5, 10.0, 100.0)
        record.finish()
        path = record.save(spec["results_dir"])
        if len(self.calls) == 2:
            raise gpu_run.WorkerError(f"{fw.name}: tools.gpu_run did not finish within {timeout:.0f} s")
        return gpu_run.run_summary(record, path, None)


@pytest.fixture
def fake_run(tmp_path, monkeypatch):
    clock = [1000.0]
    monkeypatch.delenv("D2L_DATA_DIR", raising=False)  # main() sets it for its workers
    monkeypatch.setattr(gpu_run.time, "time", lambda: clock[0])
    monkeypatch.setattr(gpu_run, "import_problem", lambda fw: None)
    monkeypatch.setattr(gpu_run, "d2l_reference", lambda *args: {"skipped": "not here"})
    workers = FakeWorkers(clock, tmp_path / "out" / gpu_run.SUMMARY)
    monkeypatch.setattr(gpu_run, "run_worker", workers)
    return workers


def test_runs_share_the_budget_and_each_write_is_kept(tmp_path, fake_run, capsys):
    out = tmp_path / "out"
    code = gpu_run.main(["--preset", "smoke", "--frameworks", "pytorch,jax", "--precision", "float32,bfloat16",
                         "--budget", "4", "--out", str(out)])
    assert code == 0
    # four runs, 240 s: 60 s each while every run takes its whole share
    assert [(key, p, t) for key, p, t, _ in fake_run.calls[:2]] == [("pytorch", "float32", 60),
                                                                    ("pytorch", "bfloat16", 60)]
    assert all(left == 60 - gpu_run.FINISH_S for *_, left in fake_run.calls)  # training stops before the share
    assert fake_run.seen == ["jax", "pytorch"]  # the summary was written after every run
    doc = json.loads((out / gpu_run.SUMMARY).read_text())
    assert set(doc["runs"]["pytorch"]) == {"float32", "bfloat16"}
    died = doc["runs"]["pytorch"]["bfloat16"]  # the worker that died: its record's epoch is kept
    assert died["epochs_done"] == 1 and "did not finish within 60 s" in died["failed"]
    assert load_record(out / "bfloat16" / "alexnet-pytorch.json").history
    said = capsys.readouterr().err
    assert "PyTorch bfloat16: test accuracy 0.500 after 1 of 3 epoch(s)" in said and "cut: " in said


def test_a_run_left_without_enough_budget_is_not_started(tmp_path, fake_run):
    fake_run.take = 1.7  # the first run overruns its share: too little is left for the third
    out = tmp_path / "out"
    gpu_run.main(["--preset", "smoke", "--frameworks", "pytorch,jax", "--budget", "1.5", "--out", str(out)])
    assert [key for key, *_ in fake_run.calls] == ["pytorch"]
    doc = json.loads((out / gpu_run.SUMMARY).read_text())
    assert doc["skipped"]["jax float32"].startswith("not started: ") and doc["budget_minutes"] == 1.5


def test_mxnet_is_not_run_in_bfloat16(tmp_path, fake_run):
    gpu_run.main(["--preset", "smoke", "--frameworks", "mxnet", "--precision", "bfloat16",
                  "--out", str(tmp_path / "out")])
    doc = json.loads((tmp_path / "out" / gpu_run.SUMMARY).read_text())
    assert doc["skipped"] == {"mxnet bfloat16": "the MXNet notebook trains in float32 only"} and not fake_run.calls


def test_an_unattended_loop_saves_every_epoch_and_stops_before_one_that_would_not_fit(tmp_path, monkeypatch,
                                                                                       capsys):
    clock = [0.0]
    monkeypatch.setattr(training.time, "perf_counter", lambda: clock[0])
    record = record_for(epochs=3)
    with training.unattended(tmp_path, deadline=25.0):
        log = training.TrainingLog(record, steps_per_epoch=2, plot=False)
        for epoch in (1, 2):
            log.begin_epoch(epoch)
            for _ in range(2):
                clock[0] += 5.0
                log.step(2.0, 3, 10)
            clock[0] += 1.0  # the test pass
            if epoch == 1:
                log.end_epoch(0.5)  # 11 s an epoch: one more fits before 25 s
                assert len(load_record(tmp_path / "alexnet-pytorch.json").history) == 1
            else:
                with pytest.raises(training.OutOfTime, match="stopped after epoch 2 of 3"):
                    log.end_epoch(0.6)  # 22 s: a third would end at 33 s
    saved = load_record(tmp_path / "alexnet-pytorch.json")
    assert len(saved.history) == 2 and saved.final["test_acc"] == 0.6
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("PyTorch float32 epoch 1/3: loss 2.000, train acc 0.300, test acc 0.500, 10.0 s")


def test_an_unattended_loop_stops_within_an_epoch_at_the_deadline(tmp_path, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(training.time, "perf_counter", lambda: clock[0])
    batches = [1, 2]
    with training.unattended(tmp_path, deadline=3.0):
        assert training.progress(batches, "epoch 1") is batches  # no progress display: a line per epoch
        log = training.TrainingLog(record_for(), steps_per_epoch=100, plot=False)
        log.begin_epoch(1)
        with pytest.raises(training.OutOfTime, match="stopped at step 4 of 100 in epoch 1"):
            for _ in range(100):
                clock[0] += 1.0
                log.step(2.0, 3, 10)
    assert training.progress(batches, "epoch 1") is not batches


# --- the whole path, on the CPU ------------------------------------------------------------------

@pytest.mark.slow
def test_one_call_runs_each_framework_and_writes_records_and_summary(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "tools.gpu_run", "--preset", "smoke", "--frameworks", "pytorch,mxnet",
                           "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads((out / gpu_run.SUMMARY).read_text())
    assert doc["preset"] == "smoke" and doc["command"].startswith("python3 -m tools.gpu_run --preset smoke")
    run = doc["runs"]["pytorch"]["float32"]
    record = load_record(out / "float32" / "alexnet-pytorch.json")
    assert record.config["preset"] == "smoke" and run["test_acc"] == record.final["test_acc"]
    assert run["epochs_done"] == 1 and run["examples_per_s"] > 0 and run["cut"] is None
    assert "no d2l 1.0.3 here" in run["d2l"]["skipped"]  # no --d2l-dir: said, not silently left out
    mxnet = frameworks.get("mxnet")
    if frameworks.problem(mxnet):
        assert doc["skipped"]["mxnet float32"] == frameworks.problem(mxnet)
    else:
        assert (out / "float32" / mxnet.record).is_file()
    assert "PyTorch float32 epoch 1/1: loss" in proc.stderr and "PyTorch float32: test accuracy" in proc.stderr
    assert "output shape" in (out / "float32" / "alexnet-pytorch.log").read_text()  # the cells' prints
