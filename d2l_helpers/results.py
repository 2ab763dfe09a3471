"""Run records: one JSON file per training run, written by the notebooks, read by `compare`."""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

SCHEMA = 1
HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "test_acc", "seconds", "examples_per_sec")


@dataclass
class RunRecord:
    """What one run did: who trained, where, with which settings, and how it went per epoch."""

    framework: str
    framework_version: str
    device: str
    config: dict
    parameters: int = 0
    layer_shapes: list = field(default_factory=list)
    history: list = field(default_factory=list)
    final: dict = field(default_factory=dict)
    python: str = field(default_factory=platform.python_version)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    schema: int = SCHEMA

    def add_epoch(self, epoch: int, train_loss: float, train_acc: float, test_acc: float,
                  seconds: float, examples_per_sec: float) -> dict:
        """Append one epoch's figures (floats, so the JSON stays plain)."""
        row = dict(zip(HISTORY_KEYS, (int(epoch), float(train_loss), float(train_acc),
                                      float(test_acc), float(seconds), float(examples_per_sec))))
        self.history.append(row)
        return row

    def finish(self) -> dict:
        """Set `final` from the last epoch plus the total training time, and return it."""
        if not self.history:
            raise ValueError("no epoch recorded: nothing to finish")
        last = self.history[-1]
        seconds = sum(h["seconds"] for h in self.history)
        self.final = {"train_loss": last["train_loss"], "train_acc": last["train_acc"],
                      "test_acc": last["test_acc"], "train_seconds": seconds,
                      "examples_per_sec": sum(h["examples_per_sec"] for h in self.history) / len(self.history)}
        return self.final

    def summary(self) -> str:
        """The one line a notebook prints after training."""
        f = self.final
        return (f"{self.framework}: loss {f['train_loss']:.3f}, train acc {f['train_acc']:.3f}, "
                f"test acc {f['test_acc']:.3f}, {f['examples_per_sec']:.1f} examples/sec on "
                f"{self.device} (preset {self.config.get('preset')}, {f['train_seconds']:.0f} s)")

    def save(self, results_dir) -> Path:
        """Write `results_dir/alexnet-<framework>.json` atomically and return its path."""
        folder = Path(results_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"alexnet-{self.framework.lower()}.json"
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(self), out, indent=2)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a record is meant to be shared
        os.replace(tmp, path)
        return path


def load_record(path) -> RunRecord:
    """Read a run record, rejecting files that are not one."""
    try:
        raw = json.loads(Path(path).read_text())
        record = RunRecord(**raw)
    except (OSError, ValueError, TypeError) as err:
        raise ValueError(f"{path} is not a readable run record: {err}") from err
    if record.schema != SCHEMA:
        raise ValueError(f"{path} uses record schema {record.schema}, this code reads {SCHEMA}")
    for row in record.history:
        missing = set(HISTORY_KEYS) - set(row)
        if missing:
            raise ValueError(f"{path}: an epoch lacks {sorted(missing)}")
    return record
