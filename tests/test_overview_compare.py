"""Unit tests for the overview's diagram (`d2l_helpers.diagrams`) and the comparison (`d2l_helpers.compare`)."""
import html
import json
import re
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from d2l_helpers import ALEXNET, RunRecord, make_config, output_shapes, parameter_count  # noqa: E402
from d2l_helpers import compare, diagrams  # noqa: E402
from d2l_helpers.cells import tagged_sources  # noqa: E402

FRAMEWORK_NAMES = {"mxnet": "MXNet", "pytorch": "PyTorch", "tensorflow": "TensorFlow"}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def save_record(folder, fw, *, preset="reference", acc=0.88, loss=0.3, speed=2000.0,
                device="NVIDIA H200", epochs=2, first_speed=None):
    """A finished run record for `fw`, saved where the notebooks would save it."""
    config = make_config(preset, gpu=True, epochs=epochs).as_dict()
    record = RunRecord(FRAMEWORK_NAMES[fw], "1.0", device, config,
                       parameters=parameter_count(config["resize"]),
                       layer_shapes=[list(s) for s in output_shapes(config["resize"])])
    for epoch in range(1, epochs + 1):
        rate = first_speed if (epoch == 1 and first_speed) else speed
        record.add_epoch(epoch, loss + 0.1 * (epochs - epoch), acc - 0.02, acc, 600 / rate * 100, rate)
    record.finish()
    record.save(folder)
    return record


def all_three(folder, **per_framework):
    defaults = {"mxnet": dict(acc=0.880, loss=0.31, speed=2000.0),
                "pytorch": dict(acc=0.884, loss=0.29, speed=2500.0),
                "tensorflow": dict(acc=0.878, loss=0.33, speed=1250.0)}
    for fw, kwargs in defaults.items():
        save_record(folder, fw, **{**kwargs, **per_framework.get(fw, {})})
    return compare.load_records(folder)


def write_notebook(path, cells):
    """A minimal .ipynb: `cells` are (cell_type, tags, source) with source a str or list."""
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": kind, "metadata": {"tags": tags}, "source": source,
                     **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                    for kind, tags, source in cells]}
    path.write_text(json.dumps(nb))


def visible_text(markup: str) -> str:
    """What a browser shows of `markup`: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


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
    assert isinstance(fig, matplotlib.figure.Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    for layer in ALEXNET:
        assert layer.label in texts
    for shape in output_shapes(resize):
        assert diagrams.shape_text(shape) in texts
    assert f"1×{resize}×{resize}" in texts
    assert "flatten" in texts
    assert f"{parameter_count(resize):,}" in fig.axes[0].get_title()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_diagram_without_path_saves_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fig = diagrams.draw_architecture(ALEXNET[:3], resize=100, title="tiny")
    assert fig.axes[0].get_title() == "tiny"
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- records

def test_no_records_at_all(tmp_path):
    records, notes = compare.load_records(tmp_path)
    assert records == {}
    assert len(notes) == 3 and all("does not exist yet" in n for n in notes)
    assert "nothing to compare" in compare.comparability_notes(records)[0]
    assert compare.findings(records) == []
    assert compare.plot_learning_curves(records) is None
    assert "No run records" in compare.summary_table_html(records)


def test_missing_and_unreadable_records_become_notes(tmp_path):
    save_record(tmp_path, "pytorch")
    (tmp_path / "alexnet-mxnet.json").write_text("{not json")
    records, notes = compare.load_records(tmp_path)
    assert list(records) == ["pytorch"]
    assert any(n.startswith("Skipping MXNet") for n in notes)
    assert any("alexnet-tensorflow.json does not exist yet" in n for n in notes)
    only = compare.comparability_notes(records)
    assert len(only) == 1 and "Only PyTorch" in only[0]
    sentences = compare.findings(records)
    assert len(sentences) == 1 and "PyTorch's network has 46,764,746" in sentences[0]
    assert compare.plot_learning_curves(records) is not None


def test_record_under_the_wrong_name_is_flagged(tmp_path):
    record = save_record(tmp_path, "pytorch")
    (tmp_path / "alexnet-pytorch.json").rename(tmp_path / "alexnet-mxnet.json")
    records, notes = compare.load_records(tmp_path, frameworks=["mxnet"])
    assert records["mxnet"].framework == record.framework
    assert "says it comes from 'PyTorch'" in notes[0]


def test_same_settings_compare_cleanly(tmp_path):
    records, notes = all_three(tmp_path)
    assert notes == []
    assert compare.config_differences(records) == {}
    assert compare.comparability_notes(records) == []
    assert "same settings" in compare.notes_html([])


def test_mixed_presets_are_not_apples_to_apples(tmp_path):
    records, _ = all_three(tmp_path, mxnet=dict(preset="preview"))
    differences = compare.config_differences(records)
    assert differences["preset"] == {"mxnet": "preview", "pytorch": "reference",
                                     "tensorflow": "reference"}
    assert {"resize", "batch_size", "train_limit"} <= set(differences)
    notes = compare.comparability_notes(records)
    assert len(notes) == 1 and "apples-to-apples" in notes[0] and "MXNet preview" in notes[0]
    sentences = compare.findings(records)
    assert sentences[0].startswith("Caution")
    assert "only because the input sizes differ" in sentences[1]
    assert "<b>" not in compare.summary_table_html(records)  # no winners when unfair


def test_different_devices_are_flagged(tmp_path):
    records, _ = all_three(tmp_path, tensorflow=dict(device="CPU"))
    (note,) = compare.comparability_notes(records)
    assert "different devices" in note and "TensorFlow on CPU" in note


def test_notes_are_escaped(tmp_path):
    box = compare.notes_html(["a <script> & b"])
    assert "<script>" not in box and "a &lt;script&gt; &amp; b" in box


# --------------------------------------------------------------------------- table and findings

def test_table_has_the_right_numbers(tmp_path):
    records, _ = all_three(tmp_path)
    rows = {label: (cells, best) for label, cells, best in compare.summary_table(records)}
    assert rows["test accuracy"] == (["0.880", "0.884", "0.878"], 1)
    assert rows["train loss"] == (["0.310", "0.290", "0.330"], 1)
    assert rows["examples / second"] == (["2,000", "2,500", "1,250"], 1)
    seconds = [r.final["train_seconds"] for r in records.values()]
    assert rows["wall time (training)"] == ([compare.format_seconds(s) for s in seconds], 1)
    assert rows["parameters"][0] == ["46,764,746"] * 3
    assert rows["preset"][0] == ["reference"] * 3
    assert rows["device"][0] == ["NVIDIA H200"] * 3
    table = compare.summary_table_html(records)
    assert "<b>2,500</b>" in table and "<b>0.884</b>" in table
    heads = re.findall(r"<th[^>]*>(MXNet|PyTorch|TensorFlow)</th>", table)
    assert heads == ["MXNet", "PyTorch", "TensorFlow"]


def test_format_seconds():
    assert compare.format_seconds(12.34) == "12.3 s"
    assert compare.format_seconds(245) == "4 min 05 s"
    assert compare.format_seconds(4000) == "1 h 06 min"


def test_findings_come_from_the_data(tmp_path):
    records, _ = all_three(tmp_path, tensorflow=dict(first_speed=500.0))
    text = "\n".join(compare.findings(records))
    assert "All 3 networks have 46,764,746 trainable parameters, exactly what" in text
    assert "from 0.878 (TensorFlow) to 0.884 (PyTorch), a spread of 0.6 percentage points" in text
    assert "within the noise" in text
    assert "PyTorch was fastest at 2,500 examples/s: 1.25× MXNet and 2.86× TensorFlow." in text
    assert "TensorFlow's first epoch ran at 0.40× the speed of its later ones" in text
    assert "MXNet's first epoch" not in text


def test_large_accuracy_gap_is_not_called_noise(tmp_path):
    records, _ = all_three(tmp_path, mxnet=dict(acc=0.80))
    text = " ".join(compare.findings(records))
    assert "larger than the test set's sampling noise" in text


# --------------------------------------------------------------------------- code side by side

TRICKY = {fw: f'net_{fw} = build("<b>{fw}</b>")  # a < b && c > d\n' for fw in FRAMEWORK_NAMES}


def make_notebooks(folder, frameworks=("mxnet", "pytorch", "tensorflow")):
    for fw in frameworks:
        cells = [("markdown", ["model"], "not code"),
                 ("code", ["model"], TRICKY[fw].splitlines(keepends=True)),
                 ("code", [], "untagged()"),
                 ("code", ["train"], f"train_{fw}(net)")]
        if fw == "pytorch":
            cells.append(("code", ["train", "extra"], "second_train_cell()"))
        write_notebook(folder / f"alexnet-{fw}.ipynb", cells)


def test_tagged_cells_reads_code_cells_in_order(tmp_path):
    make_notebooks(tmp_path)
    path = tmp_path / "alexnet-pytorch.ipynb"
    assert tagged_sources(path, "model") == [TRICKY["pytorch"]]
    assert tagged_sources(path, "train") == ["train_pytorch(net)", "second_train_cell()"]
    assert tagged_sources(path, "absent") == []


def test_side_by_side_escapes_and_aligns(tmp_path):
    make_notebooks(tmp_path)
    cells, notes = compare.load_tagged_cells(tmp_path)
    assert notes == []
    markup = compare.side_by_side_html(cells)
    assert "<b>pytorch</b>" not in markup and "&& c" not in markup  # nothing from the code unescaped
    text = visible_text(markup)
    for fw in FRAMEWORK_NAMES:
        assert TRICKY[fw].strip() in text
        assert f"train_{fw}(net)" in text
    assert "second_train_cell()" in text and "no cell 2 tagged train" in text
    assert text.index("MXNet") < text.index("PyTorch") < text.index("TensorFlow")
    assert text.index("cells tagged model") < text.index("cells tagged train")
    # the column heads, then per tag a heading row and one row per cell (model: 1, train: 2)
    assert markup.count("<tr>") == 1 + (1 + 1) + (1 + 2)


def test_side_by_side_without_pygments(tmp_path, monkeypatch):
    make_notebooks(tmp_path)
    monkeypatch.setitem(sys.modules, "pygments", None)  # makes `import pygments` fail
    assert compare.highlight("a < b") == "a &lt; b"
    cells, _ = compare.load_tagged_cells(tmp_path)
    markup = compare.side_by_side_html(cells, tags=["model"])
    assert html.escape(TRICKY["tensorflow"].rstrip("\n")) in markup


def test_missing_notebooks_and_tags_are_reported(tmp_path):
    make_notebooks(tmp_path, frameworks=("pytorch",))
    write_notebook(tmp_path / "alexnet-tensorflow.ipynb", [("code", ["model"], "m()")])
    cells, notes = compare.load_tagged_cells(tmp_path)
    assert set(cells) == {"pytorch", "tensorflow"}
    assert any("alexnet-mxnet.ipynb does not exist yet" in n for n in notes)
    assert "alexnet-tensorflow.ipynb has no code cell tagged 'train'." in notes
    markup = compare.side_by_side_html(cells)
    assert "notebook not found" in markup
    empty = compare.side_by_side_html({}, tags=["model"])
    assert "none found yet" in empty


def test_unreadable_notebook_is_a_note(tmp_path):
    (tmp_path / "alexnet-mxnet.ipynb").write_text("not json")
    cells, notes = compare.load_tagged_cells(tmp_path, frameworks=["mxnet"])
    assert cells == {} and notes[0].startswith("Could not read")


# --------------------------------------------------------------------------- neutrality

def test_modules_import_no_framework():
    code = ("import d2l_helpers.compare, d2l_helpers.diagrams, sys; "
            "assert not {'torch', 'tensorflow', 'mxnet'} & set(sys.modules), "
            "sorted({'torch', 'tensorflow', 'mxnet'} & set(sys.modules))")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_curves_for_several_epochs_and_bars_for_one(tmp_path):
    records, _ = all_three(tmp_path / "multi")
    curves = compare.plot_learning_curves(records)
    assert len(curves.axes[0].get_lines()) == 3 and not curves.axes[0].patches
    single, _ = all_three(tmp_path / "single", **{fw: dict(epochs=1) for fw in compare.FRAMEWORKS})
    bars = compare.plot_learning_curves(single, path=tmp_path / "bars.png")
    heights = [round(p.get_height(), 3) for p in bars.axes[1].patches[:3]]
    assert heights == [0.880, 0.884, 0.878] and "bars instead of curves" in bars._suptitle.get_text()
    assert (tmp_path / "bars.png").stat().st_size > 0
