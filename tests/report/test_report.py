"""The HTML report: grouped by handout, formatted, free of machine paths, self-contained."""

import json
import re
import shutil
import subprocess

import pytest

from neuralab.report import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def text_of(html: str) -> str:
    """The page without its embedded images (base64 is full of slashes)."""
    return re.sub(r"data:image/[\w+.-]+;base64,[A-Za-z0-9+/=]+", "DATA", html)


def _order(html: str, needles: list[str]) -> list[int]:
    return [html.index(n) for n in needles]


HANDOUTS = {  # experiment -> handout, deliberately not in the report's order
    "z-hw5": "COMP5421 / 16-720 hw5 Q7.1.2: a CNN on MNIST",
    "a-task3": "TDT4265 assignment 3 task 3: own design A",
    "b-task2": "TDT4265 assignment 3 task 2 (Table 2)",
    "c-task4": "TDT4265 assignment 3 task 4a recipe on EfficientNet-Lite0",
    "d-flagship": "issue 10: CIFAR-10 speed flagship",
    "e-both": "UvA DL practical 1 §2 / VISUM §1: MLP in PyTorch",
    "f-visum": "VISUM practical §3 / UvA DL assignment 2",
    "g-hlcv": "HLCV exercise 2",
}


@pytest.fixture
def report(tmp_path, make_run):
    for i, (name, handout) in enumerate(HANDOUTS.items()):
        make_run(tmp_path, name, 0.5 + i / 100, i % 2 == 0, handout=handout)
    make_run(tmp_path, "a-task3", 0.40, False, date="2026-11-23T10:00:00+00:00",
             handout=HANDOUTS["a-task3"])
    (tmp_path / "unfinished-exp" / "x").mkdir(parents=True)  # no metrics.json: not shown
    return build_report(tmp_path).read_text()


def test_sections_follow_the_handouts_and_their_task_numbers(report):
    sections = re.findall(r'<section class="course" id="course-(\w+)"', report)
    assert sections == ["visum", "uva", "hlcv", "tdt4265", "hw5", "other"]
    body = report[report.index('<section class="course"'):]
    # TDT4265 task 2 before task 3 before task 4a; an experiment under two handouts: the first
    assert _order(body, ['id="exp-b-task2"', 'id="exp-a-task3"', 'id="exp-c-task4"']) == sorted(
        _order(body, ['id="exp-b-task2"', 'id="exp-a-task3"', 'id="exp-c-task4"']))
    uva = body[body.index('id="course-uva"'):body.index('id="course-hlcv"')]
    assert 'id="exp-e-both"' in uva and 'id="exp-f-visum"' not in uva
    assert body.index('id="exp-f-visum"') < body.index('id="course-uva"')
    assert report.count('class="experiment"') == len(HANDOUTS)
    assert "unfinished-exp" not in report


def test_contents_link_every_experiment_in_section_order(report):
    contents = report[report.index('<nav id="contents">'):report.index("</nav>")]
    links = re.findall(r'href="#exp-([\w-]+)"', contents)
    anchors = re.findall(r'<article class="experiment" id="exp-([\w-]+)"', report)
    assert links == anchors and len(links) == len(HANDOUTS)
    assert "assignment 3 task 2 (Table 2)" in contents  # the task, as the handout names it


def test_each_experiment_shows_target_source_result_and_verdict(report):
    article = report[report.index('id="exp-b-task2"'):]
    article = article[:article.index("</article>")]
    assert "test_accuracy ≥ 0.4800" in article and "handout Q1.2" in article
    assert "test_accuracy = <b class=\"met\">0.5200</b>" in article  # 4 significant digits
    assert 'class="badge met"' in article
    missed = report[report.index('id="exp-c-task4"'):]
    assert 'class="badge missed"' in missed[:missed.index("</article>")]
    assert "3 min 40 s" in article and "Test CPU (2 cores), cpu" in article
    older = report[report.index('id="exp-a-task3"'):]
    assert "Earlier runs: 0.4000 (2026-11-23 10:00 UTC)" in older[:older.index("</article>")]


def test_numbers_are_formatted_and_no_machine_paths_or_full_hashes(report, tmp_path):
    text = text_of(report)
    assert "0.02857" in text and "0.02857142857142857" not in text
    assert "1.370×10⁻²²" in text and "1.37e-22" not in text
    assert "0.6667" in text and "0.6666666666" not in text  # CSV tables too
    assert str(tmp_path) not in text and "/data/cifar10" not in text
    assert not re.search(r"(?<![\w.:/])/(tmp|work|home|root|Users)/", text)
    assert "sha256:6fc2e4a5…" in text and "6fc2e4a51696acfd" not in text
    assert "3f9a7c21be5d" not in text


def test_figures_are_embedded_full_width_with_captions_naming_plot_and_run(report):
    figures = re.findall(r"<figure>(.*?)</figure>", report, flags=re.S)
    assert len(figures) == len(HANDOUTS)
    for fig in figures:
        assert re.search(r'src="data:image/(png|webp|jpeg);base64,', fig)
        m = re.search(r'--w: (\d+)px; --pw: ([\d.]+)in', fig)
        assert m and float(m.group(2)) <= int(m.group(1)) / 150 + 0.01  # >= 150 dpi printed
        caption = re.search(r"<figcaption>(.*?)</figcaption>", fig, flags=re.S).group(1)
        assert "Confusion matrix on the test split" in caption and "From the run of" in caption
        assert "seed 0" in caption
    assert "src=\"http" not in report and "href=\"http" not in report  # self-contained


def test_restored_best_weights_are_marked_and_single_evaluations_are_numbers(tmp_path,
                                                                            make_run):
    history = [{"step": s, "train_loss": 2.0 - s / 100, "val_loss": v, "val_accuracy": a}
               for s, v, a in ((100, 1.5, 0.4), (200, 0.9, 0.6), (300, 1.2, 0.55))]
    make_run(tmp_path, "restored", 0.6, True, history=history, config={"restore_best": True})
    single_run = make_run(tmp_path, "single", 0.6, True, history=[
        {"step": 10, "val_loss": 1.0, "val_accuracy": 0.6}])
    shutil.copyfile(single_run / "plots" / "confusion.png", single_run / "plots" / "curves.png")
    plain = make_run(tmp_path, "plain", 0.6, True, history=history)  # no restore_best
    shutil.copyfile(plain / "plots" / "confusion.png", plain / "plots" / "curves.png")
    html = build_report(tmp_path).read_text()
    kept = html[html.index('id="exp-plain"'):]
    kept = kept[:kept.index("</article>")]
    assert "svg+xml" not in kept and "restored" not in kept  # the run's own curves plot
    assert kept.count("<figure>") == 2 and "Learning curves: loss and accuracy" in kept
    restored = html[html.index('id="exp-restored"'):]
    restored = restored[:restored.index("</article>")]
    assert "weights restored at step 200" in restored
    assert "data:image/svg+xml;base64," in restored  # curves redrawn as vector graphics
    assert "the dashed line marks step 200" in restored
    single = html[html.index('id="exp-single"'):]
    single = single[:single.index("</article>")]
    assert "svg+xml" not in single and "Learning curves" not in single  # no lone dot
    assert single.count("<figure>") == 1  # curves.png of a single evaluation is left out
    assert "0.6000" in single  # the evaluation, as a number


def test_restored_step_in_metrics_wins_over_the_history(tmp_path, make_run):
    from neuralab.report.figures import restored_step

    history = [{"step": "1", "val_loss": "2"}, {"step": "2", "val_loss": "1"}]
    assert restored_step({"config": {"restore_best": True}}, history, "step") == 2
    assert restored_step({"metrics": {"restored_step": 1}}, history, "step") == 1
    assert restored_step({"config": {}}, history, "step") is None


def test_report_of_the_committed_results_embeds_their_plots(tmp_path, make_run):
    from neuralab.cli import main
    from neuralab.results import promote

    run = make_run(tmp_path / "runs", "exp-a", 0.51, True)
    promote(run, tmp_path / "results")
    out = tmp_path / "r.html"
    assert main(["report", "--results", str(tmp_path / "results"), "--out", str(out)]) == 0
    html = out.read_text()
    assert html.count('class="experiment"') == 1 and "0.5100" in html
    assert len(re.findall(r"<figure>", html)) == 1 and "<th>split</th>" in html
    assert "From the committed result of exp-a" in html


def test_benchmarks_are_tables_not_flattened_keys(tmp_path, make_run):
    from neuralab.results import promote

    results = tmp_path / "results"
    promote(make_run(tmp_path / "runs", "exp-a", 0.51, True), results)
    (results / "benchmarks").mkdir()
    (results / "benchmarks" / "speed.json").write_text(json.dumps({
        "benchmark": "speed", "command": "python benchmarks/speed.py --write",
        "date": "2026-11-24", "hardware": {"cpu": "Test CPU", "logical_cores": 2,
                                           "simd": ["avx2"]},
        "data": {"path": "/work/shared/data/cifar10", "note": "CIFAR-10"},
        "runs": [{"threads": 1, "results": {"mlp": {"ratio": 0.7777777, "met": True},
                                            "conv": {"ratio": 1.362, "met": True}}}]}))
    html = build_report(results, tmp_path / "r.html", from_results=True).read_text()
    bench = html[html.index('id="benchmark-speed"'):]
    assert "python benchmarks/speed.py --write" in bench and "Test CPU (2 cores, AVX2)" in bench
    assert "runs.0.results" not in bench  # no flattened JSON keys
    # results of one run: a table with a row per workload, a column per figure
    assert re.search(r"<th></th><th>ratio</th><th>met</th>", bench)
    assert "<td>mlp</td><td>0.7778</td><td>yes</td>" in bench
    assert "/work/shared" not in bench
    runs_html = build_report(tmp_path / "runs", tmp_path / "runs.html").read_text()
    assert 'id="benchmarks"' not in runs_html  # run reports show runs only


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
def test_report_renders_in_headless_chromium(tmp_path, make_run):
    make_run(tmp_path, "exp-a", 0.51, True)
    report = build_report(tmp_path)
    # a script reports whether every embedded image decoded, then the DOM is dumped
    check = tmp_path / "check.html"
    check.write_text(report.read_text().replace("</body>", """<script>
      const imgs = [...document.images];
      document.body.dataset.images = imgs.length;
      document.body.dataset.decoded = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
      document.body.dataset.rows = document.querySelectorAll('nav#contents tr').length;
    </script></body>"""))
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=3000", "--dump-dom", check.as_uri()],
        capture_output=True, text=True, timeout=90)
    dom = out.stdout
    assert 'data-images="1"' in dom and 'data-decoded="1"' in dom, out.stderr[-2000:]
    assert 'data-rows="3"' in dom  # header + course + one experiment
    assert "exp-a" in dom


@pytest.mark.slow
def test_the_committed_results_report_stays_small_and_clean(tmp_path):
    from pathlib import Path

    results = Path(__file__).resolve().parents[2] / "results"
    if not any(results.glob("*.json")):
        pytest.skip("no committed results")
    html_path = build_report(results, tmp_path / "report.html", from_results=True)
    # 3.15 MB on 2026-12-07 for 33 results, after ocr-model, digits-mlp-torch and three
    # Grad-CAM figures joined them (under 3 MB before)
    assert html_path.stat().st_size < 3_500_000
    text = text_of(html_path.read_text())
    assert not re.search(r"(?<![\w.:/])/(tmp|work|home|root|Users)/", text)
    # every number in a table cell or a figure of the summary has at most 4 significant digits
    cells = re.findall(r"<td[^>]*>(-?\d[\d.]*)</td>", text)
    cells += re.findall(r"<span>(-?\d[\d.]*)</span></div>", text)
    decimals = [c for c in cells if c.count(".") == 1]  # not versions (0.3.31)
    assert decimals and all(len(c.replace("-", "").replace(".", "").lstrip("0")) <= 4
                            for c in decimals), [c for c in decimals if len(c) > 7]
