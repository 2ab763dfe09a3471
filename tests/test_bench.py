"""`python -m benchmarks.bench --quick` runs end to end and writes a complete report.

Speed is never asserted (it depends on the machine and on what else runs): only that
every figure is there and positive.
"""
import json
import subprocess
import sys

from conftest import REPO

# Forward multiply-accumulates of one 68×68 example, layer by layer: conv outputs of
# 15×15, 7×7 and 3×3 (the layer summary of the smoke preset), then 256 flattened features.
MACS_68 = (96 * 15 * 15 * 1 * 11 * 11
           + 256 * 7 * 7 * 96 * 5 * 5
           + 384 * 3 * 3 * 256 * 3 * 3
           + 384 * 3 * 3 * 384 * 3 * 3
           + 256 * 3 * 3 * 384 * 3 * 3
           + 256 * 4096 + 4096 * 4096 + 4096 * 10)


def test_quick_run_writes_a_complete_report(tmp_path):
    # The d2l 1.0.3 reference is included: an outside package fed local data is the part
    # most likely to break. Its first run on a machine installs it from PyPI into the user
    # cache (~20 s); later runs reuse it. The whole test takes about 30-60 s on two cores.
    output = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--quick", "--frameworks", "pytorch",
         "--output", str(output)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]

    doc = json.loads(output.read_text())
    assert doc["device"] in ("cpu", "gpu")
    assert doc["machine"]["cores"] >= 1 and doc["machine"]["python"].startswith("3.11")
    assert doc["settings"]["quick"] and doc["settings"]["d2l_reference"]
    assert doc["model"]["forward_macs_per_example"] == MACS_68
    assert doc["model"]["training_flops_per_example"] == 6 * MACS_68
    assert doc["matmul"]["gflops"] > 0

    assert list(doc["frameworks"]) == ["pytorch"]
    result = doc["frameworks"]["pytorch"]
    assert len(result["train"]["runs"]) == doc["settings"]["repeats"]
    for figure in (result["train"]["examples_per_s"], *result["train"]["runs"],
                   result["eval"]["examples_per_s"], result["gflops"], result["fraction_of_matmul"],
                   result["d2l"]["train"]["examples_per_s"], result["ratio_to_d2l"]):
        assert figure > 0
    assert result["d2l"]["version"] == "1.0.3"

    table = output.with_suffix(".md").read_text()
    assert "| pytorch |" in table and "| pytorch |" in proc.stdout
