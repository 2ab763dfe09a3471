"""The bookkeeping of a training loop, so that each notebook's loop shows only the lesson.

    log = d2l.TrainingLog(record, steps_per_epoch=len(train_iter))
    for epoch in range(1, config.epochs + 1):
        log.begin_epoch(epoch)
        for X, y in d2l.progress(train_iter, f"epoch {epoch}"):
            loss, y_hat = train_step(X, y)
            log.step(loss, d2l.correct(y_hat, y), len(y))
        test_acc, labels, logits = evaluate(test_iter)
        log.end_epoch(test_acc)

The loss and the count of correct predictions may be the framework's scalars on the
device: the log adds them up there with `+` and reads the sums on the host about once a
second and after an epoch's last step. Between two reads nothing waits for
the device, so a GPU is never idle while Python prepares the next step.
"""
from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .metrics import ensure_finite
from .plotting import LivePlot

LOG_EVERY = 5  # steps per row of the run record's history and point of the live plot: curves at nearly every step
READ_EVERY = 1.0  # seconds between two reads of the running sums (and two redraws of the plot)
PLAIN_PROGRESS_EVERY = 10.0  # seconds between two lines of the progress display without tqdm


def _host(value) -> float:
    """A Python number or a framework's scalar as a float (MXNet's NDArray reads with asscalar)."""
    return float(value.asscalar() if hasattr(value, "asscalar") else value)


class OutOfTime(RuntimeError):
    """An unattended run reached its deadline; its record holds the epochs it finished."""


@dataclass(frozen=True)
class Unattended:
    """How a tool that runs a notebook's loop without a reader (tools.gpu_run) wants it run."""

    results_dir: Path  # the run record is saved there after every epoch
    deadline: float | None = None  # time.perf_counter() by which training must have stopped


_unattended: Unattended | None = None


@contextlib.contextmanager
def unattended(results_dir, deadline: float | None = None):
    """Within this block, a training loop saves its record after every epoch, prints one line per
    epoch instead of a progress bar, and stops with `OutOfTime` rather than pass `deadline`
    (an epoch that would not finish by then is not started)."""
    global _unattended
    saved, _unattended = _unattended, Unattended(Path(results_dir), deadline)
    try:
        yield _unattended
    finally:
        _unattended = saved


class TrainingLog:
    """Running sums, the divergence check, the live plot and the run record's history."""

    def __init__(self, record, steps_per_epoch: int, log_every: int | None = None, plot: bool = True,
                 read_every: float = READ_EVERY):
        self.record = record
        self.steps_per_epoch = steps_per_epoch
        self.log_every = log_every or LOG_EVERY
        self.read_every = read_every
        record.steps_per_epoch, record.log_every = steps_per_epoch, self.log_every
        self.plot = (LivePlot(record.config["epochs"], title=f"AlexNet in {record.framework}",
                              interval=read_every) if plot else None)
        self.unattended = _unattended
        self.step_count = 0
        self.epoch = 0

    def begin_epoch(self, epoch: int) -> None:
        """Reset the epoch's sums and start its clock."""
        self.epoch, self.epoch_step = epoch, 0
        self.window = [0, 0, 0]  # sums of loss × examples, correct predictions, examples since the last row
        self.unread = []  # rows whose sums are still where the framework computed them
        self.totals = [0.0, 0, 0]  # the epoch's sums, as read so far
        self.began = self.last_read = self.last_step_done = time.perf_counter()

    def step(self, loss, correct, examples: int) -> None:
        """Count one training step: its mean loss and correct predictions (Python numbers or the
        framework's scalars) and its batch size."""
        self.epoch_step += 1
        self.step_count += 1
        window = self.window
        window[0] = window[0] + loss * examples
        window[1] = window[1] + correct
        window[2] += examples
        last = self.epoch_step == self.steps_per_epoch
        if self.epoch_step % self.log_every == 0 or last:
            self.unread.append((self.step_count, self.epoch_step, *window))
            self.window = [0, 0, 0]
        if last or time.perf_counter() - self.last_read >= self.read_every:
            self._read()
            if last:
                self.last_step_done = self.last_read  # the read waited for the step: the epoch's clock stops

    def _read(self) -> None:
        """Bring the sums to the host: record and plot the finished rows, check that the loss is
        finite (in the open row too), and stop an unattended run at its deadline."""
        lr = self.record.config["lr"]
        for step, epoch_step, loss_sum, correct, examples in self.unread:
            loss_sum, correct = _host(loss_sum), _host(correct)
            loss = loss_sum / examples
            ensure_finite(loss, epoch=self.epoch, step=epoch_step, lr=lr)
            self.totals = [self.totals[0] + loss_sum, self.totals[1] + correct, self.totals[2] + examples]
            self.record.add_step(step, loss, correct / examples)
            if self.plot:
                self.plot.add(step / self.steps_per_epoch, train_loss=loss, train_acc=correct / examples)
        self.unread = []
        if self.window[2]:
            ensure_finite(_host(self.window[0]), epoch=self.epoch, step=self.epoch_step, lr=lr)
        self.last_read = time.perf_counter()
        if self.plot:
            self.plot.update()
        deadline = self.unattended and self.unattended.deadline
        if deadline and self.last_read > deadline:
            raise OutOfTime(f"{self.record.framework}: stopped at step {self.epoch_step} of "
                            f"{self.steps_per_epoch} in epoch {self.epoch}, at the time budget's end")

    def end_epoch(self, test_acc: float) -> dict:
        """Close the epoch (its clock stopped at its last step) and record it with `test_acc`."""
        if self.window[2]:  # fewer steps than steps_per_epoch: the open row closes here
            self.unread.append((self.step_count, self.epoch_step, *self.window))
            self.window = [0, 0, 0]
        if self.unread:
            self._read()
            self.last_step_done = self.last_read
        seconds = self.last_step_done - self.began
        loss_sum, correct, examples = self.totals
        row = self.record.add_epoch(self.epoch, loss_sum / examples, correct / examples, test_acc, seconds,
                                    examples / seconds if seconds > 0 else 0.0)
        if self.plot:
            self.plot.add(self.epoch, test_acc=test_acc)
            self.plot.update(final=True)
        if self.unattended:
            self._report(row)
        return row

    def _report(self, row: dict) -> None:
        """Unattended: save the record, say the epoch in one line, and stop before an epoch that
        would end past the deadline."""
        record, epochs = self.record, self.record.config["epochs"]
        record.finish()
        record.save(self.unattended.results_dir)
        print(f"{record.framework} {record.config.get('precision', 'float32')} epoch {row['epoch']}/{epochs}: "
              f"loss {row['train_loss']:.3f}, train acc {row['train_acc']:.3f}, test acc {row['test_acc']:.3f}, "
              f"{row['seconds']:.1f} s, {row['examples_per_sec']:,.0f} examples/s", file=sys.stderr, flush=True)
        now, deadline = time.perf_counter(), self.unattended.deadline
        if deadline and self.epoch < epochs and now + (now - self.began) > deadline:
            raise OutOfTime(f"{record.framework}: stopped after epoch {self.epoch} of {epochs}: another "
                            f"would end after the time budget")


def progress(iterable, desc: str):
    """A progress bar over `iterable` on stdout, so saved notebooks show it as plain output.

    tqdm's, redrawn at most once a second; without tqdm, a plain line every ten seconds
    and one at the end. Unattended (tools.gpu_run), none: the log prints a line per epoch.
    """
    if _unattended is not None:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return _plain_progress(iterable, desc)
    return tqdm(iterable, desc=desc, file=sys.stdout, mininterval=READ_EVERY, ascii=False, leave=True)


def _plain_progress(iterable, desc: str):
    total = len(iterable) if hasattr(iterable, "__len__") else "?"
    begin = last = time.perf_counter()
    done = 0
    for done, item in enumerate(iterable, 1):
        yield item
        now = time.perf_counter()
        if now - last >= PLAIN_PROGRESS_EVERY:
            print(f"{desc}: {done}/{total} batches, {now - begin:.0f} s", flush=True)
            last = now
    print(f"{desc}: {done}/{total} batches in {time.perf_counter() - begin:.0f} s", flush=True)
