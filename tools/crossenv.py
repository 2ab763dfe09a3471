"""Run a worker for a framework in that framework's own environment.

MXNet lives in `.venv-mxnet` (numpy < 1.24), the other frameworks in the main
environment; the parity checks, the GPU run and the benchmark reach each of them
the same way. A one-shot worker (`run_worker`): a fresh interpreter of the right
environment runs `python -m <module> --worker <json>`, and hands its result back
as JSON in a file (arrays in .npz files the spec names). A long-lived worker
(`Worker`): `python -m <module> <json>` answers one JSON line per request, so a
parent can alternate several of them window by window. The interpreter and its
environment variables come from the kernel spec `make setup` registered, so a
notebook, a parity check and a benchmark of one framework run in the very same
environment.
"""
from __future__ import annotations

import json
import os
import select
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
        environment = _environment({**extra, **(env or {})})
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


def _environment(extra: dict) -> dict:
    environment = {**os.environ, "MPLBACKEND": "Agg", **extra}
    # The worker must import the repository's packages (tools, benchmarks), wherever it runs.
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), environment.get("PYTHONPATH")]))
    return environment


def _show(framework, module: str, output) -> None:
    # One block per worker, rather than the lines of two workers interleaved.
    if isinstance(output, bytes):
        output = output.decode(errors="replace")
    sys.stderr.write(f"--- {framework.name} ({module}) said:\n{output or ''}")
    sys.stderr.flush()


def finish_worker(spec: dict, result: dict) -> None:
    """Called by a worker: write its result where `run_worker` looks for it."""
    Path(spec["result"]).write_text(json.dumps(result))


class Worker:
    """A long-lived worker: `python -m <module> <spec>` in `framework`'s environment, which prints one
    JSON line when ready (`{"ready": info}`) and then answers each request line with one JSON line.
    `ask(window=3)` sends a request and returns the answer; `info` is what it said when ready."""

    def __init__(self, framework, module: str, spec: dict, label: str, timeout: float = 1800,
                 env: dict | None = None):
        python, extra = interpreter(framework)
        self.label, self.timeout = label, timeout
        print(f"--- starting {label}", file=sys.stderr, flush=True)
        self.process = subprocess.Popen([python, "-m", module, json.dumps(spec)], cwd=REPO,
                                        env=_environment({**extra, **(env or {})}),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = self._read()["ready"]

    def _read(self) -> dict:
        ready, _, _ = select.select([self.process.stdout], [], [], self.timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            try:
                code = self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise WorkerError(f"{self.label} answered nothing within {self.timeout:.0f} s") from None
            raise WorkerError(f"{self.label} failed with exit code {code} (its log is above)")
        return json.loads(line)

    def ask(self, **request) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"quit": True}) + "\n")
                self.process.stdin.close()
                self.process.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()


def rate(answer: dict) -> float:
    """Examples (or, for a matmul, MFLOP) per second of a worker's answer `{"examples", "seconds"}`."""
    return answer["examples"] / answer["seconds"]
