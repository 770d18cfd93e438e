"""`neuralab report --compare RUN_DIR...`: runs of one experiment side by side."""

import re

import pytest

from neuralab.cli import main
from neuralab.errors import NeuralabError
from neuralab.report import build_compare


def _history(scale):
    return [{"step": s, "train_loss": scale * (3 - s / 100), "val_loss": scale * (2.5 - s / 150),
             "val_accuracy": 0.3 + s / 1000} for s in (100, 200, 300)]


@pytest.fixture
def two_runs(tmp_path, make_run):
    a = make_run(tmp_path, "exp", 0.51, True, history=_history(1.0),
                 config={"learning_rate": 0.001})
    b = make_run(tmp_path, "exp", 0.47, False, date="2026-11-25T10:00:00+00:00",
                 history=_history(1.2), config={"learning_rate": 0.01})
    return a, b


def test_compare_shows_config_differences_metrics_and_one_curve_figure(tmp_path, two_runs):
    out = tmp_path / "cmp.html"
    assert main(["report", "--compare", *map(str, two_runs), "--out", str(out)]) == 0
    html = out.read_text()
    differ = html[html.index('id="config-differences"'):]
    differ = differ[:differ.index("</table>")]
    rows = re.findall(r"<tr><th>([\w.]+)</th>", differ)
    assert rows == ["setting", "learning_rate"]  # only what differs; batch_size is shared
    assert "<td class=\"num\">0.001</td><td class=\"num\">0.01</td>" in differ
    metrics = html[html.index('id="metrics-table"'):]
    assert "<th>test_accuracy</th><td class=\"num\">0.5100</td><td class=\"num\">0.4700</td>" \
        in metrics
    assert html.count("data:image/svg+xml;base64,") == 1  # all runs' curves on one figure
    assert str(tmp_path) not in re.sub(r"data:[^\"]+", "", html)
    assert 'class="met">met' in html and 'class="missed">missed' in html


def test_compare_refuses_runs_of_different_experiments(tmp_path, make_run):
    a = make_run(tmp_path, "exp-a", 0.5, True)
    b = make_run(tmp_path, "exp-b", 0.5, True)
    with pytest.raises(NeuralabError, match="one experiment"):
        build_compare([a, b], tmp_path / "x.html")
    with pytest.raises(NeuralabError, match="at least two"):
        build_compare([a], tmp_path / "x.html")


def test_compare_curves_draw_one_line_per_run_and_split(two_runs):
    from neuralab.report.figures import _numeric_history
    from neuralab.viz.curves import plot_curves

    fig = plot_curves([], metrics=("loss",), splits=("train", "val"),
                      runs={"a": _numeric_history(_history(1.0)),
                            "b": _numeric_history(_history(1.2))})
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == ["a train", "a val", "b train", "b val"]
