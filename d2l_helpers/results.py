"""Run records: one JSON file per training run, written by the notebooks, read by `compare`."""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import frameworks

SCHEMA = 2
BENCH_SCHEMA = 3  # benchmarks/results-*.json: paired windows, medians with min-max, each library's matmul
EPOCH_KEYS = ("epoch", "train_loss", "train_acc", "test_acc", "seconds", "examples_per_sec")
# One row every `log_every` steps: the step count so far and the mean loss and accuracy over
# the examples of those steps (not over the whole epoch), so that curves show the present.
STEP_KEYS = ("step", "loss", "acc")


@dataclass
class RunRecord:
    """What one run did: who trained, where, with which settings, and how it went."""

    framework: str
    framework_version: str
    device: str
    config: dict
    device_note: str = ""  # why the CPU, when a GPU was there or none was found
    parameters: int = 0
    layer_shapes: list = field(default_factory=list)
    initial_loss: float | None = None  # first training batch, dropout off, before any update
    steps_per_epoch: int = 0
    log_every: int = 0
    steps: list = field(default_factory=list)
    history: list = field(default_factory=list)
    final: dict = field(default_factory=dict)
    python: str = field(default_factory=platform.python_version)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    schema: int = SCHEMA

    @classmethod
    def start(cls, framework: str, version: str, choice, config, **fields) -> RunRecord:
        """A record for a run of `framework` on the device `choice` (a `devices.Choice`)."""
        return cls(framework, version, choice.name, config.as_dict(), device_note=choice.reason, **fields)

    @property
    def key(self) -> str:
        """The registry's key of the framework ("pytorch")."""
        return frameworks.get(self.framework).key

    def add_step(self, step: int, loss: float, acc: float) -> dict:
        row = dict(zip(STEP_KEYS, (int(step), float(loss), float(acc))))
        self.steps.append(row)
        return row

    def add_epoch(self, epoch: int, train_loss: float, train_acc: float, test_acc: float,
                  seconds: float, examples_per_sec: float) -> dict:
        """Append one epoch's figures (floats, so the JSON stays plain)."""
        row = dict(zip(EPOCH_KEYS, (int(epoch), float(train_loss), float(train_acc),
                                    float(test_acc), float(seconds), float(examples_per_sec))))
        self.history.append(row)
        return row

    def finish(self) -> dict:
        """Set `final` from the last epoch plus the total training time, and return it."""
        if not self.history:
            raise ValueError("no epoch recorded: nothing to finish")
        last = self.history[-1]
        seconds = sum(h["seconds"] for h in self.history)
        examples = sum(h["seconds"] * h["examples_per_sec"] for h in self.history)
        self.final = {"train_loss": last["train_loss"], "train_acc": last["train_acc"],
                      "test_acc": last["test_acc"], "train_seconds": seconds,
                      "examples_per_sec": examples / seconds if seconds > 0 else 0.0}
        return self.final

    def summary(self) -> str:
        """The one line a notebook prints after training."""
        f = self.final
        return (f"{self.framework}: loss {f['train_loss']:.3f}, train acc {f['train_acc']:.3f}, "
                f"test acc {f['test_acc']:.3f}, {f['examples_per_sec']:.1f} examples/sec on "
                f"{self.device} (preset {self.config.get('preset')}, {f['train_seconds']:.0f} s)")

    def save(self, results_dir) -> Path:
        """Write `results_dir/alexnet-<key>.json` atomically and return its path."""
        folder = Path(results_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / frameworks.get(self.framework).record
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(self), out, indent=1)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a record is meant to be shared
        os.replace(tmp, path)
        return path


def load_record(path) -> RunRecord:
    """Read a run record, rejecting files that are not one."""
    try:
        raw = json.loads(Path(path).read_text())
        if raw.get("schema") != SCHEMA:
            raise ValueError(f"it uses record schema {raw.get('schema')}, this code reads {SCHEMA}: "
                             "run its notebook again")
        record = RunRecord(**raw)
    except (OSError, ValueError, TypeError, AttributeError) as err:
        raise ValueError(f"{path} is not a readable run record: {err}") from err
    for rows, keys, what in ((record.history, EPOCH_KEYS, "an epoch"), (record.steps, STEP_KEYS, "a step")):
        for row in rows:
            missing = set(keys) - set(row)
            if missing:
                raise ValueError(f"{path}: {what} lacks {sorted(missing)}")
    return record
