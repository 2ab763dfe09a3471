"""An architecture diagram drawn from a layer table, with matplotlib only.

`draw_architecture(ALEXNET)` turns the framework-neutral layer list of
`architecture` into a left-to-right chain of boxes: one per layer, coloured by
kind, with each layer's output shape and parameter count underneath. Because the
picture is computed from the same table the notebooks are tested against, it
cannot drift from the code.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from .architecture import INPUT_CHANNELS, output_shapes, parameter_count

COLORS = {"input": "#e0e0e0", "conv": "#9ecae1", "pool": "#fdd0a2",
          "dense": "#a1d99b", "dropout": "#f0f0f0"}
KIND_NAMES = {"conv": "convolution + ReLU", "pool": "max-pooling",
              "dense": "dense (ReLU, except the output)", "dropout": "dropout (training only)"}

_STEP, _WIDTH, _HEIGHT = 1.0, 0.74, 2.7  # box pitch, width and height in data units


def shape_text(shape) -> str:
    """`(96, 54, 54)` -> `'96×54×54'`; `(4096,)` -> `'4096'`."""
    return "×".join(str(d) for d in shape)


def human_count(n: int) -> str:
    """A parameter count in few characters: 40970 -> `'41.0k'`, 26218496 -> `'26.2M'`."""
    if n >= 1e6:
        return f"{n / 1e6:.1f}M"
    if n >= 1e3:
        return f"{n / 1e3:.1f}k"
    return str(n)


def layer_parameters(layers, resize: int) -> list[int]:
    """Trainable parameters of each layer on its own (zero for pooling and dropout)."""
    totals = [parameter_count(resize, layers[:i]) for i in range(len(layers) + 1)]
    return [after - before for before, after in zip(totals, totals[1:])]


def draw_architecture(layers, resize: int = 224, path=None, title: str | None = None):
    """Draw `layers` (e.g. `architecture.ALEXNET`) as a chain of boxes for `resize`×`resize` inputs.

    Each box is one layer, coloured by kind; under it are the layer's output shape
    (channels first, as `output_shapes` gives it) and its parameter count. Returns
    the matplotlib Figure; when `path` is given the figure is also saved there
    (folders are created, format from the suffix).
    """
    layers = tuple(layers)
    shapes = [(INPUT_CHANNELS, resize, resize), *output_shapes(resize, layers)]
    params = [0, *layer_parameters(layers, resize)]
    kinds = ["input", *(layer.kind for layer in layers)]
    labels = ["input image", *(layer.label for layer in layers)]

    n = len(kinds)
    fig, ax = plt.subplots(figsize=(0.86 * n + 1.3, 4.3))
    ax.set_xlim(-1.35, (n - 1) * _STEP + 0.6)
    ax.set_ylim(-1.05, _HEIGHT + 0.7)
    ax.axis("off")

    for i, (kind, label, shape, count) in enumerate(zip(kinds, labels, shapes, params)):
        x = i * _STEP
        ax.add_patch(FancyBboxPatch((x - _WIDTH / 2, 0), _WIDTH, _HEIGHT,
                                    boxstyle="round,pad=0.02,rounding_size=0.08",
                                    facecolor=COLORS.get(kind, "white"), edgecolor="#555555",
                                    linestyle="--" if kind == "dropout" else "-", linewidth=1.2))
        ax.text(x, _HEIGHT / 2, label, rotation=90, ha="center", va="center", fontsize=10)
        ax.text(x, -0.3, shape_text(shape), ha="center", va="center", fontsize=8.5)
        if count:
            ax.text(x, -0.75, human_count(count), ha="center", va="center", fontsize=8.5,
                    color="#444444")
        if i:  # arrow from the previous box
            ax.annotate("", xy=(x - _WIDTH / 2, _HEIGHT / 2),
                        xytext=(x - _STEP + _WIDTH / 2, _HEIGHT / 2),
                        arrowprops=dict(arrowstyle="->", color="#555555", lw=1.2))
            if len(shape) == 1 and len(shapes[i - 1]) == 3:
                ax.text(x - _STEP / 2, _HEIGHT / 2 + 0.22, "flatten", rotation=90,
                        ha="center", va="bottom", fontsize=7.5, color="#555555")

    ax.text(-0.5 * _STEP - 0.05, -0.3, "output", ha="right", va="center", fontsize=8.5,
            style="italic")
    ax.text(-0.5 * _STEP - 0.05, -0.75, "parameters", ha="right", va="center", fontsize=8.5,
            style="italic", color="#444444")

    used = [k for k in KIND_NAMES if k in kinds]
    handles = [FancyBboxPatch((0, 0), 1, 1, facecolor=COLORS[k], edgecolor="#555555",
                              linestyle="--" if k == "dropout" else "-") for k in used]
    ax.legend(handles, [KIND_NAMES[k] for k in used], loc="upper center", ncol=len(used),
              bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=9, handlelength=1.2)
    if title is None:
        title = (f"{len(layers)} layers for {shape_text(shapes[0])} inputs: "
                 f"{parameter_count(resize, layers):,} parameters")
    ax.set_title(title, fontsize=12)
    fig.tight_layout()
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig
