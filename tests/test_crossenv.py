"""Workers in a framework's environment: results, failures, and output kept in one piece."""
import textwrap

import pytest

from d2l_helpers import frameworks
from tools import crossenv

WORKER = textwrap.dedent("""
    import json, sys
    spec = json.loads(sys.argv[2])
    print("line one", flush=True)
    print("line two", file=sys.stderr)
    if spec.get("fail"):
        sys.exit(3)
    open(spec["result"], "w").write(json.dumps({"ok": True}))
""")


@pytest.fixture
def worker_module(tmp_path):
    (tmp_path / "chatty_worker.py").write_text(WORKER)
    return {"PYTHONPATH": str(tmp_path)}


def test_a_captured_worker_speaks_in_one_block(worker_module, capfd):
    main = frameworks.get("pytorch")  # the main environment: this interpreter
    result = crossenv.run_worker(main, "chatty_worker", {}, env=worker_module, capture=True)
    assert result == {"ok": True}
    assert "--- PyTorch (chatty_worker) said:\nline one\nline two\n" in capfd.readouterr().err


def test_a_failing_worker_is_named_and_its_output_shown(worker_module, capfd):
    with pytest.raises(crossenv.WorkerError, match="PyTorch: chatty_worker failed with exit code 3"):
        crossenv.run_worker(frameworks.get("pytorch"), "chatty_worker", {"fail": True},
                            env=worker_module, capture=True)
    assert "line two" in capfd.readouterr().err


FAULTS_WORKER = textwrap.dedent("""
    import ctypes, json, os, resource, sys
    spec = json.loads(sys.argv[2])
    libc, size = ctypes.CDLL(None), 64 << 20
    libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
    faults = []
    for _ in range(2):  # as two training steps do: a large block, touched, freed, and again
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        block = libc.malloc(size)
        ctypes.memset(block, 1, size)
        libc.free(block)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    open(spec["result"], "w").write(json.dumps({"faults": faults, "tunables": os.environ.get("GLIBC_TUNABLES")}))
""")


@pytest.mark.parametrize("key", frameworks.KEYS)
def test_workers_start_with_the_kernels_variables(key, tmp_path):
    fw = frameworks.get(key)
    if frameworks.problem(fw):
        pytest.skip(frameworks.problem(fw))
    (tmp_path / "faults_worker.py").write_text(FAULTS_WORKER)
    result = crossenv.run_worker(fw, "faults_worker", {}, env={"PYTHONPATH": str(tmp_path)}, capture=True)
    assert result["tunables"] == frameworks.KERNEL_ENV["GLIBC_TUNABLES"]


def test_the_kernels_variables_keep_freed_memory_for_the_next_step(tmp_path):
    (tmp_path / "faults_worker.py").write_text(FAULTS_WORKER)
    main = frameworks.get("pytorch")
    run = lambda extra: crossenv.run_worker(main, "faults_worker", {}, capture=True,
                                            env={"PYTHONPATH": str(tmp_path), **extra})["faults"]
    ours, defaults = run({}), run({"GLIBC_TUNABLES": ""})
    pages = (64 << 20) >> 12
    assert defaults[1] >= pages  # glibc's default: the block went back to the OS, every page faults again
    assert ours[1] < pages // 100, (ours, defaults)  # ours: the second block reuses the first's memory
