"""Timing a training window, and summarising repeated measurements.

Every workload — a notebook's own cells, d2l's reference code, a matmul — is timed
the same way: wall clock from fetching a window's first batch until the device
has finished its last update, so the data pipeline and every step count in full.
"""
from __future__ import annotations

import statistics
import time


class BenchmarkError(RuntimeError):
    """A worker failed or a setting is impossible; the message says which and why."""


class Feed:
    """Batches from a loader, epoch after epoch, counting the examples handed out.

    A new iterator is started when one runs out; the benchmark sizes its data so that
    no timed window crosses an epoch boundary (a new epoch restarts loader workers).
    """

    def __init__(self, loader):
        self.loader = loader
        self._batches = iter(loader)
        self.epochs = 0

    def take(self, count: int):
        """Yield the next `count` batches."""
        for _ in range(count):
            batch = next(self._batches, None)
            if batch is None:
                self.epochs += 1
                self._batches = iter(self.loader)
                batch = next(self._batches)
            yield batch


def examples_in(batch) -> int:
    """The batch size, read from the labels (the last element of a batch)."""
    return int(batch[-1].shape[0])


def time_window(train, batches, sync) -> dict:
    """Run `train(batches)` (an iterable the workload consumes), wait for the device, and return
    {"examples": n, "seconds": s}; `batches` must count what it hands out in `.examples`."""
    begin = time.perf_counter()
    train(batches)
    sync()
    return {"examples": batches.examples, "seconds": time.perf_counter() - begin}


class Counted:
    """An iterable over `count` batches of a Feed that counts the examples it yields."""

    def __init__(self, feed: Feed, count: int):
        self.feed, self.count, self.examples = feed, count, 0

    def __iter__(self):
        for batch in self.feed.take(self.count):
            self.examples += examples_in(batch)
            yield batch


def summary(values: list) -> dict:
    """Median, minimum and maximum of repeated measurements."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}
