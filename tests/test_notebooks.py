"""The notebooks: executed for real under the smoke preset, parallel in structure, committed clean."""
import json
import math
import re

import nbformat
import pytest

from d2l_helpers import architecture, frameworks
from d2l_helpers.config import make_config
from d2l_helpers.metrics import TrainingDiverged
from tools.cells import NOTEBOOKS, run_tagged

TRAINING = frameworks.FRAMEWORKS
LESSONS = frameworks.LESSON_NOTEBOOKS
ALL = [fw.notebook for fw in TRAINING] + list(LESSONS) + list(frameworks.SUMMARY_NOTEBOOKS)
ROLES = ("setup", "data", "model", "train", "evaluate")
SHARED_EXCEPT = "framework-specific"  # the tag of the cells that may differ between the notebooks
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}


def read(name):
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def available(fw):
    problem = frameworks.problem(fw)
    if problem:
        pytest.skip(problem)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Every notebook run by papermill as `make run` would, in the kernel its metadata names, with
    the smoke preset; a framework whose environment is missing here is left out."""
    import papermill

    out = tmp_path_factory.mktemp("executed")
    results = out / "results"
    for fw in TRAINING:
        if frameworks.problem(fw) is None:
            papermill.execute_notebook(NOTEBOOKS / fw.notebook, out / fw.notebook, cwd=NOTEBOOKS,
                                       parameters=dict(preset="smoke", results_dir=str(results),
                                                       checkpoint_dir=str(out / "checkpoints")),
                                       progress_bar=False)
    papermill.execute_notebook(NOTEBOOKS / "compare.ipynb", out / "compare.ipynb", cwd=NOTEBOOKS,
                               parameters=dict(results_dir=str(results), notebooks_dir=str(NOTEBOOKS)),
                               progress_bar=False)
    papermill.execute_notebook(NOTEBOOKS / "overview.ipynb", out / "overview.ipynb", cwd=NOTEBOOKS,
                               parameters=dict(img_dir=str(out)), progress_bar=False)
    return out


def outputs_text(nb):
    return "\n".join(o.get("text", "") + json.dumps(o.get("data", {}))
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.notebooks
@pytest.mark.parametrize("fw", TRAINING, ids=frameworks.KEYS)
def test_training_notebook_runs_and_records(executed, fw):
    available(fw)
    smoke = make_config("smoke", gpu=False)
    record = json.loads((executed / "results" / fw.record).read_text())
    assert record["framework"] == fw.name and record["config"]["preset"] == "smoke"
    assert record["parameters"] == architecture.parameter_count(smoke.resize)
    assert len(record["history"]) == smoke.epochs
    assert [row["step"] for row in record["steps"]] == [5, 10]  # 320 images, batch 32: a row every 5 steps
    for key, value in record["final"].items():
        assert math.isfinite(value) and value >= 0, key
    assert abs(record["initial_loss"] - math.log(10)) < 0.05
    # channels first (C, H, W) or last (H, W, C): the side is the smaller of the first two
    spatial = [min(shape[:2]) for name, shape in record["layer_shapes"] if re.search("conv|pool", name, re.I)]
    assert spatial == architecture.feature_map_sizes(smoke.resize)
    text = outputs_text(nbformat.read(executed / fw.notebook, as_version=4))
    assert "preset smoke" in text and f"{fw.name} trains on" in text and "image/png" in text
    assert "largest |Δ logit| after reloading: 0.0e+00" in text


@pytest.mark.notebooks
def test_same_start_and_same_initial_loss_in_every_framework(executed):
    losses = {fw.key: json.loads((executed / "results" / fw.record).read_text())["initial_loss"]
              for fw in TRAINING if (executed / "results" / fw.record).is_file()}
    assert len(losses) >= 2
    assert max(losses.values()) - min(losses.values()) <= 1e-4, losses


@pytest.mark.notebooks
def test_compare_shows_every_framework_that_ran(executed):
    text = outputs_text(nbformat.read(executed / "compare.ipynb", as_version=4))
    for fw in TRAINING:
        if frameworks.problem(fw) is None:
            assert f">{fw.name}<" in text, fw.name
        else:
            assert "skipped on this machine" in text or "not set up here" in text
    assert "No run record" not in text
    assert "Before any update, the loss on the first batch" in text
    assert 'class=\\"d2l-aligned\\"' in text and "image/png" in text


@pytest.mark.notebooks
@pytest.mark.parametrize("name", LESSONS)
def test_lesson_runs_with_small_parameters(tmp_path, name):
    """Each lesson runs top to bottom in its kernel, with the registry's parameters for the tests."""
    import papermill

    papermill.execute_notebook(NOTEBOOKS / name, tmp_path / name, cwd=NOTEBOOKS,
                               parameters=LESSONS[name], progress_bar=False)
    text = outputs_text(nbformat.read(tmp_path / name, as_version=4))
    if name == "cpu-convolutions.ipynb":  # its own checks are asserts; here, that each step showed
        assert text.count("largest difference from F.conv2d") == 4
        assert "36 multiplications per tile instead of 144" in text
        assert all(f"{layer} " in text.rsplit("ms for", 1)[-1] for layer in ("conv2", "conv3", "conv4", "conv5"))


def _stride_one_convolutions(resize):
    """(C in, C out, input side, kernel, padding) of AlexNet's stride-1 convolutions, from the table."""
    found, side, channels = [], resize, architecture.INPUT_CHANNELS
    layers = [layer for layer in architecture.ALEXNET if layer.kind in ("conv", "pool")]
    for layer, after in zip(layers, architecture.feature_map_sizes(resize)):
        if layer.kind == "conv":
            if layer.stride == 1:
                found.append((channels, layer.size, side, layer.kernel, layer.padding))
            channels = layer.size
        side = after
    return found


def test_cpu_convolutions_times_alexnets_layers():
    """The lesson writes AlexNet's layer shapes out for the reader; they must be the table's."""
    torch = pytest.importorskip("torch")
    try:
        namespace = run_tagged(NOTEBOOKS / "cpu-convolutions.ipynb", ("setup", "layers"))
    finally:
        torch.set_grad_enabled(True)  # the lesson turns gradients off for its kernel; not for this process
    written = [row[1:] for row in namespace["LAYERS"]]
    assert written == _stride_one_convolutions(make_config("reference", gpu=True).resize)


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
        headings = []  # a code cell's lines that start with "#" are comments, not headings
        if cell.cell_type == "markdown":
            headings = [line for line in cell.source.splitlines() if line.startswith("#")]
            for fw in TRAINING:
                headings = [h.replace(fw.name, "FW") for h in headings]
        rows.append((cell.cell_type, tuple(cell.metadata.get("tags", [])),
                     cell.metadata["slideshow"]["slide_type"], tuple(headings)))
    return rows


def cells_of(fw):
    return [c for c in read(fw.notebook).cells if "injected-parameters" not in c.metadata.get("tags", [])]


def test_training_notebooks_are_parallel_cell_for_cell():
    shapes = {fw.key: structure(read(fw.notebook)) for fw in TRAINING}
    first = shapes[TRAINING[0].key]
    assert all(shape == first for shape in shapes.values())
    tags = {t for row in first for t in row[1]}
    assert set(ROLES) | {"parameters", "train-step", "train-loop", "initial-loss"} <= tags


def _own_name_masked(source, fw):
    """The cell's source with the notebook's own framework name as {FW}; the links to all four
    notebooks keep their names, since every notebook lists the same four."""
    for other in TRAINING:
        source = source.replace(f"[{other.name}](", f"[<{other.key}>](")
    return source.replace(fw.name, "{FW}")


def test_shared_cells_are_identical_but_for_the_framework_name():
    literal = {fw.key: [c.source for c in cells_of(fw)] for fw in TRAINING}
    masked = {fw.key: [_own_name_masked(c.source, fw) for c in cells_of(fw)] for fw in TRAINING}
    tagged = [SHARED_EXCEPT in c.metadata.get("tags", []) for c in cells_of(TRAINING[0])]
    differing = 0
    for i, own in enumerate(tagged):
        # a shared cell is either word for word the same (it names all four frameworks) or the same
        # but for the notebook's own framework name
        kinds = [len({cells[i] for cells in sources.values()}) for sources in (literal, masked)]
        if own:
            differing += min(kinds) > 1
        else:
            assert min(kinds) == 1, f"cell {i} differs but is not tagged {SHARED_EXCEPT}"
    assert differing == sum(tagged)  # every framework-specific cell does differ


def test_hyperparameters_are_shared_not_written_per_notebook():
    for fw in TRAINING:
        source = "\n".join(c.source for c in read(fw.notebook).cells if c.cell_type == "code")
        assert "d2l.make_config(preset" in source and "d2l.initial_weights(config.resize, config.seed)" in source
        for literal in ("lr=0.", "momentum=0.9", "batch_size=128", "weight_decay=5"):
            assert literal not in source, (fw.key, literal)


@pytest.mark.parametrize("name", ALL)
def test_committed_notebook_ran_top_to_bottom_without_errors(name):
    nb = read(name)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert None not in counts, f"{name}: cells were not executed; run `make run`"
    assert counts == sorted(counts) and len(set(counts)) == len(counts), f"{name}: run out of order"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{name}: {errors[0].ename}: {errors[0].evalue}"


@pytest.mark.parametrize("fw", TRAINING, ids=frameworks.KEYS)
def test_committed_notebook_shows_preset_device_and_record(fw):
    text = outputs_text(read(fw.notebook))
    assert "preset=" in text and f"{fw.name} trains on" in text and "run record:" in text
    assert f"results/{fw.record}" in text


@pytest.mark.slow
def test_diverging_loss_stops_with_a_clear_message(tmp_path):
    with pytest.raises(TrainingDiverged, match="smaller learning rate"):
        run_tagged(NOTEBOOKS / TRAINING[0].notebook, ("setup", "data", "model", "train"),
                   preset="smoke", lr=10.0, results_dir=str(tmp_path))


KIND_OF_LAYER = {  # the names each framework's shape pass prints, by the kind of layer
    "conv": ("Conv2d", "Conv2D", "Conv"), "relu": ("ReLU", "relu", "Activation"),
    "pool": ("MaxPool2d", "MaxPooling2D", "MaxPool2D", "max_pool"), "flatten": ("Flatten", "flatten"),
    "dense": ("Linear", "Dense"), "dropout": ("Dropout",),
}
CHANNELS_LAST = {"tensorflow", "jax"}


def shape_pass(fw) -> list:
    """[(kind, per-example shape, channels first)] as the committed notebook printed its shape pass."""
    kinds = {name: kind for kind, names in KIND_OF_LAYER.items() for name in names}
    rows = []
    for cell in read(fw.notebook).cells:
        if cell.cell_type != "code" or "model" not in cell.metadata.get("tags", []):
            continue
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        for name, shape in re.findall(r"^(\w+)\s+output shape: \(([\d, ]+)\)", text, flags=re.M):
            dims = [int(d) for d in shape.split(",") if d.strip()][1:]  # without the batch
            if fw.key in CHANNELS_LAST and len(dims) == 3:
                dims = [dims[2], dims[0], dims[1]]
            rows.append((kinds[name], tuple(dims)))
    return rows


def test_the_four_committed_shape_passes_list_the_same_layers_with_the_same_shapes():
    passes = {fw.key: shape_pass(fw) for fw in TRAINING}
    reference = passes["pytorch"]
    assert len(reference) == 21 and [kind for kind, _ in reference][:3] == ["conv", "relu", "pool"]
    for key, rows in passes.items():
        assert rows == reference, f"{key}'s shape pass differs from PyTorch's: {rows} != {reference}"
