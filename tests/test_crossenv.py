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
