"""The divergence check, and what is measured on predictions: accuracy, confusion."""
from __future__ import annotations

import math

import numpy as np


class TrainingDiverged(FloatingPointError):
    """The loss stopped being a finite number."""


def ensure_finite(loss: float, *, epoch: int, step: int, lr: float) -> None:
    """Stop training with advice when the loss is NaN or infinite (`step`: the last one it covers)."""
    if not math.isfinite(loss):
        raise TrainingDiverged(
            f"the loss became {loss} at epoch {epoch}, by step {step}: training diverged. "
            f"Try a smaller learning rate (now lr={lr}, e.g. lr={lr / 10:g}) and check the inputs "
            "are normalised.")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities from logits, row by row (shifted by the row maximum, so no overflow)."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Counts with the true class in rows and the predicted class in columns."""
    labels, predictions = np.asarray(labels).reshape(-1), np.asarray(predictions).reshape(-1)
    if labels.shape != predictions.shape:
        raise ValueError(f"{labels.size} labels but {predictions.size} predictions")
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def per_class_accuracy(matrix: np.ndarray) -> np.ndarray:
    """The share of each true class that was predicted right (the diagonal over the row sums)."""
    return np.diag(matrix) / np.maximum(matrix.sum(axis=1), 1)


def predict_all(predict, batches, to_numpy) -> tuple:
    """(labels, logits) of every example of `batches`, as numpy arrays, in order."""
    labels, logits = [], []
    for X, y in batches:
        logits.append(to_numpy(predict(X)))
        labels.append(to_numpy(y))
    return np.concatenate(labels).astype(np.int64), np.concatenate(logits)
