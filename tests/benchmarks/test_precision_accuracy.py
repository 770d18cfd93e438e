"""benchmarks/precision_accuracy.py: one run per (experiment, precision, seed) cell, finished
cells found again instead of retrained, and a summary with per-seed values and differences."""

import json

import pytest


@pytest.fixture(scope="module")
def pa(load_benchmark):
    return load_benchmark("precision_accuracy")


def test_cells_are_run_once_and_summarised(pa, tmp_path, monkeypatch, one_thread):
    monkeypatch.setitem(pa.EXTRA, "digits-mlp-torch", {"epochs": "3"})
    monkeypatch.setattr(pa, "DEFAULT_EXPERIMENTS", ("digits-mlp-torch",))
    monkeypatch.setattr(pa, "DEFAULT_SEEDS", (0, 1))
    out, runs = tmp_path / "summary.json", tmp_path / "runs"
    args = ["--experiments", "digits-mlp-torch", "--seeds", "0,1", "--precisions", "fp32,bf16",
            "--runs", str(runs), "--out", str(out)]
    assert pa.main(args) == 0
    first = sorted(p.name for p in (runs / "digits-mlp-torch").iterdir())
    assert len(first) == 4  # 2 precisions x 2 seeds
    doc = json.loads(out.read_text())
    row = doc["experiments"]["digits-mlp-torch"]
    assert doc["complete"] is True and row["metric"] == "test_accuracy"
    for precision in ("fp32", "bf16"):
        cells = row[precision]["seeds"]
        assert [c["seed"] for c in cells] == [0, 1] and row[precision]["n"] == 2
        assert all(c["precision_used"] == precision for c in cells)
        values = [c["value"] for c in cells]
        assert row[precision]["mean"] == pytest.approx(sum(values) / 2, abs=1e-5)
    assert row["bf16_minus_fp32"] == pytest.approx(row["bf16"]["mean"] - row["fp32"]["mean"],
                                                   abs=1e-5)
    assert pa.main(args) == 0  # everything is found: nothing is trained again
    assert sorted(p.name for p in (runs / "digits-mlp-torch").iterdir()) == first
    # a sitting for some cells only (one precision, one seed) keeps every cell in the table
    assert pa.main(["--experiments", "digits-mlp-torch", "--seeds", "1", "--precisions", "bf16",
                    "--runs", str(runs), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["experiments"]["digits-mlp-torch"] == row
    # a sitting for another experiment keeps the default experiments' finished cells
    assert pa.main(["--experiments", "palindrome-rnn", "--seeds", "0,1", "--runs", str(runs),
                    "--out", str(out), "--only-summary"]) == 0
    doc = json.loads(out.read_text())
    assert list(doc["experiments"]) == ["digits-mlp-torch", "palindrome-rnn"]
    assert doc["experiments"]["digits-mlp-torch"] == row and doc["complete"] is False


def test_an_unknown_experiment_fails_before_any_training(pa, tmp_path):
    from neuralab.errors import NeuralabError

    with pytest.raises(NeuralabError, match="unknown experiment"):
        pa.main(["--experiments", "no-such", "--runs", str(tmp_path)])
    assert not any(tmp_path.iterdir())
