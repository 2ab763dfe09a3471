"""The registry is the one list of frameworks, and it matches what is on disk."""
import ast
import json

import pytest
from conftest import REPO

from d2l_helpers import frameworks

NOTEBOOKS = REPO / "notebooks"


def test_every_framework_has_an_adapter_a_notebook_and_its_kernel():
    assert len(set(frameworks.KEYS)) == len(frameworks.FRAMEWORKS) == 4
    assert len({fw.color for fw in frameworks.FRAMEWORKS}) == 4
    for fw in frameworks.FRAMEWORKS:
        assert (REPO / "d2l_helpers" / f"{fw.module}.py").is_file(), fw.adapter
        notebook = json.loads((NOTEBOOKS / fw.notebook).read_text())
        assert notebook["metadata"]["kernelspec"]["name"] == fw.kernel, fw.notebook
    for name in frameworks.SUMMARY_NOTEBOOKS:
        assert (NOTEBOOKS / name).is_file()
    for name in frameworks.LESSON_NOTEBOOKS:
        notebook = json.loads((NOTEBOOKS / name).read_text())
        assert notebook["metadata"]["kernelspec"]["name"] == frameworks.MAIN.kernel, name
    assert frameworks.get("PyTorch") is frameworks.get("pytorch") is frameworks.for_module("d2l_helpers.torch")
    with pytest.raises(KeyError, match="choose one of pytorch, tensorflow, jax, mxnet"):
        frameworks.get("caffe")


def test_registry_needs_only_the_standard_library():
    tree = ast.parse((REPO / "d2l_helpers" / "frameworks.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "dataclasses", "pathlib", "json"}


def test_no_other_module_lists_the_frameworks():
    """A literal list or tuple naming three or more frameworks belongs in the registry only."""
    keys = set(frameworks.KEYS) | {fw.name for fw in frameworks.FRAMEWORKS}
    offenders = []
    for path in [*REPO.glob("d2l_helpers/*.py"), *REPO.glob("tools/*.py"), *REPO.glob("benchmarks/*.py"),
                 *REPO.glob("tests/*.py")]:
        if path.name == "frameworks.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
                named = {e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in keys}
                if len(named) >= 3:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, f"use d2l_helpers.frameworks instead of listing frameworks: {offenders}"


def test_problem_says_why_a_separate_environment_is_missing(tmp_path, monkeypatch):
    main = frameworks.Environment("main", str(tmp_path), "d2l", "x", ("3.12",), "requirements/main.txt")
    monkeypatch.setattr(frameworks, "MAIN", main)
    mxnet = frameworks.get("mxnet")
    assert frameworks.problem(frameworks.get("pytorch")) is None  # the main environment is where we are
    assert "not set up here: run `make setup`" in frameworks.problem(mxnet)
    frameworks.unavailable_note(mxnet.environment).write_text("no Python 3.11 found\n")
    assert frameworks.problem(mxnet) == "MXNet is skipped on this machine: no Python 3.11 found."
    spec = frameworks.kernel_spec_file(mxnet.environment)
    spec.parent.mkdir(parents=True)
    spec.write_text(json.dumps({"argv": [str(tmp_path / "gone" / "python")]}))
    assert "skipped" in frameworks.problem(mxnet)  # a kernel whose interpreter is gone does not count
    spec.write_text(json.dumps({"argv": [str(spec)]}))
    assert frameworks.problem(mxnet) is None


def test_tensorflow_trains_in_its_gpu_environment_once_a_gpu_setup_registered_it(tmp_path, monkeypatch):
    main = frameworks.Environment("main", str(tmp_path), "d2l", "x", ("3.12",), "requirements/main.txt")
    monkeypatch.setattr(frameworks, "MAIN", main)
    tf = frameworks.get("tensorflow")
    assert frameworks.environment_of(tf) is tf.environment and tf.kernel == "d2l"  # the notebook's kernel
    spec = frameworks.kernel_spec_file(frameworks.TENSORFLOW_GPU_ENV)
    spec.parent.mkdir(parents=True)
    spec.write_text(json.dumps({"argv": [str(spec)]}))
    assert frameworks.environment_of(tf) is frameworks.TENSORFLOW_GPU_ENV and frameworks.problem(tf) is None
    assert frameworks.environment_of(frameworks.get("pytorch")) is frameworks.get("pytorch").environment


def _defined(path) -> set:
    """Names a module defines at its top level: functions, classes, assignments (tuples unpacked)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                elts = target.elts if isinstance(target, ast.Tuple) else [target]
                names |= {e.id for e in elts if isinstance(e, ast.Name)}
    return names


@pytest.mark.parametrize("framework", frameworks.FRAMEWORKS, ids=frameworks.KEYS)
def test_every_adapter_defines_what_tools_and_benchmarks_call(framework):
    """Tools and benchmarks reach a framework through these names only (d2l_helpers/adapters.py)."""
    from d2l_helpers import adapters

    wanted = set(adapters.OWN) | set(adapters.SHARED)
    if framework.environment is frameworks.MAIN:
        wanted |= set(adapters.MAIN_ONLY)
    missing = wanted - _defined(REPO / "d2l_helpers" / f"{framework.module}.py")
    assert not missing, f"d2l_helpers/{framework.module}.py lacks {sorted(missing)}"


def test_no_tool_or_benchmark_asks_which_framework_it_has():
    """Framework-specific code lives in the adapters: no `key == "pytorch"` outside them."""
    keys = set(frameworks.KEYS) | {fw.name for fw in frameworks.FRAMEWORKS}
    offenders = []
    for path in [*REPO.glob("tools/*.py"), *REPO.glob("benchmarks/*.py"), *REPO.glob("d2l_helpers/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(
                    isinstance(side, ast.Constant) and side.value in keys for side in [node.left, *node.comparators]):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, f"move framework-specific code into its adapter: {offenders}"
