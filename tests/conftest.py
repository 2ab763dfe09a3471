"""Shared fixtures: the real Fashion-MNIST files, a sandbox where no real data is visible, and headless Chromium."""
import os
from pathlib import Path

import pytest

from d2l_helpers import data

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def real_dir() -> Path:
    """The folder holding the genuine files (Debian's package in CI)."""
    folder = data.locate()
    if folder is None:
        pytest.fail("Fashion-MNIST not found: run `make data` (CI installs dataset-fashion-mnist)")
    return folder


@pytest.fixture(scope="session")
def dataset(real_dir):
    return data.load_fashion_mnist(real_dir)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Hide every real copy: empty Debian folder, empty cache, no D2L_DATA_DIR, no reachable mirror."""
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "debian")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("D2L_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "MIRRORS", ("http://127.0.0.1:9/",))  # port 9 (discard): refused at once
    return tmp_path


ARTIFACTS = REPO / "tests" / "artifacts"  # screenshots and rendered pages the browser tests leave


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """tests/artifacts/, created: where browser tests keep their screenshots (git-ignored, but for the
    copies kept by hand in tests/artifacts/evidence/)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright; skipped without it (except on CI)."""
    from tools import handouts

    if handouts.find_chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("CI must provide Chromium (/usr/bin/chromium or `chromium` on PATH)")
        pytest.skip("Chromium not found (/usr/bin/chromium or `chromium` on PATH): "
                    "apt-get install chromium to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = handouts.launch(p)
        yield instance
        instance.close()
