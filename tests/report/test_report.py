"""The HTML report: self-contained, every experiment's target and achievement, plots that load."""

import json
import shutil
import subprocess

import pytest

from neuralab.report import build_report
from neuralab.viz.common import new_figure, save_figure


def _fake_run(root, name, value, met, date="2026-11-24T10:00:00+00:00"):
    run = root / name / date[:19].replace(":", "")
    (run / "plots").mkdir(parents=True)
    fig, ax = new_figure(3, 2)
    ax.plot([0, 1, 2], [3, 1, 2])
    save_figure(fig, run / "plots" / "curves.png")
    (run / "tables").mkdir()
    (run / "tables" / "final.csv").write_text("split,accuracy\ntest,0.5\n")
    doc = {"experiment": name, "handout": "UvA practical 1 §1", "metric": "test_accuracy",
           "value": value, "met": met, "metrics": {"test_accuracy": value},
           "target": {"metric": "test_accuracy", "threshold": 0.48, "source": "handout",
                      "higher_is_better": True},
           "wall_time_s": 12.5, "hardware": {"cpu": "Test CPU", "cpu_cores": 2, "device": "cpu"},
           "data": [{"name": "cifar10", "note": "CIFAR-10 (JPEG copy)", "format": "image-folder",
                     "checksum": "sha256:abc"}],
           "seed": 0, "command": f"neuralab run {name}", "date": date, "notes": ""}
    (run / "metrics.json").write_text(json.dumps(doc))
    return run


def test_report_shows_each_experiment_with_embedded_plots(tmp_path):
    _fake_run(tmp_path, "exp-a", 0.51, True)
    _fake_run(tmp_path, "exp-a", 0.40, False, date="2026-11-23T10:00:00+00:00")
    _fake_run(tmp_path, "exp-b", 0.30, False)
    (tmp_path / "exp-c" / "unfinished").mkdir(parents=True)  # no metrics.json: not shown
    html = build_report(tmp_path).read_text()
    assert html.count('class="experiment"') == 2
    assert "exp-c" not in html
    assert "0.5100" in html and "Earlier runs: 0.4000" in html  # newest first, older listed
    assert "CIFAR-10 (JPEG copy)" in html and "Test CPU (2 cores), cpu" in html
    assert html.count("data:image/png;base64,") == 2
    assert "src=\"http" not in html and "href=\"http" not in html  # self-contained


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
def test_report_renders_in_headless_chromium(tmp_path):
    _fake_run(tmp_path, "exp-a", 0.51, True)
    report = build_report(tmp_path)
    # a script reports whether every embedded image decoded, then the DOM is dumped
    check = tmp_path / "check.html"
    check.write_text(report.read_text().replace("</body>", """<script>
      const imgs = [...document.images];
      document.body.dataset.images = imgs.length;
      document.body.dataset.decoded = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
      document.body.dataset.rows = document.querySelectorAll('#summary tr').length;
    </script></body>"""))
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=3000", "--dump-dom", check.as_uri()],
        capture_output=True, text=True, timeout=90)
    dom = out.stdout
    assert 'data-images="1"' in dom and 'data-decoded="1"' in dom, out.stderr[-2000:]
    assert 'data-rows="2"' in dom  # header + one experiment
    assert "exp-a" in dom


def test_report_of_the_committed_results_embeds_their_plots(tmp_path):
    from neuralab.cli import main

    run = _fake_run(tmp_path / "runs", "exp-a", 0.51, True)
    from neuralab.results import promote

    doc = json.loads((run / "metrics.json").read_text())
    doc.update(versions={"numpy": "2"})
    (run / "metrics.json").write_text(json.dumps(doc))
    promote(run, tmp_path / "results")
    out = tmp_path / "r.html"
    assert main(["report", "--results", str(tmp_path / "results"), "--out", str(out)]) == 0
    html = out.read_text()
    assert html.count('class="experiment"') == 1 and "0.5100" in html
    assert html.count("data:image/png;base64,") == 1 and "split" in html  # plot and table


def test_results_report_lists_each_benchmark_with_its_figures(tmp_path):
    from neuralab.report.html import flatten

    assert flatten({"a": {"b": 1.23456, "c": [1, 2]}, "runs": [{"x": None}, {"x": "y"}]}) == [
        ("a.b", "1.2346"), ("a.c", "1, 2"), ("runs.0.x", ""), ("runs.1.x", "y")]
    results = tmp_path / "results"
    promote_run = _fake_run(tmp_path / "runs", "exp-a", 0.51, True)
    doc = json.loads((promote_run / "metrics.json").read_text())
    (promote_run / "metrics.json").write_text(json.dumps({**doc, "versions": {"numpy": "2"}}))
    from neuralab.results import promote

    promote(promote_run, results)
    (results / "benchmarks").mkdir()
    (results / "benchmarks" / "speed.json").write_text(json.dumps({
        "benchmark": "speed", "command": "python benchmarks/speed.py --write",
        "date": "2026-11-24", "hardware": {"cpu": "Test CPU", "logical_cores": 2,
                                           "simd": ["avx2"]},
        "runs": [{"threads": 1, "results": {"mlp": {"ratio": 0.78, "met": True}}}]}))
    html = build_report(results, tmp_path / "r.html", from_results=True).read_text()
    assert 'id="benchmark-speed"' in html and "python benchmarks/speed.py --write" in html
    assert "<td>runs.0.results.mlp.ratio</td><td>0.7800</td>" in html
    assert "Test CPU (2 cores, AVX2), cpu" in html
    runs_html = build_report(tmp_path / "runs", tmp_path / "runs.html").read_text()
    assert 'id="benchmarks"' not in runs_html  # run reports show runs only
