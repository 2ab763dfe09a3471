"""benchmarks.preview_pairs: the order of its runs and its record, with the runs stood in for."""
import json

from benchmarks import preview_pairs


def test_runs_alternate_a_b_b_a_and_the_record_gives_each_pair_its_ratio(tmp_path, monkeypatch):
    order = []

    def run(tree, key, limits):
        order.append((key, tree.name))
        seconds = {"a": 100.0, "b": 90.0}[tree.name]
        return {"cell_seconds": seconds, "redraws": 21, "test_acc": 0.8, "train_seconds": seconds,
                "examples_per_s": 6000 / seconds}

    monkeypatch.setattr(preview_pairs, "run", run)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    output = tmp_path / "record.json"
    assert preview_pairs.main([str(tmp_path / "a"), str(tmp_path / "b"), "--frameworks", "pytorch,jax",
                               "--pairs", "2", "--train-limit", "6000", "--output", str(output)]) == 0
    assert order == [("pytorch", "a"), ("pytorch", "b"), ("jax", "a"), ("jax", "b"),
                     ("pytorch", "b"), ("pytorch", "a"), ("jax", "b"), ("jax", "a")]
    doc = json.loads(output.read_text())
    assert doc["frameworks"]["jax"]["ratios"] == [0.9, 0.9] and doc["limits"] == {"train_limit": 6000}
    table = output.with_suffix(".md").read_text()
    assert "| pytorch | 2 | 100.0 | 90.0 | 0.900 | 21 | 21 | 0.8000 | 0.8000 |" in table
    assert "Median B / A per framework: pytorch 0.900 (0.900–0.900), jax 0.900 (0.900–0.900)." in table
