"""The READMEs stay short, their figures match the records they come from, and their links resolve."""
import json
import re

import pytest
from conftest import REPO

from benchmarks import report
from tools import readme

README = REPO / "README.md"
BENCH_README = REPO / "benchmarks" / "README.md"
MAX_LINES = 250


def test_readme_is_short_enough_to_read_in_ten_minutes():
    lines = README.read_text().count("\n")
    assert lines <= MAX_LINES, f"README.md has {lines} lines; at most {MAX_LINES}: move detail to where it belongs"


def test_the_committed_runs_table_matches_the_run_records():
    assert readme.stale() == [], "README.md is stale: run `python -m tools.readme` (make run does)"


def test_the_latest_bench_table_matches_its_record():
    doc = json.loads((REPO / "benchmarks" / "results-cpu.json").read_text())
    assert not doc["settings"]["quick"], "benchmarks/results-cpu.json is a --quick run, not a measurement"
    assert readme.block(BENCH_README.read_text(), "bench-cpu") == report.table(doc), (
        "benchmarks/README.md's table differs from benchmarks/results-cpu.json: `make bench` writes both")


@pytest.mark.parametrize("document", [README, BENCH_README], ids=["README", "benchmarks-README"])
def test_every_link_to_a_file_resolves(document):
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", document.read_text())
    local = [t for t in targets if "://" not in t and not t.startswith("mailto:")]
    assert local, document
    missing = [t for t in local if not (document.parent / t).exists()]
    assert not missing, f"{document.relative_to(REPO)} links to missing files: {missing}"


def test_every_benchmark_record_is_cited():
    """A record nobody cites is history, and git keeps history: benchmarks/README.md cites each one."""
    text = BENCH_README.read_text()
    records = sorted(p.name for p in BENCH_README.parent.iterdir() if p.suffix in (".json", ".md", ".txt")
                     and p.name != "README.md")
    uncited = [name for name in records if name not in text and name.replace(".json", ".md") not in text]
    assert not uncited, f"cite these in benchmarks/README.md or delete them: {uncited}"


def test_blocks_are_replaced_between_their_markers_only():
    text = "a\n<!-- begin x (generated) -->\nold\n<!-- end x -->\nb\n"
    assert readme.replace_block(text, "x", "new") == "a\n<!-- begin x (generated) -->\nnew\n<!-- end x -->\nb\n"
    assert readme.block(text, "x") == "old\n"
    with pytest.raises(ValueError, match="no block 'y'"):
        readme.replace_block(text, "y", "new")
