"""The live slideshow: JupyterLab with jupyterlab-rise, as `make lab` starts it, in headless Chromium.

One JupyterLab server from the project's environment, on 127.0.0.1 with a token,
serves a copy of notebooks/ (running a cell marks a notebook changed, and
JupyterLab's autosave would write outputs into the committed files). Each
notebook is opened at /rise/<notebook>, as a presenter opens it full screen:
reveal.js must come up with as many slides as the notebook's metadata makes,
every slide must be reachable with Space, the kernel the notebook names must
start (d2l-mxnet for MXNet's), and in the training notebooks a code cell is run
from inside the slideshow until its output shows. Screenshots go to
tests/artifacts/live-*.png.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest
from test_exports import LOOPBACK, VIEWPORT, expected_slides

from d2l_helpers import frameworks
from tools import publish

pytestmark = pytest.mark.browser

START_TIMEOUT_S = 90  # JupyterLab's start on two busy cores took 8 s
SLIDESHOW_TIMEOUT_MS = 60_000  # the first notebook also waits for JupyterLab's bundles
OUTPUT_TIMEOUT_MS = 120_000  # importing a framework in a fresh kernel: under 20 s measured
# Notebooks whose setup cell runs in the slideshow: one per kernel (d2l, d2l-mxnet); both only
# import their framework and print the training settings.
RUN_SETUP = {"alexnet-pytorch": "d2l", "alexnet-mxnet": "d2l-mxnet"}
SETUP_PRINTS = "Config(preset="


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Lab:
    """A JupyterLab server started from this environment, and its REST API."""

    def __init__(self, root: Path, home: Path):
        self.root = root
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / "jupyterlab.log"
        # Settings, workspaces and kernelspecs of the user running the tests stay out: only the
        # environment's own kernels (d2l, d2l-mxnet) and defaults are seen.
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"),
               "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
               "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
               "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
        command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
                   f"--port={self.port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
                   # nothing that would reach past this machine
                   "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        if os.geteuid() == 0:
            command.append("--allow-root")
        with open(self.log, "wb") as log:
            # Its own process group: teardown ends the server and the kernels it started, and nothing else.
            self.process = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)

    def api(self, path: str, method: str = "GET"):
        """Call the server's REST API; return the decoded JSON (None for an empty answer)."""
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def kernel_of(self, path: str) -> str:
        """The name of the kernel the session of the notebook at `path` runs, once it has one."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            kernels = [s["kernel"]["name"] for s in self.api("/api/sessions") if s["path"] == path]
            if kernels:
                assert len(kernels) == 1, f"{path}: {len(kernels)} sessions"
                return kernels[0]
            time.sleep(0.5)
        pytest.fail(f"no kernel started for {path} within {START_TIMEOUT_S} s")

    def wait_until_ready(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"JupyterLab exited with {self.process.returncode}:\n{self.tail()}")
            try:
                self.api("/api/status")
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        pytest.fail(f"JupyterLab did not answer within {START_TIMEOUT_S} s:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self):
        """Shut the server down (SIGTERM stops its kernels too); kill its process group if it hangs."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # kernels that outlived it, if any
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """JupyterLab serving a copy of notebooks/ (and of what they read beside it, by link)."""
    home = tmp_path_factory.mktemp("jupyterlab")
    root = home / "notebooks"
    shutil.copytree(publish.NOTEBOOK_DIR, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for sibling in ("img", "results", "benchmarks"):  # ../img etc., as the notebooks refer to them
        if (publish.REPO / sibling).exists():
            (home / sibling).symlink_to(publish.REPO / sibling)
    server = Lab(root, home)
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()


def _kernel_problem(name: str) -> str | None:
    framework = next((fw for fw in frameworks.FRAMEWORKS if fw.notebook == f"{name}.ipynb"), None)
    return framework and frameworks.problem(framework)


def _present(page) -> str:
    return page.evaluate("(document.querySelector('.reveal .slides > section.present > section.present')"
                         " || {}).id")


_ACTIVE_CELL = "[...document.querySelectorAll('.jp-Cell')].findIndex(c => c.classList.contains('jp-mod-active'))"


def _run_setup_cell(page, setup):
    """Run the notebook from its first cell to `setup` with the presenter's keys, then `setup` itself.

    Shift+Enter runs a cell and selects the next one, hidden ones too (the skipped
    `parameters` cell that `setup` needs); Ctrl+Enter runs `setup` and stays on its slide.
    """
    page.locator(".reveal .slides .jp-Cell").first.click()  # command mode, focus in the notebook
    target = setup.evaluate("cell => [...document.querySelectorAll('.jp-Cell')].indexOf(cell)")
    while (now := page.evaluate(_ACTIVE_CELL)) < target:
        page.keyboard.press("Shift+Enter")
        # JupyterLab moves the selection after the key event returns: wait for it, or the next
        # check reads the old cell and a later press runs past `setup`.
        page.wait_for_function(f"previous => ({_ACTIVE_CELL}) !== previous", arg=now, timeout=OUTPUT_TIMEOUT_MS)
    if now > target:  # a loaded machine let JupyterLab move on twice: `setup` ran; select it again
        setup.click()
        page.wait_for_function(f"target => ({_ACTIVE_CELL}) === target", arg=target, timeout=OUTPUT_TIMEOUT_MS)
    page.keyboard.press("Control+Enter")


@pytest.mark.parametrize("name", publish.NOTEBOOKS)
def test_live_slideshow(lab, browser, artifacts, name):
    problem = _kernel_problem(name)
    if problem:
        pytest.skip(f"{name}: {problem}")
    nb = nbformat.read(publish.NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    remote = []

    def loopback_only(route):
        if urlparse(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            remote.append(route.request.url)
            route.abort()

    context = browser.new_context(viewport=VIEWPORT)
    context.route("**/*", loopback_only)
    try:
        page = context.new_page()
        page.goto(f"{lab.url}/rise/{name}.ipynb?token={lab.token}")
        page.wait_for_selector(".reveal.ready", state="attached", timeout=SLIDESHOW_TIMEOUT_MS)
        slides = page.evaluate("[...document.querySelectorAll('.reveal .slides > section > section')].map(s => s.id)")
        assert len(slides) == expected_slides(nb), f"{name}: RISE's slides against the notebook's metadata"
        page.screenshot(path=str(artifacts / f"live-{name}-title.png"))

        # Space steps through fragments and slides alike, down each vertical stack; Shift+Space back.
        steps = len(slides) + page.locator(".reveal .slides .fragment").count()
        for key, order in (("Space", slides), ("Shift+Space", slides[::-1])):
            visited = [_present(page)]
            for _ in range(steps):
                page.keyboard.press(key)
                if _present(page) != visited[-1]:
                    visited.append(_present(page))
            assert visited == order, f"{name}: {key} did not visit every slide in order"

        assert lab.kernel_of(f"{name}.ipynb") == nb.metadata.kernelspec.name
        if name in RUN_SETUP:
            assert nb.metadata.kernelspec.name == RUN_SETUP[name]
            setup = page.locator(".reveal .slides .jp-CodeCell:not(.reveal-skip)").first  # RISE hides skip cells
            _run_setup_cell(page, setup)
            # It prints the settings after every import succeeded, in the kernel the notebook names.
            page.wait_for_function("([cell, text]) => cell.querySelector('.jp-OutputArea').innerText.includes(text)",
                                   arg=[setup.element_handle(), SETUP_PRINTS], timeout=OUTPUT_TIMEOUT_MS)
            assert _present(page) == setup.evaluate("cell => cell.closest('section').id")
            page.screenshot(path=str(artifacts / f"live-{name}-setup-output.png"))
        assert remote == [], f"requests beyond 127.0.0.1: {remote}"
    finally:
        context.close()
        for session in lab.api("/api/sessions"):  # its kernel goes, rather than idling until teardown
            lab.api(f"/api/sessions/{session['id']}", method="DELETE")
