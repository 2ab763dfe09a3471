"""The figures: live plot bookkeeping, prediction grids, confusion matrix, probabilities."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from d2l_helpers import plotting


def test_live_plot_collects_points_outside_jupyter():
    plot = plotting.LivePlot(epochs=2, title="t")
    plot.add(0.5, train_loss=2.0, train_acc=0.3)
    plot.add(1, test_acc=0.6)
    plot.update(final=True)
    assert plot.points["train loss"] == ([0.5], [2.0])
    assert plot.points["test acc"] == ([1], [0.6])
    assert not plot.ax.get_lines()  # no display: nothing is drawn
    plot.draw()
    labels = [line.get_label() for line in plot.ax.get_lines()]
    assert labels == ["train loss", "train acc", "test acc"]
    assert plot.ax.get_xlim() == (0, 2 * 1.04)
    with pytest.raises(KeyError, match="unknown curve 'accuracy'"):
        plot.add(1, accuracy=0.5)


class Handle:
    """Stands in for Jupyter's display handle: counts the redraws."""

    updates = 0

    def update(self, fig):
        self.updates += 1


def test_live_plot_redraws_by_time_not_by_point(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(plotting.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(plotting, "_display_handle", lambda fig: Handle())
    plot = plotting.LivePlot(epochs=1, interval=1.0)
    for i in range(30):  # 30 points over 3 s, an update after each
        clock[0] = i * 0.1
        plot.add(i / 30, train_loss=1.0)
        plot.update()
    assert plot._handle.updates == 3  # at 0 s, 1 s and 2 s
    plot.update()
    assert plot._handle.updates == 3  # nothing new to show
    plot.add(1, test_acc=0.5)
    plot.update(final=True)
    assert plot._handle.updates == 4 and plot.ax.get_lines()


def test_a_slow_redraw_is_made_rarer(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(plotting.time, "perf_counter", lambda: clock[0])

    class SlowHandle(Handle):
        def update(self, fig):
            super().update(fig)
            clock[0] += 0.1  # a tenth of a second a redraw: at most one every 5 s

    monkeypatch.setattr(plotting, "_display_handle", lambda fig: SlowHandle())
    plot = plotting.LivePlot(epochs=1, interval=1.0)
    for i in range(100):  # a point a second for 100 s
        clock[0] = max(clock[0], float(i))
        plot.add(i / 100, train_loss=1.0)
        plot.update()
    assert 19 <= plot._handle.updates <= 20  # about every 5 s: 2% of the time spent redrawing


def test_predictions_are_titled_and_mistakes_marked():
    images = np.zeros((3, 28, 28))
    fig = plotting.show_predictions(images, [0, 1, 2], [0, 1, 5], ["a", "b", "c", "d", "e", "f"])
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in titled] == ["a\n(a)", "b\n(b)", "f\n(c)"]
    assert titled[2].title.get_color() == "crimson" and titled[0].title.get_color() == "black"


def test_confusion_figure_labels_each_class_with_its_accuracy():
    matrix = np.array([[8, 2], [1, 9]])
    fig = plotting.show_confusion(matrix, ["shirt", "coat"], title="t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["shirt (80%)", "coat (90%)"]
    assert sorted(t.get_text() for t in ax.texts) == ["1", "2", "8", "9"]


def test_probabilities_mark_the_true_and_the_predicted_class():
    fig = plotting.show_probabilities(np.zeros((28, 28)), np.array([0.1, 0.7, 0.2]), ["a", "b", "c"], 2)
    bars = fig.axes[1].patches
    assert [round(b.get_width(), 1) for b in bars] == [0.1, 0.7, 0.2]
    assert matplotlib.colors.to_hex(bars[1].get_facecolor()) == matplotlib.colors.to_hex("crimson")
    assert matplotlib.colors.to_hex(bars[2].get_facecolor()) == matplotlib.colors.to_hex("tab:green")
    assert fig.axes[0].get_title() == "true class: c"
