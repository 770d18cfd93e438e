"""Build ``report.html`` from run folders.

For each experiment the newest finished run (a folder with ``metrics.json``) is shown: the
handout's target and where it comes from, what was achieved, wall time, hardware, data source,
final metrics, extra tables and every plot. Older runs of the same experiment are listed
below it. The report of the committed results (``--results``) also shows every benchmark in
``results/benchmarks/*.json`` as a table of its figures. The page has no external references,
so it can be mailed or archived as is.
"""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from neuralab.errors import NeuralabError
from neuralab.io import atomic_write_text, read_csv, read_json
from neuralab.system import hardware_line


def collect_runs(runs_dir: str | Path) -> dict[str, list[dict]]:
    """``{experiment: [run, ...]}`` newest first; each run is its metrics.json plus paths."""
    runs_dir = Path(runs_dir)
    found: dict[str, list[dict]] = {}
    for metrics_path in sorted(runs_dir.glob("*/*/metrics.json")):
        doc = read_json(metrics_path)
        doc["run_dir"] = str(metrics_path.parent)
        found.setdefault(doc["experiment"], []).append(doc)
    for runs in found.values():
        runs.sort(key=lambda d: d.get("date", ""), reverse=True)
    return found


def collect_results(results_dir: str | Path) -> dict[str, list[dict]]:
    """The committed reference results as report entries: ``results/NAME.json`` with its plots
    and tables in ``results/NAME/`` (one entry per experiment)."""
    from neuralab.results import load_results

    results_dir = Path(results_dir)
    found = {}
    for doc in load_results(results_dir):
        folder = results_dir / doc["experiment"]
        found[doc["experiment"]] = [{**doc, "run_dir": str(folder), "plot_dir": str(folder),
                                     "table_dir": str(folder)}]
    return found


_BENCHMARK_HEADER = ("benchmark", "command", "date", "hardware", "versions")


def flatten(value, prefix: str = "") -> list[tuple[str, str]]:
    """``(dotted.key, text)`` rows of a JSON value: dicts and lists of dicts are walked
    (list items by index), lists of plain values are joined with commas."""
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in flatten(v, f"{prefix}{k}.")]
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return [row for i, v in enumerate(value) for row in flatten(v, f"{prefix}{i}.")]
    if isinstance(value, list):
        return [(prefix[:-1], ", ".join(_fmt(v) for v in value))]
    return [(prefix[:-1], _fmt(value))]


def collect_benchmarks(results_dir: str | Path) -> list[dict]:
    """Each ``benchmarks/*.json`` under ``results_dir``: its name, command, date, hardware line
    and the rest of its figures flattened to rows."""
    out = []
    for path in sorted((Path(results_dir) / "benchmarks").glob("*.json")):
        doc = read_json(path)
        hw = doc.get("hardware") or {}
        hw = {"cpu": hw.get("cpu"), "cpu_cores": hw.get("cpu_cores") or hw.get("logical_cores"),
              "cpu_simd": hw.get("cpu_simd") or hw.get("simd"), "gpu": hw.get("gpu"),
              "device": hw.get("device") or doc.get("device") or "cpu"}
        out.append({"name": path.stem, "command": doc.get("command", ""),
                    "date": doc.get("date", ""), "hardware_line": hardware_line(hw),
                    "rows": flatten({k: v for k, v in doc.items()
                                     if k not in _BENCHMARK_HEADER})})
    return out


def _data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:.1f}"
    return "" if value is None else str(value)


def _data_line(sources: list[dict]) -> str:
    parts = []
    for s in sources:
        checksum = s.get("checksum") or ""
        parts.append(f"{s.get('note') or s.get('name')} [{s.get('format', '')}] "
                     f"{checksum[:20]}{'…' if len(checksum) > 20 else ''}")
    return "; ".join(parts) or "—"


def _view(run: dict) -> dict:
    run_dir = Path(run["run_dir"])
    plot_dir = Path(run.get("plot_dir") or run_dir / "plots")
    table_dir = Path(run.get("table_dir") or run_dir / "tables")
    tables = {}
    for csv_path in sorted(table_dir.glob("*.csv")):
        rows = read_csv(csv_path)
        tables[csv_path.stem] = rows[:60]
    return {
        **run,
        "hardware_line": hardware_line(run.get("hardware", {})),
        "data_line": _data_line(run.get("data", [])),
        "value_str": _fmt(run.get("value")),
        "plots": [(p.stem, _data_uri(p)) for p in sorted(plot_dir.glob("*.png"))],
        "metric_rows": [(k, _fmt(v)) for k, v in run.get("metrics", {}).items()],
        "tables": tables,
    }


def build_report(runs_dir: str | Path = "runs", out: str | Path | None = None,
                 experiments: dict | None = None, from_results: bool = False) -> Path:
    """Write the report for every finished run under ``runs_dir`` (or, ``from_results``, for
    the reference results committed in that folder); returns the HTML path."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise NeuralabError(f"no runs folder at {runs_dir}; run an experiment first "
                            f"(`neuralab run NAME` or `neuralab demo`) or pass --runs DIR")
    found = collect_results(runs_dir) if from_results else collect_runs(runs_dir)
    sections = [{"name": name, "latest": _view(runs[0]), "older": runs[1:]}
                for name, runs in sorted(found.items())]
    env = Environment(loader=PackageLoader("neuralab", "report"),
                      autoescape=select_autoescape(["html"]))
    benchmarks = collect_benchmarks(runs_dir) if from_results else []
    html = env.get_template("template.html").render(
        sections=sections, benchmarks=benchmarks,
        created=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        runs_dir=str(runs_dir), fmt=_fmt)
    out = Path(out) if out else runs_dir / "report.html"
    atomic_write_text(out, html)
    return out
