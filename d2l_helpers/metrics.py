"""Running sums, timing and the divergence check shared by every training loop."""
from __future__ import annotations

import math
import sys
import time

import numpy as np


class Timer:
    """Accumulates wall-clock intervals between `start()` and `stop()`."""

    def __init__(self):
        self.times: list[float] = []
        self._begin: float | None = None

    def start(self) -> "Timer":
        self._begin = time.perf_counter()
        return self

    def stop(self) -> float:
        """End the current interval and return its length in seconds."""
        if self._begin is None:
            raise RuntimeError("Timer.stop() called before start()")
        self.times.append(time.perf_counter() - self._begin)
        self._begin = None
        return self.times[-1]

    def sum(self) -> float:
        return sum(self.times)

    def avg(self) -> float:
        return self.sum() / len(self.times) if self.times else 0.0

    def examples_per_sec(self, num_examples: int) -> float:
        """Throughput over all recorded intervals."""
        total = self.sum()
        return num_examples / total if total > 0 else 0.0


class Accumulator:
    """Running sums of `n` quantities, e.g. (loss sum, correct count, examples)."""

    def __init__(self, n: int):
        self.data = [0.0] * n

    def add(self, *values) -> None:
        if len(values) != len(self.data):
            raise ValueError(f"expected {len(self.data)} values, got {len(values)}")
        self.data = [a + float(b) for a, b in zip(self.data, values)]

    def reset(self) -> None:
        self.data = [0.0] * len(self.data)

    def __getitem__(self, i: int) -> float:
        return self.data[i]


def count_correct(logits: np.ndarray, labels: np.ndarray) -> int:
    """How many rows of `logits` have their largest entry at the true label."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    if logits.ndim != 2 or len(logits) != len(labels):
        raise ValueError(f"logits {logits.shape} and labels {labels.shape} do not match")
    return int((logits.argmax(axis=1) == labels.reshape(-1)).sum())


class TrainingDiverged(FloatingPointError):
    """The loss stopped being a finite number."""


def ensure_finite(loss: float, *, epoch: int, step: int, lr: float) -> None:
    """Stop training with advice when the loss is NaN or infinite."""
    if not math.isfinite(loss):
        raise TrainingDiverged(
            f"the loss became {loss} at epoch {epoch}, step {step}: training diverged. "
            f"Try a smaller learning rate (now lr={lr}, e.g. lr={lr / 10:g}) and check the inputs "
            "are normalised.")


def progress(iterable, desc: str):
    """A text progress bar over `iterable`, on stdout so saved notebooks show it as plain output."""
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, file=sys.stdout, mininterval=1.0, ascii=False, leave=True)
