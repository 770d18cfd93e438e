"""``neuralab reproduce``: the plan, --quick budgets, skip / resume, and the report at the end."""

import json
from pathlib import Path

import pytest

from neuralab.cli import main
from neuralab.commands.reproduce import plan, quick_overrides
from neuralab.experiments import get_experiment
from neuralab.experiments.config import config_to_dict


def test_the_plan_groups_by_handout_in_the_reports_order():
    steps = plan([])
    courses = [course for course, _, _ in steps]
    order = ["visum", "uva", "hlcv", "tdt4265", "hw5", "other"]
    assert courses == sorted(courses, key=order.index)
    assert {exp.name for _, exp, _ in plan(["TDT4265"])} >= {
        "cifar10-simple-cnn", "cifar10-cnn-a", "cifar10-cnn-best", "zebra-filters"}
    visum = [exp.name for _, exp, _ in plan(["visum"])]
    assert "palindrome-rnn" in visum and "cifar10-vgg" in visum
    est = dict((exp.name, est) for _, exp, est in steps)
    assert est["cifar10-twolayer-scratch"].seconds > 0 and est["cifar10-twolayer-scratch"].cpu


def test_the_estimate_says_when_the_committed_run_differs_from_todays_defaults(tmp_path):
    from neuralab.commands.reproduce import estimate

    exp = get_experiment("cifar10-vgg")
    today = json.loads(json.dumps(config_to_dict(exp.make_config())))
    doc = {"experiment": exp.name, "wall_time_s": 1209.9, "hardware": {"cpu": "AMD EPYC"},
           "config": {**today, "precision": "fp32"}}
    (tmp_path / "cifar10-vgg.json").write_text(json.dumps(doc))
    est = estimate(exp, tmp_path)
    assert (est.seconds, est.cpu, est.differs) == (1209.9, "AMD EPYC", {"precision": "fp32"})
    assert est.describe() == "20m10s on AMD EPYC, ran with precision=fp32"
    # a result promoted before the field existed ran in fp32 too
    del doc["config"]["precision"]
    (tmp_path / "cifar10-vgg.json").write_text(json.dumps(doc))
    assert estimate(exp, tmp_path).differs == {"precision": "fp32"}
    doc["config"] = today
    (tmp_path / "cifar10-vgg.json").write_text(json.dumps(doc))
    assert estimate(exp, tmp_path).describe() == "20m10s on AMD EPYC"
    assert estimate(get_experiment("cifar10-fast"), tmp_path / "none").describe() == (
        "unknown (no committed result)")


def test_unknown_handout_is_one_line(capsys):
    assert main(["reproduce", "CS231n", "--dry-run"]) == 2
    assert "unknown handout 'cs231n'; choose from VISUM, UvA, HLCV, TDT4265, hw5" in (
        capsys.readouterr().err)


def test_quick_budgets_only_touch_the_fields_a_config_has():
    assert quick_overrides(get_experiment("palindrome-rnn")) == {
        "train_steps": "60", "eval_every": "10", "plateau_evals": "1000", "batch_size": "50",
        "val_size": "100"}
    quick = quick_overrides(get_experiment("cifar10-vgg"))
    assert quick["max_steps"] == "20" and quick["train_subset"] == "400"


@pytest.mark.slow
def test_reproduce_quick_runs_a_handout_then_skips_it_and_writes_the_report(
        tmp_path, cifar_blobs, capsys, one_thread):
    out = tmp_path / "runs"
    assert main(["reproduce", "VISUM", "--quick", "--out", str(out), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    names = [exp.name for _, exp, _ in plan(["VISUM"])]
    assert err.startswith(f"plan: {len(names)} experiments (--quick budgets)")
    for name in names:
        (run_dir,) = (out / name).iterdir()
        doc = json.loads((run_dir / "metrics.json").read_text())
        exp = get_experiment(name)
        quick = config_to_dict(exp.make_config(quick_overrides(exp)))
        assert doc["config"] == json.loads(json.dumps(quick))
    assert (out / "report.html").is_file()
    summary = json.loads((out / "reproduce.json").read_text())
    rows = summary["experiments"]
    assert [r["experiment"] for r in rows] == names and summary["complete"] is True
    walls = [json.loads((Path(r["run"]) / "metrics.json").read_text())["wall_time_s"]
             for r in rows]
    assert summary["runs_wall_time_s"] == pytest.approx(sum(walls), abs=0.1)
    # a second call finds every run finished with the same config and runs nothing
    assert main(["reproduce", "VISUM", "--quick", "--out", str(out), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert err.count("already finished with this config") == len(names)
    assert all(len(list((out / name).iterdir())) == 1 for name in names)
    again = json.loads((out / "reproduce.json").read_text())
    assert {r["outcome"] for r in again["experiments"]} == {"skipped: finished before"}
    assert again["runs_wall_time_s"] == summary["runs_wall_time_s"]


def test_missing_pretrained_weights_skip_one_experiment_and_the_rest_runs(
        tmp_path, cifar_blobs, capsys, monkeypatch, one_thread):
    """An offline machine without ResNet-18's ImageNet weights: reproduce records why it
    skipped cifar10-transfer-resnet18 and goes on to the next experiment."""
    import neuralab.commands.reproduce as reproduce
    import neuralab.models.transfer as transfer

    monkeypatch.setattr(transfer, "find_weights", lambda name, weights=None: None)
    monkeypatch.setattr(transfer, "_download", lambda name, timeout_s=30.0: (None, "offline"))
    wanted = ["cifar10-transfer-resnet18", "palindrome-rnn"]
    steps = {exp.name: (course, exp, est) for course, exp, est in reproduce.plan([])}
    monkeypatch.setattr(reproduce, "plan", lambda courses: [steps[n] for n in wanted])
    out = tmp_path / "runs"
    assert main(["reproduce", "--quick", "--out", str(out), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "skipped, its data is missing: ImageNet weights for resnet18 not found" in err
    rows = {r["experiment"]: r for r in json.loads((out / "reproduce.json").read_text())[
        "experiments"]}
    assert rows["cifar10-transfer-resnet18"]["outcome"].startswith(
        "skipped: ImageNet weights for resnet18 not found: looked for")
    # the next experiment ran (its --quick budget is too short to meet the target)
    assert rows["palindrome-rnn"]["outcome"] in ("target met", "target missed")
    assert (Path(rows["palindrome-rnn"]["run"]) / "metrics.json").is_file()
