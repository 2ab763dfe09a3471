"""The two-run comparison of `python -m benchmarks.report` on made-up results: fast, no framework."""
import json
import subprocess
import sys

import pytest
from conftest import REPO

from benchmarks.report import two_runs


def _s(median, low=None, high=None):
    return {"median": median, "min": median if low is None else low, "max": median if high is None else high, "n": 5}


def _run(ratio, share, best=None, low=None, quick=False):
    r = {"ours_examples_per_s": _s(30.0), "d2l default examples_per_s": _s(30.0 / ratio),
         "ratio to d2l default": _s(ratio, low), "share_of_matmul": _s(share),
         "d2l": {"default_loader": "4 workers", "best_loader": "2 workers" if best else "4 workers"},
         "pairs": [{"matmul_gflops": 200.0}] * 5}
    if best:
        r.update({"ratio to d2l best": _s(best), "d2l best examples_per_s": _s(30.0 / best)})
    return {"settings": {"pairs": 5, "quick": quick}, "machine": {"cpu_id": "family 6, model 167; AVX-512"},
            "model": {"training_flops_per_example": 5.56e9}, "frameworks": {"pytorch": r}}


def _row(text, first_cell):
    return next(line for line in text.splitlines()[::-1] if line.startswith(f"| {first_cell} |"))


def test_every_median_must_repeat_within_ten_percent():
    row = _row(two_runs(_run(1.20, 0.80), _run(1.31, 0.79)), "PyTorch")
    assert "1.20× → 1.31× (+9.2%)" in row and "80% → 79% (-1.2%)" in row and "| yes |" in row
    assert row.endswith("| none — none |")
    # d2l's best loader counts as a figure of its own, and it alone can break the agreement
    row = _row(two_runs(_run(1.20, 0.80, best=1.30), _run(1.21, 0.80, best=1.10)), "PyTorch")
    assert "1.30× → 1.10× (-15.4%)" in row and "| no |" in row


def test_targets_missed_are_named_per_run():
    # 1.098× and 74.6% show as 1.10× and 75% in the tables: the missed figures carry one more digit.
    text = two_runs(_run(1.098, 0.746, low=0.98), _run(1.20, 0.76, best=1.08))
    assert _row(text, "PyTorch").endswith(
        "| median 1.098×; a pair at 0.980×; share 74.6% — median 1.080× (d2l best) |")
    assert "| 2 workers: 1.08× (1.08–1.08) |" in text
    assert "Fastest matmul per pair, median: 200 GFLOP/s and 200 GFLOP/s in runs 1 and 2 (+0%)." in text


def test_runs_of_different_settings_are_refused(tmp_path):
    other_cpu = _run(1.2, 0.8)
    other_cpu["machine"]["cpu_id"] = "family 23, model 1; AVX2"
    with pytest.raises(ValueError, match="differ in their CPU"):
        two_runs(_run(1.2, 0.8), other_cpu)
    with pytest.raises(ValueError, match="not a measurement"):
        two_runs(_run(1.2, 0.8, quick=True), _run(1.2, 0.8, quick=True))
    first, second = tmp_path / "1.json", tmp_path / "2.json"
    first.write_text(json.dumps(_run(1.2, 0.8)))
    second.write_text(json.dumps(other_cpu))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.report", str(first), str(second)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "error: the two runs differ in their CPU" in proc.stderr and not proc.stdout
