"""Reference results: the numbers the README quotes, committed as ``results/<experiment>.json``.

A reference result is a finished run's metrics.json reduced to the fields a reader needs
(``REQUIRED``) plus its plots copied beside it (``results/<experiment>/*.png``). ``neuralab
results`` prints them; the README's results table is generated from them by
``neuralab results --update-readme`` and a test keeps the two in sync, so no number in the
README is typed by hand.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from neuralab.errors import NeuralabError
from neuralab.io import atomic_write_text, read_json, write_json
from neuralab.system import hardware_line
from neuralab.text import text_table

REQUIRED = ("experiment", "metric", "value", "target", "met", "wall_time_s", "hardware", "data",
            "command", "date", "versions")
README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def load_results(results_dir: str | Path = "results") -> list[dict]:
    """Every ``results/*.json`` with the required fields, sorted by experiment name."""
    out = []
    for path in sorted(Path(results_dir).glob("*.json")):
        doc = read_json(path)
        missing = [k for k in REQUIRED if k not in doc]
        if missing:
            raise NeuralabError(f"{path}: reference result lacks {', '.join(missing)}")
        out.append(doc)
    return out


def promote(run_dir: str | Path, results_dir: str | Path = "results") -> Path:
    """Copy a finished run's metrics (and plots, tables and history.csv) into ``results/`` as
    the reference result."""
    run_dir = Path(run_dir)
    metrics_path = run_dir / "metrics.json"
    if not metrics_path.exists():
        raise NeuralabError(f"{run_dir} has no metrics.json: only finished runs can be promoted")
    doc = read_json(metrics_path)
    name = doc["experiment"]
    results_dir = Path(results_dir)
    plots = sorted((run_dir / "plots").glob("*.png"))
    plot_dir = results_dir / name
    if plots:
        plot_dir.mkdir(parents=True, exist_ok=True)
        for png in plots:
            shutil.copyfile(png, plot_dir / png.name)
    for csv_path in sorted((run_dir / "tables").glob("*.csv")):
        plot_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(csv_path, plot_dir / csv_path.name)
    if (run_dir / "history.csv").is_file():  # the report redraws the curves from it
        plot_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run_dir / "history.csv", plot_dir / "history.csv")
    doc["plots"] = [f"{name}/{p.name}" for p in plots]
    doc.pop("run_dir", None)
    target = results_dir / f"{name}.json"
    doc["seeds"] = merged_seeds(read_json(target) if target.exists() else None, doc)
    return write_json(target, doc)


def _seed_entry(doc: dict) -> dict:
    return {"value": doc["value"], "met": doc["met"], "wall_time_s": doc["wall_time_s"],
            "date": doc["date"]}


def config_differences(a: dict | None, b: dict | None) -> dict[str, Any]:
    """The fields both configs have whose values differ, with ``a``'s values (in ``a``'s
    order): a field only one of them has (added to a config class later) is no difference."""
    a, b = a or {}, b or {}
    return {k: v for k, v in a.items() if k in b and v != b[k]}


def same_recipe(a: dict | None, b: dict | None) -> bool:
    """Configs equal on every field both have: a field added to a config class later (with a
    default that keeps the old behaviour) does not make older runs another recipe."""
    return not config_differences(a, b)


def merged_seeds(previous: dict | None, new: dict) -> dict[str, dict]:
    """The per-seed record of one experiment: ``{seed: {value, met, wall_time_s, date}}``.

    Promoting a run with another seed but the same config adds it to the previous result's
    record (so "≥75% consistently over 3 seeds" is shown, not claimed); a changed config
    starts the record afresh, since runs of different recipes are not seeds of one.
    """
    seeds: dict[str, dict] = {}
    if previous is not None and same_recipe(previous.get("config"), new.get("config")):
        seeds.update(previous.get("seeds") or {str(previous.get("seed")): _seed_entry(previous)})
    seeds[str(new.get("seed"))] = _seed_entry(new)
    return dict(sorted(seeds.items(), key=lambda kv: (len(kv[0]), kv[0])))


def seeds_summary(doc: dict) -> str:
    """``"3: min 0.8301, mean 0.8350"`` for a result promoted over several seeds;
    ``"20 in one run: min 0.4345, mean 0.4630"`` for a run that repeated itself over seeds
    (metrics ``seeds``, ``<metric>_min``/``_max`` and ``<metric>_mean``); else ``"1"``."""
    higher_is_better = doc["target"].get("higher_is_better", True)
    label = "min" if higher_is_better else "max"
    values = [s["value"] for s in (doc.get("seeds") or {}).values()
              if isinstance(s.get("value"), (int, float))]
    if len(values) >= 2:
        worst = min(values) if higher_is_better else max(values)
        return f"{len(values)}: {label} {worst:.4f}, mean {sum(values) / len(values):.4f}"
    metrics, metric = doc.get("metrics") or {}, doc.get("metric")
    n, worst, mean = (metrics.get("seeds"), metrics.get(f"{metric}_{label}"),
                      metrics.get(f"{metric}_mean"))
    if isinstance(n, int) and n >= 2 and isinstance(worst, (int, float)) \
            and isinstance(mean, (int, float)):
        return f"{n} in one run: {label} {worst:.4f}, mean {mean:.4f}"
    return "1"


def met_on_every_seed(doc: dict) -> bool:
    return bool(doc["met"]) and all(s.get("met") for s in (doc.get("seeds") or {}).values())


def _first_clause(text: str) -> str:
    """``text`` up to its first ``:`` or ``,`` outside parentheses:
    ``"generated (T=5,10), seed 0"`` -> ``"generated (T=5,10)"``."""
    depth = 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth <= 0 and ch in ":,":
            return text[:i].strip()
    return text.strip()


def _data_label(doc: dict) -> str:
    """The first clause of each data source's note, e.g. ``CIFAR-10 (JPEG copy)``."""
    labels = [d.get("note") or d.get("name", "") for d in doc.get("data", [])]
    short = (_first_clause(label) for label in labels)
    return "; ".join(dict.fromkeys(short)) or "—"  # one mention per source, in order


def table_rows(results: list[dict]) -> list[dict]:
    rows = []
    for r in results:
        t = r["target"]
        op = ">=" if t.get("higher_is_better", True) else "<="
        value = r["value"]
        rows.append({
            "experiment": r["experiment"],
            "target": f"{t['metric']} {op} {t['threshold']:g}",
            "achieved": f"{value:.4f}" if isinstance(value, float) else str(value),
            "met": "yes" if met_on_every_seed(r) else "no",
            "seeds": seeds_summary(r),
            "wall time": f"{r['wall_time_s']:.0f} s",
            "hardware": hardware_line(r["hardware"]),
            "data": _data_label(r),
            "date": r["date"][:10],
        })
    return rows


def _time_to_target(doc: dict) -> str:
    hit = doc.get("time_to_target")
    if not hit or hit.get("time_s") is None:
        return "-"
    return f"{hit['time_s']:.0f} s"


def terminal_rows(results: list[dict]) -> list[dict]:
    """The rows ``neuralab results`` prints: what fits 100 columns (the hardware, data and
    per-seed figures are in ``--markdown`` and ``--json``); ``to target``: training time
    until the target was first met (runs that recorded it)."""
    rows = []
    for row, doc in zip(table_rows(results), results, strict=True):
        rows.append({"experiment": row["experiment"], "target": row["target"],
                     "achieved": row["achieved"], "met": row["met"],
                     "seeds": row["seeds"].split(":")[0].replace(" in one run", "/run"),
                     "wall": row["wall time"], "to target": _time_to_target(doc)})
    return rows


def format_table(rows: list[dict]) -> str:
    if not rows:
        return "no reference results yet"
    cols = list(rows[0])
    return "\n".join(line.rstrip() for line in text_table(cols, ([r[c] for c in cols]
                                                                 for r in rows)))


def markdown_table(rows: list[dict]) -> str:
    if not rows:
        return "_No reference results committed yet._"
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def readme_with_table(readme_text: str, table: str) -> str:
    """``readme_text`` with the block between the results markers replaced by ``table``."""
    start, end = readme_text.find(README_START), readme_text.find(README_END)
    if start < 0 or end < start:
        raise NeuralabError(f"README lacks the markers {README_START} ... {README_END}")
    return readme_text[: start + len(README_START)] + "\n" + table + "\n" + readme_text[end:]


def update_readme(readme: str | Path = "README.md", results_dir: str | Path = "results") -> bool:
    """Regenerate the README's results table; returns True when the file changed."""
    readme = Path(readme)
    if not readme.is_file():
        raise NeuralabError(f"no README at {readme}; give the README.md to update")
    text = readme.read_text(encoding="utf-8")
    new = readme_with_table(text, markdown_table(table_rows(load_results(results_dir))))
    if new != text:
        atomic_write_text(readme, new)
    return new != text
