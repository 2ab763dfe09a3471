"""The neutral core imports no framework, and each adapter imports only its own."""
import ast
import os
import subprocess

import pytest

from d2l_helpers import frameworks
from tools.crossenv import interpreter

MODULES = {fw.module for fw in frameworks.FRAMEWORKS}
NEUTRAL = ["d2l_helpers", "d2l_helpers.architecture", "d2l_helpers.config", "d2l_helpers.data",
           "d2l_helpers.devices", "d2l_helpers.metrics", "d2l_helpers.plotting", "d2l_helpers.results",
           "d2l_helpers.training", "d2l_helpers.weights", "d2l_helpers.compare", "d2l_helpers.codeview",
           "d2l_helpers.diagrams", "tools.publish", "tools.parity"]


def imported_frameworks(statement: str, framework=None) -> set:
    """Frameworks in sys.modules after `statement`, in a fresh interpreter of `framework`'s environment
    (the main one by default)."""
    python, env = interpreter(framework or frameworks.FRAMEWORKS[0])
    code = f"{statement}\nimport sys\nprint(*{{m.split('.')[0] for m in sys.modules}} & {MODULES!r})"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True,
                         cwd=frameworks.REPO, env={**os.environ, **env})
    return set(out.stdout.split())


def test_neutral_modules_import_no_framework():
    assert imported_frameworks("\n".join(f"import {m}" for m in NEUTRAL)) == set()


@pytest.mark.slow  # importing TensorFlow alone takes 10 to 40 s here
@pytest.mark.parametrize("framework", frameworks.FRAMEWORKS, ids=frameworks.KEYS)
def test_adapter_imports_only_its_framework(framework):
    """The adapter adds no framework to what its own framework imports (TensorFlow itself imports
    JAX when it is installed beside it, for its TFLite converter)."""
    problem = frameworks.problem(framework)
    if problem:
        pytest.skip(problem)
    alone = imported_frameworks(f"import {framework.module}", framework)
    assert framework.module in alone
    assert imported_frameworks(f"from d2l_helpers import {framework.module} as d2l", framework) == alone


def test_tools_is_a_library_of_benchmarks_never_the_reverse():
    """benchmarks/ imports tools/ (cells, workers, README blocks); nothing in tools/ imports benchmarks/."""
    offenders = []
    for path in sorted((frameworks.REPO / "tools").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}:{node.lineno}" for n in names if n.split(".")[0] == "benchmarks"]
    assert not offenders, f"tools/ must not import benchmarks/: {offenders}"
