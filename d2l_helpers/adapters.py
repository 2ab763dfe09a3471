"""What every framework adapter provides, and the functions the four share.

An adapter, `d2l_helpers/<module>.py` (the registry names it), imports its own
framework and nothing else, re-exports the neutral helpers, and defines in its
framework's terms:

    FRAMEWORK, VERSION        the name readers see, and the framework's version
    device_choice()           the GPU it can use, else the CPU with the reason (a devices.Choice)
    Batches                   a data.BatchStream whose batches are tensors on the chosen device
    numpy(x)                  a tensor as a numpy array on the host
    correct(logits, labels)   how many predictions of a batch are right
    set_weights, get_weights  the shared initial weights (d2l.initial_weights) in and out
    synchronize(net)          return once every update queued for `net` has run (benchmark timing)
    set_dropout(net, rate)    the parity checks run the notebooks' steps with dropout off
    next_learning_rate(ns)    the rate the next step of a notebook's optimiser uses (parity checks)
    matmul(n)                 in the main environment: one n×n float32 product, for the benchmark

and binds the four functions below, which are the same for every framework, with `shared`.
Tools and benchmarks call these names only, so a new framework is one adapter, one registry
row and one notebook (tests/test_frameworks.py checks that every adapter defines them).
"""
from __future__ import annotations

from . import devices, metrics

# What an adapter defines itself; `matmul` only where the benchmark's matmul worker runs (MAIN).
OWN = ("FRAMEWORK", "VERSION", "device_choice", "Batches", "numpy", "correct", "set_weights", "get_weights",
       "synchronize", "set_dropout", "next_learning_rate")
MAIN_ONLY = ("matmul",)
SHARED = ("has_gpu", "try_gpu", "loaders", "predict_all")


def shared(framework: str, device_choice, device_of, batches, numpy) -> tuple:
    """(has_gpu, try_gpu, loaders, predict_all) for an adapter, built on its own parts:
    `device_choice()` decides, `device_of(choice)` is the framework's device object for that
    choice, `batches` its BatchStream class and `numpy` its tensor-to-array function."""

    def has_gpu() -> bool:
        """Whether the framework trains on a GPU here."""
        return device_choice().gpu is not None

    def try_gpu():
        """The chosen device, in the framework's own form; says which, and why not a GPU if not."""
        choice = device_choice()
        print(choice.line(framework))
        print(devices.settings_line())
        return device_of(choice)

    def loaders(dataset, config, device):
        """Train (shuffled, seeded) and test batches for `config`, on `device`."""
        return batches.for_config(dataset, config, device)

    def predict_all(predict, data_iter) -> tuple:
        """(labels, logits) of every example of `data_iter` as numpy arrays, `predict` giving the logits."""
        return metrics.predict_all(predict, data_iter, numpy)

    return has_gpu, try_gpu, loaders, predict_all
