"""Helpers shared by the AlexNet notebooks in MXNet, PyTorch and TensorFlow.

The package itself is framework-neutral (numpy and matplotlib only). Each
notebook imports its framework's adapter, which re-exports everything here:

    from d2l_helpers import torch as d2l       # or tensorflow, mxnet
"""
from .architecture import ALEXNET, feature_map_sizes, output_shapes, parameter_count, smallest_resize
from .config import PRESETS, Config, ConfigError, make_config
from .data import (CLASS_NAMES, MEAN, STD, DataError, FashionMNIST, batch_plan, load_fashion_mnist,
                   split_for, stratified_indices)
from .metrics import Accumulator, Timer, TrainingDiverged, count_correct, ensure_finite, progress
from .plotting import LivePlot, plot_history, show_images, show_predictions
from .results import RunRecord, load_record

__version__ = "0.1.0"
__all__ = [
    "ALEXNET", "feature_map_sizes", "output_shapes", "parameter_count", "smallest_resize",
    "PRESETS", "Config", "ConfigError", "make_config",
    "CLASS_NAMES", "MEAN", "STD", "DataError", "FashionMNIST", "batch_plan", "load_fashion_mnist",
    "split_for", "stratified_indices",
    "Accumulator", "Timer", "TrainingDiverged", "count_correct", "ensure_finite", "progress",
    "LivePlot", "plot_history", "show_images", "show_predictions",
    "RunRecord", "load_record",
]
