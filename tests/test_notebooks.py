"""The notebooks: executed for real under the smoke preset, parallel in structure, committed clean."""
import json
import math

import nbformat
import pytest

from d2l_helpers import architecture
from d2l_helpers.cells import NOTEBOOKS, run_tagged
from d2l_helpers.config import make_config
from d2l_helpers.metrics import TrainingDiverged

pytestmark = pytest.mark.notebooks

FRAMEWORKS = ("pytorch", "tensorflow", "mxnet")
TRAINING = [f"alexnet-{fw}" for fw in FRAMEWORKS]
ALL = TRAINING + ["overview", "compare"]
ROLES = ("setup", "data", "model", "train", "evaluate")
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}


def read(name):
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Run every notebook with papermill as `make run` would, but with the smoke preset."""
    import papermill

    out = tmp_path_factory.mktemp("executed")
    results = out / "results"
    for name in TRAINING:
        papermill.execute_notebook(NOTEBOOKS / f"{name}.ipynb", out / f"{name}.ipynb", cwd=NOTEBOOKS,
                                   parameters=dict(preset="smoke", results_dir=str(results)),
                                   kernel_name="python3", progress_bar=False)
    papermill.execute_notebook(NOTEBOOKS / "compare.ipynb", out / "compare.ipynb", cwd=NOTEBOOKS,
                               parameters=dict(results_dir=str(results), notebooks_dir=str(NOTEBOOKS)),
                               kernel_name="python3", progress_bar=False)
    papermill.execute_notebook(NOTEBOOKS / "overview.ipynb", out / "overview.ipynb", cwd=NOTEBOOKS,
                               kernel_name="python3", progress_bar=False)
    return out


def outputs_text(nb):
    return "\n".join(o.get("text", "") + json.dumps(o.get("data", {}))
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_run_records_agree_across_frameworks(executed):
    smoke = make_config("smoke", gpu=False)
    records = {fw: json.loads((executed / "results" / f"alexnet-{fw}.json").read_text()) for fw in FRAMEWORKS}
    expected_sizes = architecture.feature_map_sizes(smoke.resize)
    for fw, record in records.items():
        assert record["config"]["preset"] == "smoke" and record["device"] == "CPU"
        assert record["parameters"] == architecture.parameter_count(smoke.resize)
        assert len(record["history"]) == smoke.epochs
        for key, value in record["final"].items():
            assert math.isfinite(value) and value >= 0, (fw, key)
        assert 0 <= record["final"]["test_acc"] <= 1
        spatial = [shape[0] if fw == "tensorflow" else shape[1]
                   for name, shape in record["layer_shapes"] if "Conv" in name or "Pool" in name]
        assert spatial == expected_sizes, fw
    assert {r["framework"] for r in records.values()} == {"PyTorch", "TensorFlow", "MXNet"}


def test_executed_notebooks_show_their_results(executed):
    for name in TRAINING:
        text = outputs_text(nbformat.read(executed / f"{name}.ipynb", as_version=4))
        assert "preset smoke" in text and "No GPU found" in text and "image/png" in text
    compare_text = outputs_text(nbformat.read(executed / "compare.ipynb", as_version=4))
    assert "PyTorch" in compare_text and "MXNet" in compare_text and "TensorFlow" in compare_text
    assert "no run record" not in compare_text.lower()


@pytest.mark.parametrize("name", ALL)
def test_every_cell_has_slide_metadata(name):
    for i, cell in enumerate(read(name).cells):
        assert cell.metadata.get("slideshow", {}).get("slide_type") in SLIDE_TYPES, (name, i)


def structure(nb):
    """What must match across frameworks: cell kinds, tags, slide types and markdown headings."""
    rows = []
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            continue
        headings = [line for line in cell.source.splitlines() if line.startswith("#")]
        if cell.cell_type == "markdown":
            headings = [h.replace("PyTorch", "FW").replace("TensorFlow", "FW").replace("MXNet", "FW")
                        for h in headings]
        rows.append((cell.cell_type, tuple(cell.metadata.get("tags", [])),
                     cell.metadata["slideshow"]["slide_type"], tuple(headings)))
    return rows


def test_training_notebooks_are_parallel_cell_for_cell():
    shapes = [structure(read(name)) for name in TRAINING]
    assert shapes[0] == shapes[1] == shapes[2]
    tags = {t for row in shapes[0] for t in row[1]}
    assert set(ROLES) | {"parameters"} <= tags


def test_hyperparameters_are_shared_not_written_per_notebook():
    for name in TRAINING:
        source = "\n".join(c.source for c in read(name).cells if c.cell_type == "code")
        assert "d2l.make_config(preset" in source
        for literal in ("lr=0.", "momentum=0.9", "batch_size=128"):
            assert literal not in source, (name, literal)


@pytest.mark.parametrize("name", ALL)
def test_committed_notebook_ran_top_to_bottom_without_errors(name):
    nb = read(name)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert None not in counts, f"{name}: cells were not executed; run `make run`"
    assert counts == sorted(counts) and len(set(counts)) == len(counts), f"{name}: run out of order"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{name}: {errors[0].ename}: {errors[0].evalue}"


@pytest.mark.parametrize("name", TRAINING)
def test_committed_notebook_shows_preset_and_device(name):
    text = outputs_text(read(name))
    assert "preset=" in text and ("No GPU found" in text or "Training on GPU" in text)
    assert "run record:" in text


def test_diverging_loss_stops_with_a_clear_message(tmp_path):
    with pytest.raises(TrainingDiverged, match="smaller learning rate"):
        run_tagged(NOTEBOOKS / "alexnet-pytorch.ipynb", ("setup", "data", "model", "train"),
                   preset="smoke", lr=10.0, results_dir=str(tmp_path))
