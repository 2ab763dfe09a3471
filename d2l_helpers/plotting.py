"""Figures for the notebooks: a live training plot, a finished run's curves, image grids."""
from __future__ import annotations

import math
import time

import matplotlib.pyplot as plt
import numpy as np

CURVES = ("train loss", "train acc", "test acc")
STYLES = {"train loss": "-", "train acc": "--", "test acc": "-."}


def _display_handle(fig):
    """Display `fig` in Jupyter and return the handle that updates it in place (None elsewhere)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return None
    if get_ipython() is None or not hasattr(get_ipython(), "kernel"):
        return None
    return display(fig, display_id=True)


class LivePlot:
    """Train loss, train accuracy and test accuracy, redrawn in place as training goes.

    In Jupyter the figure is one output that each redraw replaces, so the saved
    notebook (and its HTML export) keeps exactly one, final, static figure. A redraw
    with its PNG takes a tenth of a second or more on a CPU, and training waits for it,
    so `update` redraws at most once per `interval` seconds, and so seldom that
    redrawing takes at most `SHARE` of the time. Outside Jupyter it only collects the points.
    """

    SHARE = 0.02

    def __init__(self, epochs: int, title: str = "", interval: float = 1.0):
        self.points: dict[str, tuple[list, list]] = {name: ([], []) for name in CURVES}
        self.epochs = epochs
        self.interval = interval
        self.fig, self.ax = plt.subplots(figsize=(6.5, 3.5))
        self.title = title
        self._handle = _display_handle(self.fig)
        self._pending = False  # points added since the last redraw
        self._drawn, self._cost = -math.inf, 0.0  # when the last redraw began, how long it took
        plt.close(self.fig)  # stop the inline backend from showing a second copy

    def add(self, x: float, **values: float) -> None:
        """Add points at epoch `x` (fractional within an epoch), e.g. `add(0.5, train_loss=1.2)`."""
        for key, value in values.items():
            name = key.replace("_", " ")
            if name not in self.points:
                raise KeyError(f"unknown curve {key!r}: use {', '.join(c.replace(' ', '_') for c in CURVES)}")
            if value is not None:
                self.points[name][0].append(x)
                self.points[name][1].append(value)
                self._pending = True

    def update(self, final: bool = False) -> None:
        """Show new points in Jupyter: once `interval` seconds, and enough time for the last
        redraw to be `SHARE` of it, have passed since that redraw; or at once when `final`
        (the end of an epoch)."""
        now = time.perf_counter()
        wait = max(self.interval, self._cost / self.SHARE)
        if self._handle is None or not self._pending or (not final and now - self._drawn < wait):
            return
        self.draw()
        self._handle.update(self.fig)
        self._pending, self._drawn, self._cost = False, now, time.perf_counter() - now

    def draw(self) -> None:
        """Draw the points collected so far into the figure."""
        ax = self.ax
        ax.cla()
        for name, (xs, ys) in self.points.items():
            if xs:
                ax.plot(xs, ys, STYLES[name], marker="o" if name == "test acc" else None, label=name)
        ax.set_xlim(0, self.epochs * 1.04)  # room for the marker at the last epoch
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))  # outside: never hides a point
        if self.title:
            ax.set_title(self.title)
        self.fig.tight_layout()


def show_images(images: np.ndarray, titles: list[str], ncols: int = 6, scale: float = 1.6,
                colors: list[str] | None = None):
    """A grid of grayscale images with a title (and optional title colour) under each."""
    n = len(images)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale, nrows * (scale + 0.35)))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i < n:
            ax.imshow(np.asarray(images[i]).squeeze(), cmap="gray_r")
            ax.set_title(titles[i], fontsize=8, color=(colors[i] if colors else "black"))
    fig.tight_layout()
    return fig


def show_filters(kernels: np.ndarray, ncols: int = 16, scale: float = 0.6):
    """The first convolution's kernels (out × 1 × h × w, the canonical layout of `get_weights`) as
    small images, each scaled to its own range: mid-grey is 0, dark is negative, light is positive."""
    kernels = np.asarray(kernels)[:, 0]
    n = len(kernels)
    fig, axes = plt.subplots(-(-n // ncols), ncols, figsize=(ncols * scale, -(-n // ncols) * scale))
    for ax, kernel in zip(np.atleast_1d(axes).ravel(), kernels):
        limit = np.abs(kernel).max() or 1.0
        ax.imshow(kernel, cmap="gray", vmin=-limit, vmax=limit)
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    fig.tight_layout(pad=0.2)
    return fig


def show_predictions(images: np.ndarray, labels, predictions, class_names, n: int = 12):
    """Test images titled 'predicted / true'; wrong predictions in red."""
    titles, colors = [], []
    for true, pred in zip(np.asarray(labels)[:n], np.asarray(predictions)[:n]):
        titles.append(f"{class_names[pred]}\n({class_names[true]})")
        colors.append("black" if pred == true else "crimson")
    return show_images(images[:n], titles, colors=colors)


def show_confusion(matrix: np.ndarray, class_names, title: str = ""):
    """The confusion matrix as a heat map (true class in rows), with each class's accuracy beside it."""
    matrix = np.asarray(matrix)
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7.2, 5.6))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    n = len(class_names)
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                ax.text(j, i, f"{matrix[i, j]}", ha="center", va="center", fontsize=7.5,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(n), class_names, rotation=45, ha="right", fontsize=9)
    ax.set_yticks(range(n), [f"{name} ({share[i, i]:.0%})" for i, name in enumerate(class_names)],
                  fontsize=9)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (share right)")
    if title:
        ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


def show_probabilities(image: np.ndarray, probabilities: np.ndarray, class_names, true_label: int):
    """One test image beside the probability the network gives each class."""
    fig, (image_ax, bar_ax) = plt.subplots(1, 2, figsize=(8, 2.8), gridspec_kw={"width_ratios": [1, 2.6]})
    image_ax.imshow(np.asarray(image).squeeze(), cmap="gray_r")
    image_ax.set_title(f"true class: {class_names[true_label]}", fontsize=10)
    image_ax.axis("off")
    best = int(np.argmax(probabilities))
    colors = ["tab:green" if i == true_label else ("crimson" if i == best else "tab:gray")
              for i in range(len(class_names))]
    bars = bar_ax.barh(range(len(class_names)), probabilities, color=colors)
    bar_ax.bar_label(bars, fmt="%.3f", fontsize=8, padding=2)
    bar_ax.set_yticks(range(len(class_names)), class_names, fontsize=9)
    bar_ax.invert_yaxis()
    bar_ax.set_xlim(0, 1.15)
    bar_ax.set_xlabel("predicted probability (softmax of the logits)")
    fig.tight_layout()
    return fig
