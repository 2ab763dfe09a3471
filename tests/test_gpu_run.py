"""`make gpu-run`'s script, on the CPU with a tiny setting: records, summary, skips with reasons."""
import json
import subprocess
import sys

import pytest
from conftest import REPO

from d2l_helpers import frameworks
from d2l_helpers.results import load_record

pytestmark = pytest.mark.slow


def test_one_call_runs_each_framework_and_writes_records_and_summary(tmp_path):
    output, records = tmp_path / "results-gpu.json", tmp_path / "records"
    proc = subprocess.run([sys.executable, "-m", "tools.gpu_run", "--preset", "smoke", "--frameworks", "pytorch,mxnet",
                           "--results-dir", str(records), "--output", str(output)],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads(output.read_text())
    assert doc["preset"] == "smoke" and doc["command"].startswith("python -m tools.gpu_run --preset smoke")
    run = doc["frameworks"]["pytorch"]
    record = load_record(records / "alexnet-pytorch.json")
    assert record.config["preset"] == "smoke" and run["test_acc"] == record.final["test_acc"]
    assert len(run["epoch_seconds"]) == 1 and run["examples_per_s"] > 0
    assert "no d2l 1.0.3 here" in run["d2l"]["skipped"]  # no --d2l-dir: said, not silently left out
    mxnet = frameworks.get("mxnet")
    if frameworks.problem(mxnet):
        assert doc["skipped"]["mxnet"] == frameworks.problem(mxnet)
    else:
        assert (records / mxnet.record).is_file()
    assert "PyTorch: test accuracy" in proc.stderr
