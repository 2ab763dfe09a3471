"""Helpers shared by the AlexNet notebooks in PyTorch, TensorFlow, JAX and MXNet.

The package itself is framework-neutral (numpy and matplotlib only). Each
notebook imports its framework's adapter, which re-exports everything here:

    from d2l_helpers import torch as d2l       # or tensorflow, jax, mxnet
"""
from .architecture import (
                           ALEXNET,
                           feature_map_sizes,
                           forward_macs,
                           output_shapes,
                           parameter_count,
                           smallest_resize,
                           training_flops,
)
from .config import PRESETS, Config, ConfigError, make_config
from .data import (
                           CLASS_NAMES,
                           MEAN,
                           STD,
                           DataError,
                           FashionMNIST,
                           batch_plan,
                           load_fashion_mnist,
                           split_for,
                           stratified_indices,
)
from .metrics import (
                           TrainingDiverged,
                           confusion_matrix,
                           ensure_finite,
                           per_class_accuracy,
                           softmax,
)
from .plotting import (
                           LivePlot,
                           show_confusion,
                           show_filters,
                           show_images,
                           show_predictions,
                           show_probabilities,
)
from .results import RunRecord, load_record
from .training import TrainingLog, progress
from .weights import initial_weights

__version__ = "0.2.0"
__all__ = [
    "ALEXNET", "feature_map_sizes", "forward_macs", "output_shapes", "parameter_count",
    "smallest_resize", "training_flops",
    "PRESETS", "Config", "ConfigError", "make_config",
    "CLASS_NAMES", "MEAN", "STD", "DataError", "FashionMNIST", "batch_plan", "load_fashion_mnist",
    "split_for", "stratified_indices",
    "TrainingDiverged", "confusion_matrix", "ensure_finite",
    "per_class_accuracy", "softmax",
    "LivePlot", "show_confusion", "show_filters", "show_images", "show_predictions", "show_probabilities",
    "RunRecord", "load_record", "TrainingLog", "progress", "initial_weights",
]
