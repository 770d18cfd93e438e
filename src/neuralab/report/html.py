"""Build ``report.html`` from run folders or from the committed results.

The report is what a student hands in: experiments grouped by handout (VISUM, UvA, HLCV,
TDT4265, 16-720 hw5, then the rest) and, inside each, ordered by the handout's own task
numbers (:mod:`neuralab.report.handouts`), behind a table of contents that doubles as the
summary. Each experiment shows the handout's target and where it comes from, the result and
whether it met the target, then its figures full width with captions saying what is plotted
and from which run, and its tables. Numbers have 4 significant digits; no machine path or full
hash appears (:mod:`neuralab.report.format`). Figures are embedded (re-encoded small), so the
page has no external reference and can be mailed, archived or printed to PDF
(:mod:`neuralab.report.pdf`) as is.

For a runs folder the newest finished run of each experiment is shown (older runs are listed
below it) and learning curves are redrawn from ``history.csv`` as vector graphics, marking the
step whose weights were restored. ``build_compare`` puts several runs of one experiment side by
side.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from neuralab.errors import NeuralabError
from neuralab.io import atomic_write_text, read_csv, read_json
from neuralab.report import figures
from neuralab.report.format import clean, fmt_cell, fmt_number, is_number
from neuralab.report.handouts import course, course_order, place
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
                                     "table_dir": str(folder), "committed": True}]
    return found


# ----------------------------------------------------------------------------- text pieces

def fmt_date(text: str | None) -> str:
    """``2026-11-24T13:51:27+00:00`` -> ``2026-11-24 13:51 UTC``."""
    if not text:
        return "—"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return clean(text)
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc)
        return when.strftime("%Y-%m-%d %H:%M UTC")
    return when.strftime("%Y-%m-%d %H:%M")


def fmt_duration(seconds) -> str:
    """``219.74`` -> ``3 min 40 s``; ``12.5`` -> ``12.5 s``."""
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 60:
        return f"{fmt_number(seconds, pad=False)} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def target_text(target: dict | None) -> str:
    if not target:
        return "—"
    sign = "≥" if target.get("higher_is_better", True) else "≤"
    return f"{target.get('metric', '?')} {sign} {fmt_number(target.get('threshold'))}"


def _data_line(sources: list[dict] | dict | None) -> str:
    if isinstance(sources, dict):
        sources = [sources]
    parts = []
    for s in sources or []:
        name = s.get("note") or s.get("name") or "?"
        fmt = f" [{s['format']}]" if s.get("format") else ""
        checksum = s.get("checksum") or ""
        parts.append(clean(f"{name}{fmt}" + (f", {checksum}" if checksum else "")))
    return "; ".join(parts) or "—"


def _met(run: dict) -> str:
    met = run.get("met")
    return "met" if met else ("missed" if met is not None else "none")


# ----------------------------------------------------------------------------- tables

def _table(rows: list[dict], caption: str, name: str = "") -> dict:
    """A CSV table as header + formatted cells (numbers flagged for right alignment). A long
    narrow table (<= 4 columns, > 16 rows) is wrapped into side-by-side blocks so it fits a
    page; a long wide one shows its first 20 rows (a table is never split across pages)."""
    header = list(rows[0].keys()) if rows else []
    max_rows = 48 if len(header) <= 4 else 20
    body = [[(fmt_cell(r.get(h)), is_number(r.get(h))) for h in header]
            for r in rows[:max_rows]]
    blocks = [body]
    if len(header) <= 4 and len(body) > 16:
        n_blocks = 3 if len(header) <= 3 and len(body) > 30 else 2
        size = -(-len(body) // n_blocks)
        blocks = [body[i:i + size] for i in range(0, len(body), size)]
    more = len(rows) - len(body)
    return {"caption": caption, "header": header, "blocks": blocks,
            "more": f"{more} more rows in {name}.csv of the run" if more > 0 else ""}


def _kv_rows(d: dict, skip=(), pad: bool = True) -> list[tuple[str, str]]:
    return [(k, fmt_cell(v, pad)) for k, v in d.items()
            if k not in skip and v is not None and not isinstance(v, dict)]


_METRICS_SKIP = ("wall_time_s",)


# ----------------------------------------------------------------------------- one experiment

def _history(run: dict) -> list[dict]:
    path = Path(run["run_dir"]) / "history.csv"
    return read_csv(path) if path.is_file() else []


def _source_line(run: dict) -> str:
    """Which run a figure comes from, in words."""
    kind = "committed result" if run.get("committed") else "run"
    seed = f", seed {run['seed']}" if run.get("seed") is not None else ""
    return f"From the {kind} of {run['experiment']} of {fmt_date(run.get('date'))}{seed}"


def _restored_note(run: dict, history: list[dict]) -> str:
    cfg = run.get("config") or {}
    metrics = run.get("metrics") or {}
    x = figures.history_axis(history) or "step"
    step = figures.restored_step(run, history, x) if history else None
    if metrics.get("restored_step") is not None:
        step = metrics["restored_step"]
    if step is not None:
        return (f"The final numbers come from the weights restored at {x} {fmt_number(step)} "
                f"(the lowest validation loss), not from the last {x}.")
    if cfg.get("restore_best"):
        return ("The final numbers come from the weights with the lowest validation loss "
                "(restore_best), not from the last step.")
    return ""


def _figures(run: dict, history: list[dict]) -> list[dict]:
    """The run's plots, learning curves first. With a ``history.csv`` the curves are redrawn
    when the run restored its best weights (to mark them) or when the run has no curves plot;
    a history with a single evaluation gets no curves figure (its numbers are in the
    tables), so no figure is a lone dot."""
    run_dir = Path(run["run_dir"])
    plot_dir = Path(run.get("plot_dir") or run_dir / "plots")
    source = _source_line(run)
    pngs = sorted(plot_dir.glob("*.png"), key=lambda p: (p.stem != "curves", p.stem))
    has_png = any(p.stem == "curves" for p in pngs)
    redrawn = None
    if history:
        x = figures.history_axis(history) or "step"
        if not figures.has_curves(history):
            pngs = [p for p in pngs if p.stem != "curves"]
        elif figures.restored_step(run, history, x) is not None or not has_png:
            redrawn = figures.curves_figure(run, history, source)
    out = [redrawn] if redrawn is not None else []
    for png in pngs:
        if png.stem == "curves" and redrawn is not None:
            continue
        out.append({**figures.embed_png(png), "name": png.stem,
                    "caption": f"{figures.caption(png.stem)}. {source}."})
    for i, fig in enumerate(out):
        fig["print_width_in"] = (None if fig.get("vector")
                                 else round(fig["width"] / figures.PRINT_DPI, 2))
        fig["number"] = i + 1
    return out


def _view(run: dict) -> dict:
    run_dir = Path(run["run_dir"])
    table_dir = Path(run.get("table_dir") or run_dir / "tables")
    history = _history(run)
    placement = place(run.get("handout"))
    tables = [_table(read_csv(p), figures.table_caption(p.stem), p.stem)
              for p in sorted(table_dir.glob("*.csv"), key=lambda p: (p.stem != "final", p.stem))
              if p.stem != "history"]
    tables = [t for t in tables if t["header"]]
    metrics = run.get("metrics") or {}
    return {
        "name": run["experiment"],
        "anchor": f"exp-{run['experiment']}",
        "handout": clean(run.get("handout") or "—"),
        "course": placement.course,
        "task": placement.task,
        "task_label": placement.label,
        "target": target_text(run.get("target")),
        "target_source": clean((run.get("target") or {}).get("source") or "—"),
        "metric": run.get("metric") or (run.get("target") or {}).get("metric"),
        "value": fmt_number(run.get("value")),
        "met": _met(run),
        "seeds": clean(_seeds_line(run)),
        "wall_time": fmt_duration(run.get("wall_time_s")),
        "hardware": clean(hardware_line(run.get("hardware") or {})),
        "data": _data_line(run.get("data")),
        "seed": run.get("seed"),
        "date": fmt_date(run.get("date")),
        "command": clean(run.get("command") or ""),
        "notes": clean(run.get("notes") or ""),
        "restored": _restored_note(run, history),
        "versions": ", ".join(f"{k} {clean(str(v))}"
                              for k, v in (run.get("versions") or {}).items()),
        "metric_rows": _kv_rows(metrics, _METRICS_SKIP),
        "config_rows": _kv_rows(run.get("config") or {}, pad=False),
        "tables": tables,
        "figures": _figures(run, history),
    }


def _seeds_line(run: dict) -> str:
    """``"3 seeds: min 0.8301, mean 0.8350"`` for a result promoted over several seeds or a run
    that repeated itself over seeds (metrics ``seeds``, ``<metric>_min``/``_mean``); else ``""``."""
    higher = (run.get("target") or {}).get("higher_is_better", True)
    worst_name = "min" if higher else "max"
    values = [s["value"] for s in (run.get("seeds") or {}).values()
              if isinstance(s, dict) and isinstance(s.get("value"), (int, float))]
    if len(values) >= 2:
        worst = min(values) if higher else max(values)
        return (f"{len(values)} seeds: {worst_name} {fmt_number(worst)}, "
                f"mean {fmt_number(sum(values) / len(values))}")
    metrics, metric = run.get("metrics") or {}, run.get("metric")
    n, worst, mean = (metrics.get("seeds"), metrics.get(f"{metric}_{worst_name}"),
                      metrics.get(f"{metric}_mean"))
    if isinstance(n, int) and n >= 2 and isinstance(worst, (int, float)) \
            and isinstance(mean, (int, float)):
        return f"{n} seeds in one run: {worst_name} {fmt_number(worst)}, mean {fmt_number(mean)}"
    return ""


def group_by_handout(views: list[dict]) -> list[dict]:
    """``[{course, title, groups: [{label, experiments}]}]`` in the report's order: courses as
    :data:`~neuralab.report.handouts.COURSES` lists them, tasks by their numbers, experiments
    of one task by name."""
    views = sorted(views, key=lambda v: (course_order(v["course"]), v["task"], v["name"]))
    out: list[dict] = []
    for v in views:
        if not out or out[-1]["key"] != v["course"]:
            c = course(v["course"])
            out.append({"key": c.key, "title": c.title, "anchor": f"course-{c.key}",
                        "groups": []})
        groups = out[-1]["groups"]
        if not groups or groups[-1]["task"] != v["task"] or groups[-1]["label"] != \
                v["task_label"]:
            groups.append({"task": v["task"], "label": v["task_label"], "experiments": []})
        groups[-1]["experiments"].append(v)
    return out


# ----------------------------------------------------------------------------- benchmarks

_BENCHMARK_HEADER = ("benchmark", "command", "date", "hardware", "versions")
_LONG_TEXT = 240  # characters of a benchmark's text value shown


def _scalar(v) -> bool:
    return v is None or isinstance(v, (str, int, float, bool)) or (
        isinstance(v, list) and all(_scalar(x) and not isinstance(x, list) for x in v))


def _depth(v) -> int:
    """How deep dicts nest in ``v``: a scalar 0, ``{"a": 1}`` 1, ``{"a": {"b": 1}}`` 2."""
    return 1 + max((_depth(x) for x in v.values()), default=0) if isinstance(v, dict) else 0


def _flat_row(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat_row(v, f"{prefix}{k} "))
        else:
            out[f"{prefix}{k}"] = v
    return out


def render_value(value, depth: int = 0) -> Markup:
    """A JSON value as HTML a reader can scan: a dict as a two-column table, a list (or dict)
    of records as one table with a row per record, plain lists joined with commas."""
    if _scalar(value):  # figures as the benchmark recorded them (no padding zeros)
        text = fmt_cell(value, pad=False)
        if len(text) > _LONG_TEXT:  # a log or a script: its start says what it is
            text = text[:_LONG_TEXT].rstrip() + " …"
        return Markup(escape(text))
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()) \
            and all(_scalar(x) for v in value.values() for x in _flat_row(v).values()):
        rows = {k: _flat_row(v) for k, v in value.items()}
        return _records_table([{"": k, **r} for k, r in rows.items()])
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        flat = [_flat_row(v) for v in value]
        if max(_depth(v) for v in value) <= 2 and all(_scalar(x) for r in flat
                                                       for x in r.values()):
            return _records_table(flat)
        parts = [Markup("<div class='record'><div class='small'>{}</div>{}</div>").format(
            f"#{i + 1}", render_value(v, depth + 1)) for i, v in enumerate(value)]
        return Markup("").join(parts)
    if isinstance(value, dict):
        # the outermost table may run over pages, between its rows; inner tables never split
        top = " top" if depth == 0 else ""
        rows = [Markup("<tr class='{}'><th>{}</th><td>{}</td></tr>").format(
            top.strip(), k.replace("_", " "), render_value(v, depth + 1))
            for k, v in value.items()]
        return Markup("<table class='kv{}'>{}</table>").format(top, Markup("").join(rows))
    return Markup(escape(fmt_cell(str(value), pad=False)))


def _records_table(rows: list[dict]) -> Markup:
    header: list[str] = []
    for r in rows:
        header += [k for k in r if k not in header]
    head = Markup("").join(Markup("<th>{}</th>").format(h.replace("_", " ")) for h in header)
    body = Markup("").join(
        Markup("<tr>{}</tr>").format(Markup("").join(
            Markup("<td>{}</td>").format(fmt_cell(r.get(h), pad=False)) for h in header))
        for r in rows)
    return Markup("<table class='records'><tr>{}</tr>{}</table>").format(head, body)


def _without_paths(value):
    """``value`` without its ``path`` entries (where the data lay on the machine that ran)."""
    if isinstance(value, dict):
        return {k: _without_paths(v) for k, v in value.items() if k != "path"}
    if isinstance(value, list):
        return [_without_paths(v) for v in value]
    return value


def collect_benchmarks(results_dir: str | Path) -> list[dict]:
    """Each ``benchmarks/*.json`` under ``results_dir``: its name, command, date, hardware line
    and the rest of its figures as tables."""
    out = []
    for path in sorted((Path(results_dir) / "benchmarks").glob("*.json")):
        doc = read_json(path)
        hw = doc.get("hardware") or {}
        hw = {"cpu": hw.get("cpu"), "cpu_cores": hw.get("cpu_cores") or hw.get("logical_cores"),
              "cpu_simd": hw.get("cpu_simd") or hw.get("simd"), "gpu": hw.get("gpu"),
              "device": hw.get("device") or doc.get("device") or "cpu"}
        body = _without_paths({k: v for k, v in doc.items() if k not in _BENCHMARK_HEADER})
        out.append({"name": path.stem, "title": path.stem.replace("_", " "),
                    "command": clean(doc.get("command", "")),
                    "date": fmt_date(doc.get("date")), "hardware_line": hardware_line(hw),
                    "body": render_value(body)})
    return out


# ----------------------------------------------------------------------------- build

def _env() -> Environment:
    return Environment(loader=PackageLoader("neuralab", "report"),
                       autoescape=select_autoescape(["html"]))


def _created() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def build_report(runs_dir: str | Path = "runs", out: str | Path | None = None,
                 experiments: dict | None = None, from_results: bool = False) -> Path:
    """Write the report for every finished run under ``runs_dir`` (or, ``from_results``, for
    the reference results committed in that folder); returns the HTML path."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise NeuralabError(f"no runs folder at {runs_dir}; run an experiment first "
                            f"(`neuralab run NAME` or `neuralab demo`) or pass --runs DIR")
    found = collect_results(runs_dir) if from_results else collect_runs(runs_dir)
    views = []
    for runs in found.values():
        view = _view(runs[0])
        view["older"] = [{"value": fmt_number(o.get("value")), "date": fmt_date(o.get("date")),
                          "met": _met(o)} for o in runs[1:]]
        views.append(view)
    courses = group_by_handout(views)
    benchmarks = collect_benchmarks(runs_dir) if from_results else []
    html = _env().get_template("template.html").render(
        courses=courses, n_experiments=len(views), benchmarks=benchmarks, created=_created(),
        n_met=sum(v["met"] == "met" for v in views),
        heading="reference results" if from_results else "finished runs",
        source="the committed reference results" if from_results else "finished runs")
    out = Path(out) if out else runs_dir / "report.html"
    atomic_write_text(out, html)
    return out


def _run_doc(run_dir: Path) -> dict:
    metrics_path, config_path = run_dir / "metrics.json", run_dir / "config.json"
    if metrics_path.is_file():
        doc = read_json(metrics_path)
    elif config_path.is_file():
        doc = {**read_json(config_path), "unfinished": True}
    else:
        raise NeuralabError(f"{run_dir} is not a run folder (no metrics.json or config.json)")
    if "config" not in doc and config_path.is_file():
        doc["config"] = read_json(config_path).get("config", {})
    doc["run_dir"] = str(run_dir)
    return doc


def build_compare(run_dirs: list[str | Path], out: str | Path | None = None) -> Path:
    """Write ``compare.html``: the runs of one experiment side by side (the config values that
    differ, the metrics, and every run's learning curves on one figure)."""
    dirs = [Path(d) for d in run_dirs]
    if len(dirs) < 2:
        raise NeuralabError("--compare needs at least two run folders")
    docs = [_run_doc(d) for d in dirs]
    names = sorted({d.get("experiment") for d in docs})
    if len(names) > 1:
        raise NeuralabError(f"--compare shows runs of one experiment; got {', '.join(names)}")
    labels, seen = [], set()
    for d in dirs:
        label = d.name if d.name not in seen else f"{d.parent.name}/{d.name}"
        seen.add(label)
        labels.append(clean(label))
    configs = [doc.get("config") or {} for doc in docs]
    keys = list(dict.fromkeys(k for c in configs for k in c))
    differ = [(k, [fmt_cell(c.get(k), pad=False) for c in configs]) for k in keys
              if len({repr(c.get(k)) for c in configs}) > 1]
    same = [(k, fmt_cell(configs[0].get(k), pad=False)) for k in keys
            if len({repr(c.get(k)) for c in configs}) == 1]
    metric_keys = list(dict.fromkeys(k for doc in docs for k, v in
                                     (doc.get("metrics") or {}).items()
                                     if not isinstance(v, dict)))
    metric_rows = [(k, [fmt_cell((doc.get("metrics") or {}).get(k)) for doc in docs])
                   for k in metric_keys]
    head = [("result", [fmt_number(doc.get("value")) if "value" in doc else "unfinished"
                        for doc in docs]),
            ("target met", [_met(doc) if "met" in doc else "—" for doc in docs]),
            ("date", [fmt_date(doc.get("date")) for doc in docs]),
            ("seed", [fmt_cell(doc.get("seed")) for doc in docs]),
            ("wall time", [fmt_duration(doc.get("wall_time_s")) for doc in docs]),
            ("hardware", [clean(hardware_line(doc.get("hardware") or {}))
                          if doc.get("hardware") else "—" for doc in docs])]
    histories = {label: _history(doc) for label, doc in zip(labels, docs, strict=True)}
    fig = figures.compare_figure({k: h for k, h in histories.items() if h})
    first = docs[0]
    html = _env().get_template("compare.html").render(
        experiment=names[0], labels=labels, head=head, differ=differ, same=same,
        metric_rows=metric_rows, figure=fig, created=_created(),
        handout=clean(first.get("handout") or ""), target=target_text(first.get("target")),
        commands=[clean(doc.get("command") or "") for doc in docs])
    out = Path(out) if out else Path("compare.html")
    atomic_write_text(out, html)
    return out
