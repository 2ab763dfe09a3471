"""The figures: live plot bookkeeping, a finished run's curves, prediction grids."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from d2l_helpers import plotting  # noqa: E402


def test_live_plot_collects_points_outside_jupyter():
    plot = plotting.LivePlot(epochs=2, title="t")
    plot.add(0.5, train_loss=2.0, train_acc=0.3)
    plot.add(1, test_acc=0.6)
    assert plot.points["train loss"] == ([0.5], [2.0])
    assert plot.points["test acc"] == ([1], [0.6])
    labels = [line.get_label() for line in plot.ax.get_lines()]
    assert labels == ["train loss", "train acc", "test acc"]
    assert plot.ax.get_xlim() == (0, 2 * 1.04)
    with pytest.raises(KeyError, match="unknown curve 'accuracy'"):
        plot.add(1, accuracy=0.5)


def test_plot_history_draws_the_three_curves():
    history = [dict(epoch=1, train_loss=1.0, train_acc=0.5, test_acc=0.6),
               dict(epoch=2, train_loss=0.5, train_acc=0.8, test_acc=0.7)]
    ax = plotting.plot_history(history, label="PyTorch")
    lines = {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}
    assert lines == {"PyTorch train loss": [1.0, 0.5], "PyTorch train acc": [0.5, 0.8],
                     "PyTorch test acc": [0.6, 0.7]}


def test_predictions_are_titled_and_mistakes_marked():
    images = np.zeros((3, 28, 28))
    fig = plotting.show_predictions(images, [0, 1, 2], [0, 1, 5], ["a", "b", "c", "d", "e", "f"])
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in titled] == ["a\n(a)", "b\n(b)", "f\n(c)"]
    assert titled[2].title.get_color() == "crimson" and titled[0].title.get_color() == "black"
