"""Reference results: promotion from a run, the printed table, and the README kept in sync."""

import json
from pathlib import Path

import pytest

from neuralab import results
from neuralab.errors import NeuralabError

ROOT = Path(__file__).resolve().parents[1]


def _doc(name, value, met):
    return {"experiment": name, "metric": "test_accuracy", "value": value,
            "target": {"metric": "test_accuracy", "threshold": 0.5, "source": "s",
                       "higher_is_better": True},
            "met": met, "wall_time_s": 12.0,
            "hardware": {"cpu": "CPU", "cpu_cores": 2, "gpu": None, "device": "cpu"},
            "data": [{"name": "cifar10", "note": "CIFAR-10 (JPEG copy): lossy"}],
            "command": f"neuralab run {name}", "date": "2026-11-24T12:00:00+00:00",
            "versions": {"numpy": "2"}}


def test_promote_copies_metrics_and_plots(tmp_path):
    run = tmp_path / "runs" / "a" / "1"
    (run / "plots").mkdir(parents=True)
    (run / "plots" / "curves.png").write_bytes(b"png")
    (run / "history.csv").write_text("step,train_loss\n10,1.5\n")
    (run / "metrics.json").write_text(json.dumps(_doc("a", 0.6, True)))
    out = results.promote(run, tmp_path / "results")
    doc = json.loads(out.read_text())
    assert doc["plots"] == ["a/curves.png"]
    assert (tmp_path / "results" / "a" / "curves.png").read_bytes() == b"png"
    assert (tmp_path / "results" / "a" / "history.csv").read_text() == "step,train_loss\n10,1.5\n"
    rows = results.table_rows(results.load_results(tmp_path / "results"))
    assert rows[0]["achieved"] == "0.6000" and rows[0]["met"] == "yes"
    assert rows[0]["data"] == "CIFAR-10 (JPEG copy)"


def _promote(tmp_path, seed, value, config):
    run = tmp_path / "runs" / "a" / str(seed)
    run.mkdir(parents=True)
    doc = {**_doc("a", value, value >= 0.5), "seed": seed, "config": config}
    (run / "metrics.json").write_text(json.dumps(doc))
    return json.loads(results.promote(run, tmp_path / "results").read_text())


def test_promoting_other_seeds_keeps_every_seed_and_the_worst_decides_met(tmp_path):
    _promote(tmp_path, 0, 0.62, {"lr": 0.1})
    _promote(tmp_path, 1, 0.48, {"lr": 0.1})
    doc = _promote(tmp_path, 2, 0.58, {"lr": 0.1})
    assert {k: v["value"] for k, v in doc["seeds"].items()} == {"0": 0.62, "1": 0.48, "2": 0.58}
    row = results.table_rows([doc])[0]
    assert row["seeds"] == "3: min 0.4800, mean 0.5600"
    assert row["met"] == "no"  # seed 1 missed the 0.5 target


def test_a_config_field_added_later_does_not_split_the_seed_record(tmp_path):
    _promote(tmp_path, 0, 0.62, {"lr": 0.1})
    doc = _promote(tmp_path, 1, 0.70, {"lr": 0.1, "sync_batchnorm": False})
    assert list(doc["seeds"]) == ["0", "1"]


def test_a_changed_config_starts_the_seed_record_afresh(tmp_path):
    _promote(tmp_path, 0, 0.62, {"lr": 0.1})
    doc = _promote(tmp_path, 1, 0.70, {"lr": 0.2})
    assert list(doc["seeds"]) == ["1"]
    assert results.table_rows([doc])[0]["seeds"] == "1"


def test_a_run_repeated_over_seeds_shows_them_and_the_headline_decides_met(tmp_path):
    run = tmp_path / "runs" / "a" / "0"
    run.mkdir(parents=True)
    metrics = {"test_accuracy": 0.52, "seeds": 20, "test_accuracy_min": 0.43,
               "test_accuracy_mean": 0.463, "test_accuracy_max": 0.485}
    doc = {**_doc("a", 0.52, True), "seed": 0, "metric": "test_accuracy", "metrics": metrics}
    (run / "metrics.json").write_text(json.dumps(doc))
    promoted = json.loads(results.promote(run, tmp_path / "results").read_text())
    row = results.table_rows([promoted])[0]
    assert row["seeds"] == "20 in one run: min 0.4300, mean 0.4630"
    assert row["met"] == "yes"  # judged on the headline seed, as the run itself reports


def test_a_source_loaded_twice_is_named_once():
    doc = {**_doc("a", 0.6, True), "data": [{"note": "Flowers: at 112 px"},
                                             {"note": "Flowers: at 224 px"}, {"name": "x"}]}
    assert results.table_rows([doc])[0]["data"] == "Flowers; x"


def test_data_label_keeps_commas_inside_parentheses():
    doc = {**_doc("a", 0.6, True),
           "data": [{"note": "generated (T=5,10,40), seed 0"}, {"note": "CIFAR-10, JPEG"}]}
    assert results.table_rows([doc])[0]["data"] == "generated (T=5,10,40); CIFAR-10"


def test_unfinished_run_cannot_be_promoted(tmp_path):
    with pytest.raises(NeuralabError, match="no metrics.json"):
        results.promote(tmp_path, tmp_path / "results")


def test_incomplete_reference_result_is_rejected(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"experiment": "x"}))
    with pytest.raises(NeuralabError, match="lacks metric"):
        results.load_results(tmp_path)


def test_readme_table_replaces_only_the_marked_block():
    text = f"intro\n{results.README_START}\nold\n{results.README_END}\nend\n"
    new = results.readme_with_table(text, "| t |")
    assert new == f"intro\n{results.README_START}\n| t |\n{results.README_END}\nend\n"


def test_committed_readme_table_is_generated_from_results():
    """The README's results table must equal what `neuralab results --markdown` prints."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = results.markdown_table(results.table_rows(results.load_results(ROOT / "results")))
    assert results.readme_with_table(readme, table) == readme, "run `make readme`"


def test_hardware_line_names_the_vector_extensions_when_recorded():
    from neuralab.system import hardware, hardware_line

    base = {"cpu": "AMD EPYC", "cpu_cores": 2, "gpu": None, "device": "cpu"}
    assert hardware_line(base) == "AMD EPYC (2 cores), cpu"
    assert hardware_line({**base, "cpu_simd": ["avx2", "fma"]}) == "AMD EPYC (2 cores, AVX2), cpu"
    assert hardware_line({**base, "cpu_simd": ["avx2", "avx512f"]}) == \
        "AMD EPYC (2 cores, AVX-512), cpu"
    assert isinstance(hardware("cpu")["cpu_simd"], list)


def test_every_committed_result_can_be_rerun_with_its_config():
    """``neuralab run NAME --config results/NAME.json`` rebuilds the config the result ran
    with (no stale or renamed field, every value in range)."""
    import dataclasses

    from neuralab.experiments import get_experiment
    from neuralab.experiments.config import overrides_from_file

    paths = sorted((ROOT / "results").glob("*.json"))
    assert len(paths) >= 20
    for path in paths:
        doc = json.loads(path.read_text())
        exp = get_experiment(doc["experiment"])
        overrides, seed = overrides_from_file(path, exp.name)
        config = json.loads(json.dumps(dataclasses.asdict(exp.make_config(overrides))))
        assert seed == doc["seed"]
        # fields added after a result was promoted take their defaults
        assert {k: config[k] for k in doc["config"]} == doc["config"], path.name


def test_the_terminal_table_fits_100_columns_and_shows_time_to_target(capsys):
    from neuralab.cli import main
    from neuralab.results import format_table, load_results, terminal_rows

    assert main(["results"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(load_results()) + 1 and max(map(len, lines)) <= 100
    assert lines[0].split() == ["experiment", "target", "achieved", "met", "seeds", "wall",
                                "to", "target"]
    doc = {**load_results()[0], "time_to_target": {"step": 40, "epoch": 2, "time_s": 61.6}}
    (row,) = terminal_rows([doc])
    assert row["to target"] == "62 s" and format_table([row]).splitlines()[1].endswith("62 s")
