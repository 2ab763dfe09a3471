"""Run a worker for a framework in that framework's own environment.

MXNet lives in `.venv-mxnet` (numpy < 1.24), the other frameworks in the main
environment; the parity checks and the benchmark reach each of them the same
way: a fresh interpreter of the right environment runs `python -m <module>
--worker <json>`, and hands its result back as JSON in a file (arrays in .npz
files the spec names). The interpreter and its environment variables come from
the kernel spec `make setup` registered, so a notebook, a parity check and a
benchmark of one framework run in the very same environment.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from d2l_helpers import frameworks

REPO = frameworks.REPO


class WorkerError(RuntimeError):
    """A worker could not run or failed; the message says which and why."""


def interpreter(framework) -> tuple:
    """(python executable, extra environment variables) of the environment `framework` trains in here."""
    env = frameworks.environment_of(framework)
    if env.key == frameworks.MAIN.key:
        return sys.executable, dict(frameworks.KERNEL_ENV)
    problem = frameworks.problem(framework)
    if problem:
        raise WorkerError(problem)
    spec = json.loads(frameworks.kernel_spec_file(env).read_text())
    return spec["argv"][0], spec.get("env", {})


def run_worker(framework, module: str, spec: dict, timeout: float = 1800, env: dict | None = None,
               capture: bool = False) -> dict:
    """Run `python -m module --worker <spec>` in `framework`'s environment and return its result.

    The worker's own output (progress, library logs) goes where this process's goes: as it comes,
    or, with `capture` (for workers that run side by side), in one piece when the worker ends.
    """
    python, extra = interpreter(framework)
    with tempfile.TemporaryDirectory(prefix="d2l-worker-") as scratch:
        result = Path(scratch) / "result.json"
        command = [python, "-m", module, "--worker", json.dumps({**spec, "result": str(result)})]
        environment = {**os.environ, "MPLBACKEND": "Agg", **extra, **(env or {})}
        # The worker must import the repository's packages (tools, benchmarks), wherever it runs.
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), environment.get("PYTHONPATH")]))
        output = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) if capture else {}
        try:
            proc = subprocess.run(command, cwd=REPO, env=environment, timeout=timeout, **output)
        except subprocess.TimeoutExpired as err:
            if capture:
                _show(framework, module, err.output)
            raise WorkerError(f"{framework.name}: {module} did not finish within {timeout:.0f} s") from err
        if capture:
            _show(framework, module, proc.stdout)
        if proc.returncode != 0 or not result.is_file():
            raise WorkerError(f"{framework.name}: {module} failed with exit code {proc.returncode} "
                              "(its log is above)")
        return json.loads(result.read_text())


def _show(framework, module: str, output) -> None:
    # One block per worker, rather than the lines of two workers interleaved.
    if isinstance(output, bytes):
        output = output.decode(errors="replace")
    sys.stderr.write(f"--- {framework.name} ({module}) said:\n{output or ''}")
    sys.stderr.flush()


def finish_worker(spec: dict, result: dict) -> None:
    """Called by a worker: write its result where `run_worker` looks for it."""
    Path(spec["result"]).write_text(json.dumps(result))
