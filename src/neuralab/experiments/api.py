"""``neuralab.run``: one registered experiment from Python, as ``neuralab run`` does it."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run(name: str, *, seed: int = 0, device: str = "auto", out: str | Path = "runs",
        data_dir: str | Path | None = None, **settings: Any) -> tuple[Path, dict]:
    """Run experiment ``name`` with its config fields overridden by ``settings`` (Python
    values, checked as ``--set`` values are); returns ``(run folder, metrics document)``.

    >>> run_dir, doc = neuralab.run("cifar10-simple-cnn", dataset="photos/", epochs=2)
    >>> doc["metrics"]["test_accuracy"]
    """
    from neuralab.experiments.catalog import get_experiment
    from neuralab.experiments.config import as_text
    from neuralab.experiments.runner import run_experiment

    exp = get_experiment(name)
    config = exp.make_config({key: as_text(value) for key, value in settings.items()})
    return run_experiment(exp, config, seed=seed, device=device, data_dir=data_dir,
                          out_root=out, command=f"neuralab.run({name!r}, ...)")
