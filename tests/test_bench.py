"""The benchmarks' bookkeeping: `make bench --quick` end to end, and the option and seed studies'
pairing and summaries with their preview runs stood in for.

Speed is never asserted (it depends on the machine and on what else runs): only that
every figure is there, positive, and consistent with the others.
"""
import json
import subprocess
import sys

import pytest
from conftest import REPO

from benchmarks import options, seeds
from d2l_helpers.architecture import forward_macs
from tools.crossenv import WorkerError

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


@pytest.mark.slow
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
    assert "Quick mode: not a measurement." in table and doc["machine"]["load_15min"] >= 0


@pytest.mark.slow  # a fresh interpreter per case
def test_impossible_settings_and_names_are_errors(tmp_path):
    for args, message in ((["--pairs", "0"], "--pairs must be at least 1"),
                          (["--frameworks", "caffe"], "unknown framework 'caffe'")):
        proc = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--quick", *args,
                               "--output", str(tmp_path / "x.json")], cwd=REPO, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 1 and message in proc.stderr, proc.stderr[-2000:]
        assert not (tmp_path / "x.json").exists()


def stand_in(monkeypatch, module, result):
    """Replace `module`'s preview runs by `result(spec, env)`; returns the specs it was given."""
    calls = []

    def run_worker(fw, name, spec, env=None, **_):
        assert name == "benchmarks.options"  # the preview worker, for options and seeds alike
        calls.append({**spec, "env": env or {}})
        return result(spec, env or {})
    monkeypatch.setattr(module, "run_worker", run_worker)
    return calls


def outcome(main, args, capsys) -> tuple:
    try:
        code = main(args)
    except SystemExit as exit:  # argparse's own refusals
        code = exit.code
    return code, capsys.readouterr()


def test_an_option_is_timed_in_pairs_against_the_notebook_as_it_is(tmp_path, monkeypatch, capsys):
    seconds = lambda spec, env: {"seconds": 80.0 if spec["option"] else 100.0, "train_seconds": 60.0,
                                 "test_acc": 0.8, "device": "CPU", "version": "2.x"}
    calls = stand_in(monkeypatch, options, seconds)
    output = tmp_path / "options.json"
    code, said = outcome(options.main, ["--options", "pytorch:channels-first,tensorflow:glibc-defaults",
                                        "--set", "train_limit=320", "--output", str(output)], capsys)
    assert code == 0
    assert [c["option"] for c in calls if c["framework"] == "pytorch"] == [
        None, "channels-first", "channels-first", None]  # two pairs, the order swapped
    assert all(c["overrides"] == {"train_limit": 320} for c in calls)
    glibc = [c["env"] for c in calls if c["option"] == "glibc-defaults"]
    assert glibc == [{"GLIBC_TUNABLES": ""}] * 2
    doc = json.loads(output.read_text())
    option = doc["frameworks"]["pytorch"]["options"]["channels-first"]
    assert option["speedup"] == {"median": 1.25, "min": 1.25, "max": 1.25, "n": 2}  # 100 s as it is ÷ 80 s
    table = output.with_suffix(".md").read_text()
    assert table in said.out and "| PyTorch 2.x | channels-first |" in table and "1.25× (1.25–1.25)" in table


def test_a_failing_option_is_reported_and_the_others_still_run(tmp_path, monkeypatch, capsys):
    def result(spec, env):
        if spec["option"] == "dynamic":
            raise WorkerError("MXNet: benchmarks.options failed with exit code 1")
        return {"seconds": 90.0, "train_seconds": 70.0, "test_acc": 0.8, "device": "CPU", "version": "1.9.1"}
    stand_in(monkeypatch, options, result)
    output = tmp_path / "options.json"
    assert outcome(options.main, ["--options", "mxnet:dynamic,mxnet:imperative", "--repeats", "1",
                                  "--output", str(output)], capsys)[0] == 0
    results = json.loads(output.read_text())["frameworks"]["mxnet"]["options"]
    assert "exit code 1" in results["dynamic"]["failed"] and results["imperative"]["speedup"]["median"] == 1.0


@pytest.mark.parametrize("args, message", [
    (["--options", "pytorch:turbo"], "unknown option(s) ['turbo'] for pytorch"),
    (["--options", "caffe:fast"], "unknown framework 'caffe'"),
    (["--set", "momentum=0.5"], "unknown setting(s) ['momentum']"),
    (["--repeats", "0"], "--repeats must be at least 1")])
def test_options_refuse_impossible_settings_before_any_run(tmp_path, monkeypatch, capsys, args, message):
    calls = stand_in(monkeypatch, options, lambda spec, env: pytest.fail("no run expected"))
    code, said = outcome(options.main, [*args, "--output", str(tmp_path / "x.json")], capsys)
    assert code in (1, 2) and message in said.err and not calls
    assert not (tmp_path / "x.json").exists()


def test_seeds_reports_each_seeds_accuracy_and_the_runs_below_target(tmp_path, monkeypatch, capsys):
    accuracy = {0: 0.79, 1: 0.85, 2: 0.82}
    calls = stand_in(monkeypatch, seeds, lambda spec, env: {
        "seconds": 120.0, "train_seconds": 100.0, "test_acc": accuracy[spec["overrides"]["seed"]],
        "device": "CPU", "version": "2.x"})
    output = tmp_path / "seeds.json"
    code, said = outcome(seeds.main, ["--frameworks", "pytorch", "--seeds", "0,1,2", "--set", "train_limit=320",
                                      "--output", str(output)], capsys)
    assert code == 0 and [c["overrides"] for c in calls] == [{"train_limit": 320, "seed": s} for s in accuracy]
    doc = json.loads(output.read_text())
    assert doc["overrides"] == {"train_limit": 320} and "train_limit=320" in doc["config"]
    result = doc["frameworks"]["pytorch"]
    assert result["test_acc"]["mean"] == pytest.approx(0.82) and result["below_target"] == 1
    assert [result["test_acc"]["min"], result["test_acc"]["max"]] == [0.79, 0.85]
    table = output.with_suffix(".md").read_text()
    assert table in said.out and "| 0.790, 0.850, 0.820 | 0.790–0.850 | 0.820 | 1 of 3 |" in table


def test_a_failed_seed_is_said_and_fails_the_command(tmp_path, monkeypatch, capsys):
    def result(spec, env):
        if spec["overrides"]["seed"] == 1:
            raise WorkerError("PyTorch: benchmarks.options did not finish within 1800 s")
        return {"seconds": 120.0, "train_seconds": 100.0, "test_acc": 0.83, "device": "CPU", "version": "2.x"}
    stand_in(monkeypatch, seeds, result)
    output = tmp_path / "seeds.json"
    code, _ = outcome(seeds.main, ["--frameworks", "pytorch", "--seeds", "0,1", "--output", str(output)], capsys)
    assert code == 1 and json.loads(output.read_text())["frameworks"]["pytorch"]["failed"] == 1
    assert "PyTorch, seed 1: PyTorch: benchmarks.options did not finish" in output.with_suffix(".md").read_text()


@pytest.mark.parametrize("args, message", [
    (["--set", "lr"], "write name=value"),
    (["--set", "lr=fast"], "'fast' is not a number"),
    (["--set", "momentum=0.5"], "unknown setting(s) ['momentum']"),
    (["--set", "epochs=0"], "epochs=0 is out of range"),
    (["--frameworks", "caffe"], "unknown framework 'caffe'"),
    (["--seeds", "a,b"], "--seeds 'a,b': write whole numbers")])
def test_seeds_refuses_impossible_settings_before_any_run(tmp_path, monkeypatch, capsys, args, message):
    calls = stand_in(monkeypatch, seeds, lambda spec, env: pytest.fail("no run expected"))
    code, said = outcome(seeds.main, [*args, "--output", str(tmp_path / "x.json")], capsys)
    assert code in (1, 2) and message in said.err and not calls
    assert not (tmp_path / "x.json").exists()
