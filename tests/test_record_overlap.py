"""A GPU build owns each file once: the RECORD check on made-up distributions, and its committed
report on every environment a GPU setup builds (tools/check_gpu_envs.sh)."""
import re

from conftest import REPO

from d2l_helpers import frameworks
from tools import record_overlap
from tools import setup as setup_tool

REPORT = REPO / "benchmarks" / "gpu-envs-records.txt"


def dist(site, name, *files):
    """A made-up installed distribution: its RECORD lists `files`, (path, content) pairs."""
    info = site / f"{name}.dist-info"
    info.mkdir(parents=True)
    rows = [f"{path},sha256={content},{len(content)}" for path, content in files] + [f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(rows) + "\n")


def test_a_file_two_records_write_differently_is_found_and_fails_the_check(tmp_path, capsys):
    site = tmp_path / "site-packages"
    dist(site, "nvidia_cudnn_cu12-9.28.0.42", ("nvidia/cudnn/lib/libcudnn.so.9", "cuda12"),
         ("nvidia/cudnn/include/cudnn.h", "h12"), ("nvidia/__init__.py", "empty"))
    dist(site, "nvidia_cudnn_cu13-9.24.0.43", ("nvidia/cudnn/lib/libcudnn.so.9", "cuda13"),
         ("nvidia/./cudnn/include/cudnn.h", "h13"), ("nvidia/__init__.py", "empty"))
    dist(site, "numpy-2.5.5", ("numpy/__init__.py", "np"))
    assert [name for name, _ in record_overlap.owners(site)["nvidia/cudnn/lib/libcudnn.so.9"]] == [
        "nvidia_cudnn_cu12 9.28.0.42", "nvidia_cudnn_cu13 9.24.0.43"]
    assert record_overlap.main([str(site), "--label", "two cuDNNs"]) == 1
    said = capsys.readouterr().out
    assert said == ("== two cuDNNs: 3 distributions, 7 files\n"
                    "2 files owned by two distributions with different contents\n"
                    "  nvidia_cudnn_cu12 9.28.0.42, nvidia_cudnn_cu13 9.24.0.43: 2 files, e.g. "
                    "nvidia/cudnn/include/cudnn.h, nvidia/cudnn/lib/libcudnn.so.9\n"
                    "1 files owned by two distributions with the same contents\n"
                    "  nvidia_cudnn_cu12 9.28.0.42, nvidia_cudnn_cu13 9.24.0.43: 1 files, e.g. nvidia/__init__.py\n")


def test_files_owned_once_or_with_the_same_bytes_pass(tmp_path, capsys):
    site = tmp_path / "site-packages"
    dist(site, "nvidia_cublas_cu11-11.11.3.6", ("nvidia/cublas/lib/libcublas.so.11", "a"), ("nvidia/__init__.py", "e"))
    dist(site, "nvidia_cudnn_cu11-8.9.6.50", ("nvidia/cudnn/lib/libcudnn.so.8", "b"), ("nvidia/__init__.py", "e"))
    assert record_overlap.main([str(site), "--label", "CUDA 11"]) == 0
    assert "\n0 files owned by two distributions with different contents\n" in capsys.readouterr().out


def sections(text):
    """{label: files two distributions write differently} of the report's sections."""
    found = re.findall(r"^== (.+?): \d+ distributions, [\d,]+ files\n(\d+) files owned by two distributions "
                       r"with different contents", text, re.M)
    return {label: int(count) for label, count in found}


def test_every_gpu_environment_owns_each_file_once():
    """The committed output of tools/check_gpu_envs.sh, for the lock files as they are now."""
    found = sections(REPORT.read_text())
    for env in frameworks.ENVIRONMENTS.values():
        label = record_overlap.lock_label(setup_tool.lock_file(env, gpu=True))
        assert label in found, f"{REPORT.name} lacks {label}: run tools/check_gpu_envs.sh > {REPORT.name}"
        assert found[label] == 0, f"{label}: two distributions write {found[label]} files differently ({REPORT.name})"
    controls = [count for label, count in found.items() if label.startswith("control")]
    assert controls and all(controls), "the control (CUDA 12 beside CUDA 13) must share files"
