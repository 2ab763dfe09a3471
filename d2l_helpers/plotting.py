"""Figures for the notebooks: a live training plot, a finished run's curves, image grids."""
from __future__ import annotations

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

    In Jupyter the figure is one output that each `add` replaces, so the saved
    notebook (and its HTML export) keeps exactly one, final, static figure.
    Outside Jupyter it only collects the points.
    """

    def __init__(self, epochs: int, title: str = ""):
        self.points: dict[str, tuple[list, list]] = {name: ([], []) for name in CURVES}
        self.epochs = epochs
        self.fig, self.ax = plt.subplots(figsize=(6.5, 3.5))
        self.title = title
        self._handle = _display_handle(self.fig)
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
        self._draw()

    def _draw(self) -> None:
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
        if self._handle is not None:
            self._handle.update(self.fig)


def plot_history(history: list[dict], ax=None, label: str = "", styles=STYLES):
    """Per-epoch curves of a finished run (a run record's `history`)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5))
    epochs = [h["epoch"] for h in history]
    for name, key in zip(CURVES, ("train_loss", "train_acc", "test_acc")):
        ax.plot(epochs, [h[key] for h in history], styles[name], marker="o",
                label=f"{label} {name}".strip())
    ax.set_xlabel("epoch")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return ax


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


def show_predictions(images: np.ndarray, labels, predictions, class_names, n: int = 12):
    """Test images titled 'predicted / true'; wrong predictions in red."""
    titles, colors = [], []
    for true, pred in zip(np.asarray(labels)[:n], np.asarray(predictions)[:n]):
        titles.append(f"{class_names[pred]}\n({class_names[true]})")
        colors.append("black" if pred == true else "crimson")
    return show_images(images[:n], titles, colors=colors)
