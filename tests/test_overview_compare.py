"""The overview's diagram (`diagrams`), the comparison (`compare`) and the aligned code (`codeview`)."""
import html
import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from d2l_helpers import (
    ALEXNET,
    RunRecord,
    codeview,
    compare,
    diagrams,
    frameworks,
    make_config,
    output_shapes,
    parameter_count,
)
from d2l_helpers.devices import Choice
from tools.cells import NOTEBOOKS

KEYS = frameworks.KEYS


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def save_record(folder, key, *, preset="reference", acc=0.88, loss=0.3, speed=2000.0, device="NVIDIA H200",
                epochs=2, first_speed=None, initial_loss=2.3026, offset=0.0):
    """A finished run record for `key`, saved where the notebooks would save it."""
    config = make_config(preset, gpu=True, epochs=epochs)
    record = RunRecord.start(frameworks.get(key).name, "1.0", Choice(), config,
                             parameters=parameter_count(config.resize), initial_loss=initial_loss,
                             layer_shapes=[list(s) for s in output_shapes(config.resize)])
    record.device = device
    record.steps_per_epoch, record.log_every = 4, 2
    for epoch in range(1, epochs + 1):
        for step in (2, 4):
            global_step = (epoch - 1) * 4 + step
            record.add_step(global_step, 2.3 - 0.1 * global_step + offset, 0.1 * global_step)
        rate = first_speed if (epoch == 1 and first_speed) else speed
        record.add_epoch(epoch, loss + 0.1 * (epochs - epoch), acc - 0.02, acc, 600 / rate * 100, rate)
    record.finish()
    record.save(folder)
    return record


DEFAULTS = {"pytorch": dict(acc=0.884, loss=0.29, speed=2500.0, offset=0.01),
            "tensorflow": dict(acc=0.878, loss=0.33, speed=1250.0, offset=-0.02, initial_loss=2.30261),
            "jax": dict(acc=0.881, loss=0.30, speed=2200.0, offset=0.0),
            "mxnet": dict(acc=0.880, loss=0.31, speed=2000.0, offset=0.03)}


def all_four(folder, **per_framework):
    for key, kwargs in DEFAULTS.items():
        save_record(folder, key, **{**kwargs, **per_framework.get(key, {})})
    return compare.load_records(folder)


# --------------------------------------------------------------------------- diagrams

def test_layer_parameters_add_up_to_the_total():
    for resize in (224, 80):
        per_layer = diagrams.layer_parameters(ALEXNET, resize)
        assert len(per_layer) == len(ALEXNET)
        assert sum(per_layer) == parameter_count(resize)
        assert all(n == 0 for layer, n in zip(ALEXNET, per_layer) if layer.kind in ("pool", "dropout"))
    assert diagrams.layer_parameters(ALEXNET, 224)[0] == 96 * 11 * 11 + 96


def test_small_formatters():
    assert diagrams.shape_text((96, 54, 54)) == "96×54×54"
    assert diagrams.shape_text((4096,)) == "4096"
    assert diagrams.human_count(40970) == "41.0k"
    assert diagrams.human_count(26218496) == "26.2M"
    assert diagrams.human_count(7) == "7"


@pytest.mark.parametrize("resize", [224, 80])
def test_diagram_shows_every_layer_and_shape(tmp_path, resize):
    path = tmp_path / "sub" / "arch.png"
    fig = diagrams.draw_architecture(ALEXNET, resize=resize, path=path)
    texts = [t.get_text() for t in fig.axes[0].texts]
    for layer in ALEXNET:
        assert layer.label in texts
    for shape in output_shapes(resize):
        assert diagrams.shape_text(shape) in texts
    assert f"1×{resize}×{resize}" in texts and "flatten" in texts
    assert f"{parameter_count(resize):,}" in fig.axes[0].get_title()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- records

def test_no_records_at_all(tmp_path):
    records, notes = compare.load_records(tmp_path)
    assert records == {}
    assert sum("does not exist yet" in n for n in notes) == sum(frameworks.problem(fw) is None
                                                               for fw in frameworks.FRAMEWORKS)
    assert "nothing to compare" in compare.comparability_notes(records)[0]
    assert compare.findings(records) == []
    assert compare.plot_learning_curves(records) is None
    assert "No run records" in compare.summary_table_html(records)


def test_missing_and_unreadable_records_become_notes(tmp_path):
    save_record(tmp_path, "pytorch")
    (tmp_path / "alexnet-jax.json").write_text("{not json")
    records, notes = compare.load_records(tmp_path, keys=KEYS[:3])  # pytorch, tensorflow, jax
    assert list(records) == ["pytorch"]
    assert any(n.startswith("Skipping JAX") for n in notes)
    assert any("alexnet-tensorflow.json does not exist yet" in n for n in notes)
    only = compare.comparability_notes(records)
    assert len(only) == 1 and "Only PyTorch" in only[0]
    sentences = compare.findings(records)
    assert len(sentences) == 1 and "PyTorch's network has 46,764,746" in sentences[0]
    assert compare.plot_learning_curves(records) is not None


def test_a_framework_that_cannot_run_here_is_a_note_and_its_old_record_stays(tmp_path, monkeypatch):
    main = frameworks.Environment("main", str(tmp_path / "venv"), "d2l", "x", ("3.12",), "x")
    monkeypatch.setattr(frameworks, "MAIN", main)
    frameworks.unavailable_note(frameworks.MXNET_ENV).parent.mkdir()
    frameworks.unavailable_note(frameworks.MXNET_ENV).write_text("no Python 3.11 found")
    records, notes = all_four(tmp_path)
    assert "mxnet" in records
    (note,) = [n for n in notes if "MXNet" in n]
    assert note == ("MXNet is skipped on this machine: no Python 3.11 found. Its record shown here is from "
                    "an earlier run (alexnet-mxnet.json).")


def test_record_under_the_wrong_name_is_flagged(tmp_path):
    record = save_record(tmp_path, "pytorch")
    (tmp_path / "alexnet-pytorch.json").rename(tmp_path / "alexnet-mxnet.json")
    records, notes = compare.load_records(tmp_path, keys=["mxnet"])
    assert records["mxnet"].framework == record.framework
    assert any("says it comes from 'PyTorch'" in n for n in notes)


def test_same_settings_compare_cleanly(tmp_path):
    records, notes = all_four(tmp_path)
    assert [n for n in notes if "does not exist" in n or "Skipping" in n] == []
    assert compare.config_differences(records) == {}
    assert compare.comparability_notes(records) == []
    assert "same settings" in compare.notes_html([])


def test_mixed_presets_are_not_apples_to_apples(tmp_path):
    records, _ = all_four(tmp_path, mxnet=dict(preset="preview"))
    differences = compare.config_differences(records)
    assert differences["preset"]["mxnet"] == "preview" and differences["preset"]["jax"] == "reference"
    assert {"resize", "batch_size", "train_limit"} <= set(differences)
    notes = compare.comparability_notes(records)
    assert len(notes) == 1 and "apples-to-apples" in notes[0] and "MXNet preview" in notes[0]
    sentences = compare.findings(records)
    assert sentences[0].startswith("Caution")
    assert "only because the input sizes differ" in sentences[0]
    assert "<b>" not in compare.summary_table_html(records)  # no winners when unfair
    assert compare.curve_agreement(records) is None


def test_a_bfloat16_run_is_not_compared_with_float32_ones(tmp_path):
    records, _ = all_four(tmp_path)
    del records["mxnet"].config["precision"]  # a record from before the setting: float32
    assert compare.config_differences(records) == {}
    records["jax"].config["precision"] = "bfloat16"
    assert compare.config_differences(records) == {"precision": {
        "pytorch": "float32", "tensorflow": "float32", "jax": "bfloat16", "mxnet": "float32"}}


def test_different_devices_are_flagged(tmp_path):
    records, _ = all_four(tmp_path, tensorflow=dict(device="CPU"))
    (note,) = compare.comparability_notes(records)
    assert "different devices" in note and "TensorFlow on CPU" in note


def test_notes_are_escaped():
    box = compare.notes_html(["a <script> & b"])
    assert "<script>" not in box and "a &lt;script&gt; &amp; b" in box


# --------------------------------------------------------------------------- table, curves, findings

def test_table_has_the_right_numbers_and_ranks_no_speed(tmp_path):
    records, _ = all_four(tmp_path)
    rows = {label: (cells, best) for label, cells, best in compare.summary_table(records)}
    assert rows["test accuracy"] == (["0.884", "0.878", "0.881", "0.880"], 0)
    assert rows["loss before training"] == (["2.30260", "2.30261", "2.30260", "2.30260"], None)
    assert rows["examples / second (this run)"] == (["2,500", "1,250", "2,200", "2,000"], None)
    assert rows["parameters"][0] == ["46,764,746"] * 4
    table = compare.summary_table_html(records)
    assert "<b>0.884</b>" in table and "<b>2,500</b>" not in table
    heads = re.findall(r"<th[^>]*>(PyTorch|TensorFlow|JAX|MXNet)</th>", table)
    assert heads == [fw.name for fw in frameworks.FRAMEWORKS]


def test_format_seconds():
    assert compare.format_seconds(12.34) == "12.3 s"
    assert compare.format_seconds(245) == "4 min 05 s"
    assert compare.format_seconds(4000) == "1 h 06 min"


def test_curve_agreement_per_logged_step(tmp_path):
    records, _ = all_four(tmp_path)
    agreement = compare.curve_agreement(records)
    assert agreement["steps"] == [2, 4, 6, 8] and agreement["log_every"] == 2
    assert agreement["loss_spread"] == pytest.approx([0.05] * 4)  # offsets from -0.02 to +0.03
    assert agreement["acc_spread"] == pytest.approx([0.0] * 4)


def test_curves_overlay_every_framework(tmp_path):
    records, _ = all_four(tmp_path)
    fig = compare.plot_learning_curves(records, path=tmp_path / "curves.png")
    loss_ax, acc_ax, diff_ax = fig.axes
    assert [line.get_label() for line in loss_ax.get_lines()][:4] == [fw.name for fw in frameworks.FRAMEWORKS]
    assert len(diff_ax.get_lines()) == 4 + 1  # one per framework, and the zero line
    assert (tmp_path / "curves.png").stat().st_size > 0


PARITY = {"reference": "pytorch", "frameworks": list(KEYS), "settings": {"resize": 76, "weight_steps": 3},
          "logits": {"pytorch": 0.0, "tensorflow": 1e-7, "jax": 9e-8, "mxnet": 1.2e-7},
          "initial_loss_spread": 9.5e-7,
          "no_dropout": {"loss_spread": [1e-6, 2e-6, 5e-6], "largest_weight_change": 4.6e-4,
                         "weights_after_pairs": {"pytorch-tensorflow": {"max": 2.8e-5, "relative": 0.013},
                                                 "jax-mxnet": {"max": 3.3e-7, "relative": 4e-5}}},
          "dropout": {"loss_spread": [0.02, 0.025, 0.049]}}


def test_findings_come_from_the_data(tmp_path):
    records, _ = all_four(tmp_path, tensorflow=dict(first_speed=500.0))
    sentences = compare.findings(records, parity=PARITY)
    assert len(sentences) == 3  # what a slide can hold; the figures are in the table behind it
    text = "\n".join(sentences)
    assert "All 4 networks have 46,764,746 trainable parameters, exactly what" in text
    assert "the loss on the first batch is 2.3026 in every framework (they differ by at most 1.0e-05)" in text
    assert "lie within 0.050 of each other" in text
    assert "dropout off the four losses stay within" in text and "differ by up to 0.05" in text
    assert "from 0.878 (TensorFlow) to 0.884 (PyTorch): 0.6 points, within the noise" in text
    assert "examples/s" not in text and "fastest" not in text  # one run is no speed measurement
    table = compare.figures_html(records, parity=PARITY)
    assert "46,764,746" in table and "0.878 – 0.884" in table and "results/parity.json" in table
    assert "PyTorch and TensorFlow" in table and "3e-05" in table


def test_curves_that_part_without_dropout_are_put_down_to_amplified_rounding(tmp_path):
    records, _ = all_four(tmp_path)
    longer = {**PARITY, "source": "benchmarks/parity-120-cpu.json",
              "no_dropout": {**PARITY["no_dropout"], "loss_spread": [1e-6, 4e-4, 0.02, 0.3, 0.1]},
              "dropout": {"loss_spread": [0.01, 0.05, 0.2, 0.4, 0.3]}}
    text = compare.findings(records, parity=longer)[1]
    assert "agree to 1e-03 for 2 steps, then part" in text and "by up to 0.30 at step 4" in text
    assert "(0.05 at step 2)" in text and "benchmarks/parity-120-cpu.json" in text


def test_large_accuracy_gap_is_not_called_noise(tmp_path):
    records, _ = all_four(tmp_path, mxnet=dict(acc=0.80))
    assert "more than the test set's sampling noise" in " ".join(compare.findings(records))


# --------------------------------------------------------------------------- code side by side

def test_fit_breaks_between_arguments_only():
    assert codeview.fit("f(a, b)") == "f(a, b)"
    broken = codeview.fit("optimizer = torch.optim.SGD(net.parameters(), lr=config.lr, "
                          "momentum=config.momentum, weight_decay=config.weight_decay)", width=40)
    assert broken.splitlines() == ["optimizer = torch.optim.SGD(", "    net.parameters(), lr=config.lr,",
                                   "    momentum=config.momentum,", "    weight_decay=config.weight_decay)"]
    assert codeview.fit("correct = sum(d2l.correct(predict(X), y) for X, y in data_iter)", 40) == (
        "correct = sum(d2l.correct(predict(X), y)\n    for X, y in data_iter)")
    assert codeview.split_top_level('f(a, "x, y"), [1, 2], z') == ['f(a, "x, y")', "[1, 2]", "z"]


def test_model_rows_match_per_layer_in_the_real_notebooks():
    cells, notes = codeview.load_cells(NOTEBOOKS)
    assert notes == [] and list(cells) == list(KEYS)
    table = codeview.model_table(cells)
    assert [label for label, _ in table][:2] == ["conv 11×11, 96, stride 4", "max-pool 3×3, stride 2"]
    kinds = [layer.kind for layer in ALEXNET]
    kinds.insert(kinds.index("dense"), "flatten")
    for (label, row), kind in zip(table, kinds):
        for key, code in row.items():
            assert codeview.kind_of(code) == kind, (key, label, code)
    assert all(set(row) == set(KEYS) for _, row in table)  # the four line up row by row
    assert max(len(line) for _, row in table for code in row.values() for line in code.splitlines()) <= 42


def test_step_jobs_cover_every_line_of_the_real_notebooks():
    cells, _ = codeview.load_cells(NOTEBOOKS)
    table = dict(codeview.step_table(cells))
    assert set(table) == {label for label, _ in codeview.STEP_JOBS}  # every job appears somewhere
    assert table["weight decay by hand"].keys() == set(KEYS) and table["weight decay by hand"]["pytorch"] == ""
    assert "tape.gradient" in table["gradients"]["tensorflow"] and "backward" in table["gradients"]["pytorch"]
    assert all(table["learning-rate schedule"].values())  # each its own, none left in another row
    assert "scheduler.step()" in table["learning-rate schedule"]["pytorch"]
    assert len(set(table["accuracy"].values())) == 1  # the same in all four: one cell in the view
    markup = codeview.step_view_html(cells)
    assert markup.count('colspan="4"') >= 1 and "def evaluate" in html.unescape(re.sub("<[^>]+>", "", markup))


def test_unknown_statements_and_layers_are_errors_not_silence():
    with pytest.raises(ValueError, match="no job in STEP_JOBS matches 'print"):
        codeview.step_jobs("def train_step(X, y):\n    print(X)\n")
    with pytest.raises(ValueError, match="cannot tell which layer"):
        codeview.model_rows("net = nn.Sequential(nn.BatchNorm2d(3))")


def test_missing_notebooks_are_notes(tmp_path):
    (tmp_path / "alexnet-jax.ipynb").write_text(json.dumps({"cells": []}))
    cells, notes = codeview.load_cells(tmp_path, keys=("jax", "mxnet"))
    assert cells == {}
    assert notes[0] == "alexnet-jax.ipynb lacks a code cell tagged 'model' or 'train-step'."
    assert notes[1].startswith("Could not read alexnet-mxnet.ipynb")
