"""Fake run folders for the report tests."""

import json
import shutil

import pytest

from neuralab.viz.common import new_figure, save_figure

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFTOPPM = shutil.which("pdftoppm")


def fake_run(root, name, value, met, date="2026-11-24T10:00:00+00:00", handout=None,
             history=None, config=None, metrics=None):
    """A finished run folder ``root/name/<timestamp>`` with a plot, a table and metrics.json
    that names machine paths and full hashes (which the report must not show)."""
    run = root / name / date[:19].replace(":", "")
    (run / "plots").mkdir(parents=True)
    fig, ax = new_figure(3, 2)
    ax.plot([0, 1, 2], [3, 1, 2])
    save_figure(fig, run / "plots" / "confusion.png")
    (run / "tables").mkdir()
    (run / "tables" / "final.csv").write_text("split,accuracy\ntest,0.5\ntrain,0.6666666666\n")
    if history is not None:
        keys = list(dict.fromkeys(k for row in history for k in row))
        lines = [",".join(keys)] + [",".join("" if row.get(k) is None else str(row[k])
                                             for k in keys) for row in history]
        (run / "history.csv").write_text("\n".join(lines) + "\n")
    doc = {"experiment": name, "handout": handout or "UvA DL practical 1 §1: MLP in NumPy",
           "metric": "test_accuracy", "value": value, "met": met,
           "metrics": {"test_accuracy": value, "rate": 0.02857142857142857, "tiny": 1.37e-22,
                       **(metrics or {})},
           "target": {"metric": "test_accuracy", "threshold": 0.48, "source": "handout Q1.2",
                      "higher_is_better": True},
           "wall_time_s": 219.74, "hardware": {"cpu": "Test CPU", "cpu_cores": 2,
                                               "device": "cpu"},
           "data": [{"name": "cifar10", "note": "CIFAR-10 (JPEG copy)", "format": "image-folder",
                     "path": str(root / "data" / "cifar10"),
                     "checksum": "sha256:6fc2e4a51696acfdff463fbd974e681327e6c5d82cc851f1"}],
           "config": {"learning_rate": 0.001, "batch_size": 200, **(config or {})},
           "seed": 0, "command": f"neuralab run {name} --data-dir {root / 'data'}",
           "date": date, "notes": f"checkpoint in {run / 'checkpoint'}",
           "versions": {"neuralab": "0.1.0+g3f9a7c21be5d"}}
    (run / "metrics.json").write_text(json.dumps(doc))
    (run / "config.json").write_text(json.dumps({"experiment": name, "config": doc["config"],
                                                 "seed": 0}))
    return run


@pytest.fixture
def make_run():
    return fake_run
