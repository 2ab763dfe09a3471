"""pyproject.toml and environment.yml describe the same environment."""
import tomllib

import yaml

from conftest import REPO


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    declared = set(project["dependencies"]) | set(extras["cpu"]) | set(extras["notebooks"]) | set(extras["test"])
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "python=3.11" in conda
    assert set(pip) - {"-e ."} == declared
    assert "-e ." in pip
    assert project["requires-python"] == ">=3.11,<3.12"


def test_gpu_extra_differs_only_by_the_cuda_builds():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    swapped = {"mxnet==1.9.1": "mxnet-cu112==1.9.1", "tensorflow==2.17.1": "tensorflow[and-cuda]==2.17.1"}
    assert sorted(swapped.get(d, d) for d in extras["cpu"]) == sorted(extras["gpu"])
