"""The neutral core imports no framework, and each adapter imports only its own."""
import subprocess
import sys

import pytest

FRAMEWORKS = {"torch", "tensorflow", "mxnet"}


def imported_frameworks(statement: str) -> set:
    """Frameworks present in sys.modules after running `statement` in a fresh interpreter."""
    code = f"{statement}\nimport sys\nprint(*{{m.split('.')[0] for m in sys.modules}} & {FRAMEWORKS!r})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_neutral_modules_import_no_framework():
    modules = ["d2l_helpers", "d2l_helpers.architecture", "d2l_helpers.config", "d2l_helpers.data",
               "d2l_helpers.metrics", "d2l_helpers.plotting", "d2l_helpers.results"]
    assert imported_frameworks("\n".join(f"import {m}" for m in modules)) == set()


@pytest.mark.parametrize("adapter", sorted(FRAMEWORKS))
def test_adapter_imports_only_its_framework(adapter):
    assert imported_frameworks(f"from d2l_helpers import {adapter} as d2l") == {adapter}
