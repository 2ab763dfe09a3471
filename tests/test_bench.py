"""The benchmarks' bookkeeping on tiny settings: `make bench --quick`, one option pair, two seeds.

Speed is never asserted (it depends on the machine and on what else runs): only that
every figure is there, positive, and consistent with the others.
"""
import json
import subprocess
import sys

import pytest
from conftest import REPO

from d2l_helpers.architecture import forward_macs

pytestmark = pytest.mark.slow

# Forward multiply-accumulates of one 68×68 example, layer by layer: conv outputs of 15×15, 7×7
# and 3×3 (the layer summary of the smoke preset), then 256 flattened features.
MACS_68 = (96 * 15 * 15 * 1 * 11 * 11 + 256 * 7 * 7 * 96 * 5 * 5 + 384 * 3 * 3 * 256 * 3 * 3
           + 384 * 3 * 3 * 384 * 3 * 3 + 256 * 3 * 3 * 384 * 3 * 3 + 256 * 4096 + 4096 * 4096 + 4096 * 10)


def run_module(module: str, *args: str, output, timeout: float = 900) -> dict:
    """Run `python -m module args --output output`; check it succeeds and prints the table it writes beside
    `output`; return the JSON record."""
    proc = subprocess.run([sys.executable, "-m", module, *args, "--output", str(output)],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert output.with_suffix(".md").read_text() in proc.stdout
    return json.loads(output.read_text())


def test_cost_model_counts_every_multiply_accumulate():
    assert forward_macs(68) == MACS_68


def test_quick_paired_run_writes_a_complete_report(tmp_path):
    # The d2l 1.0.3 reference is included: an outside package fed local data is the part most
    # likely to break. Its first run on a machine installs it into the user cache (~30 s).
    output = tmp_path / "results.json"
    doc = run_module("benchmarks.bench", "--quick", "--frameworks", "pytorch", output=output)
    assert doc["settings"]["quick"] and doc["settings"]["d2l_reference"] and doc["settings"]["pairs"] == 2
    # the images need no gradient: the first layer's input gradient is not counted
    assert doc["model"]["training_flops_per_example"] == 6 * MACS_68 - 2 * 96 * 15 * 15 * 1 * 11 * 11
    assert doc["command"].startswith("python -m benchmarks.bench --quick")
    result = doc["frameworks"]["pytorch"]
    assert len(result["pairs"]) == 2
    assert result["pairs"][0]["order"] == list(reversed(result["pairs"][1]["order"]))  # ABBA
    d2l = result["d2l"]
    assert d2l["version"] == "1.0.3" and d2l["default_loader"] == "4 workers"
    assert set(d2l["search"]) == {"0 workers", "1 worker", "2 workers", "4 workers"}
    assert d2l["best_loader"] == max(d2l["search"], key=d2l["search"].get)
    for pair in result["pairs"]:
        ours = pair["windows"]["ours"]
        default = pair["windows"]["d2l default"]
        assert pair["ratio to d2l default"] == pytest.approx(
            (ours["examples"] / ours["seconds"]) / (default["examples"] / default["seconds"]))
        # the reference is the fastest of the main environment's matmuls, each measured every pair
        assert set(pair["matmul_by_library"]) == set(doc["matmul"]["libraries"]) >= {"PyTorch", "JAX"}
        assert pair["matmul_gflops"] == max(pair["matmul_by_library"].values()) > 0
        assert pair["share_of_matmul"] == pytest.approx(
            ours["examples"] / ours["seconds"] * doc["model"]["training_flops_per_example"] / 1e9
            / pair["matmul_gflops"])
    for key in ("ours_examples_per_s", "ratio to d2l default", "share_of_matmul"):
        s = result[key]
        assert s["n"] == 2 and s["min"] <= s["median"] <= s["max"] and s["min"] > 0
    table = output.with_suffix(".md").read_text()
    assert "| PyTorch | " in table and "[4 workers]" in table
    assert "Matmul rate, median over all pairs: PyTorch " in table
    assert "Quick mode: not a measurement." in table


def test_impossible_settings_and_names_are_errors(tmp_path):
    for args, message in ((["--pairs", "0"], "--pairs must be at least 1"),
                          (["--frameworks", "caffe"], "unknown framework 'caffe'")):
        proc = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--quick", *args,
                               "--output", str(tmp_path / "x.json")], cwd=REPO, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 1 and message in proc.stderr, proc.stderr[-2000:]
        assert not (tmp_path / "x.json").exists()


def test_an_option_is_timed_against_the_notebook_as_it_is(tmp_path):
    output = tmp_path / "options.json"
    doc = run_module("benchmarks.options", "--options", "pytorch:channels-first", "--repeats", "1",
                     "--set", "train_limit=320", "--set", "test_limit=160", output=output)
    runs = doc["frameworks"]["pytorch"]["runs"]
    assert [r["option"] for r in runs] == [None, "channels-first"]  # as it is first in the first pair
    option = doc["frameworks"]["pytorch"]["options"]["channels-first"]
    assert option["speedup"]["median"] == pytest.approx(runs[0]["seconds"] / runs[1]["seconds"])
    assert 0 <= option["test_acc"] <= 1
    assert "| PyTorch " in output.with_suffix(".md").read_text() and "channels-first" in doc["command"]


def test_options_refuse_unknown_names(tmp_path):
    for args, message in ((["--options", "pytorch:turbo"], "unknown option(s) ['turbo'] for pytorch"),
                          (["--options", "caffe:fast"], "unknown framework 'caffe'"),
                          (["--set", "momentum=0.5"], "unknown setting(s) ['momentum']")):
        proc = subprocess.run([sys.executable, "-m", "benchmarks.options", *args, "--output", str(tmp_path / "x.json")],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1 and message in proc.stderr, proc.stderr[-2000:]
        assert not (tmp_path / "x.json").exists()


def test_seeds_reports_each_seeds_accuracy_and_the_runs_below_target(tmp_path):
    output = tmp_path / "seeds.json"
    doc = run_module("benchmarks.seeds", "--frameworks", "pytorch", "--seeds", "0,1", "--set", "train_limit=320",
                     "--set", "test_limit=160", output=output)
    assert doc["overrides"] == {"train_limit": 320, "test_limit": 160} and "train_limit=320" in doc["config"]
    result = doc["frameworks"]["pytorch"]
    accuracies = [run["test_acc"] for run in result["runs"]]
    assert [run["seed"] for run in result["runs"]] == [0, 1] and result["failed"] == 0
    assert result["test_acc"]["mean"] == pytest.approx(sum(accuracies) / 2)
    assert [result["test_acc"]["min"], result["test_acc"]["max"]] == sorted(accuracies)
    # 320 images cannot teach AlexNet Fashion-MNIST: both runs fall short of the 0.80 target
    assert result["below_target"] == 2
    table = output.with_suffix(".md").read_text()
    assert f"| {accuracies[0]:.3f}, {accuracies[1]:.3f} |" in table and "| 2 of 2 |" in table


@pytest.mark.parametrize("args, message", [
    (["--set", "lr"], "write name=value"),
    (["--set", "lr=fast"], "'fast' is not a number"),
    (["--set", "momentum=0.5"], "unknown setting(s) ['momentum']"),
    (["--set", "epochs=0"], "epochs=0 is out of range"),
    (["--frameworks", "caffe"], "unknown framework 'caffe'"),
    (["--seeds", "a,b"], "--seeds 'a,b': write whole numbers")])
def test_seeds_refuses_impossible_settings_before_any_run(tmp_path, args, message):
    output = tmp_path / "x.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.seeds", *args, "--output", str(output)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode in (1, 2) and message in proc.stderr, proc.stderr[-2000:]
    assert not output.exists()
