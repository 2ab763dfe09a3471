"""The bookkeeping of a training loop, so that each notebook's loop shows only the lesson.

    log = d2l.TrainingLog(record, steps_per_epoch=len(train_iter))
    for epoch in range(1, config.epochs + 1):
        log.begin_epoch(epoch)
        for X, y in d2l.progress(train_iter, f"epoch {epoch}"):
            loss, y_hat = train_step(X, y)
            log.step(float(loss), d2l.correct(y_hat, y), len(y))
        test_acc, labels, logits = evaluate(test_iter)
        log.end_epoch(test_acc)
"""
from __future__ import annotations

import time

from .metrics import Accumulator, ensure_finite
from .plotting import LivePlot

ROWS_PER_EPOCH = 20  # points per epoch in the run record's step history and on the live plot


class TrainingLog:
    """Running sums, the divergence check, the live plot and the run record's history."""

    def __init__(self, record, steps_per_epoch: int, log_every: int | None = None, plot: bool = True):
        self.record = record
        self.steps_per_epoch = steps_per_epoch
        self.log_every = log_every or max(1, steps_per_epoch // ROWS_PER_EPOCH)
        record.steps_per_epoch, record.log_every = steps_per_epoch, self.log_every
        self.plot = LivePlot(record.config["epochs"], title=f"AlexNet in {record.framework}") if plot else None
        self.step_count = 0
        self.epoch = 0

    def begin_epoch(self, epoch: int) -> None:
        """Reset the epoch's sums and start its clock."""
        self.epoch, self.epoch_step = epoch, 0
        self.totals = Accumulator(3)  # sum of losses, correct predictions, examples
        self.window = Accumulator(3)  # the same since the last logged row
        self.began = self.last = time.perf_counter()

    def step(self, loss: float, correct: int, examples: int) -> None:
        """Count one training step: its mean loss, correct predictions and batch size."""
        self.epoch_step += 1
        self.step_count += 1
        ensure_finite(loss, epoch=self.epoch, step=self.epoch_step, lr=self.record.config["lr"])
        self.totals.add(loss * examples, correct, examples)
        self.window.add(loss * examples, correct, examples)
        self.last = time.perf_counter()  # the loss was read on the host: the step is done
        if self.epoch_step % self.log_every == 0 or self.epoch_step == self.steps_per_epoch:
            loss_mean, acc = self.window[0] / self.window[2], self.window[1] / self.window[2]
            self.record.add_step(self.step_count, loss_mean, acc)
            if self.plot:
                self.plot.add(self.step_count / self.steps_per_epoch, train_loss=loss_mean, train_acc=acc)
            self.window.reset()

    def end_epoch(self, test_acc: float) -> dict:
        """Close the epoch (its clock stopped at its last step) and record it with `test_acc`."""
        seconds = self.last - self.began
        examples = self.totals[2]
        row = self.record.add_epoch(self.epoch, self.totals[0] / examples, self.totals[1] / examples,
                                    test_acc, seconds, examples / seconds if seconds > 0 else 0.0)
        if self.plot:
            self.plot.add(self.epoch, test_acc=test_acc)
        return row
