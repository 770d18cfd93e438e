"""A run folder read back: :func:`load_run` rebuilds the model of a run and loads its weights.

A run folder (written by :mod:`neuralab.experiments.runner`) holds ``config.json`` (the
experiment's name, config and seed) and the trainer's ``checkpoint/model.safetensors``. The
model is rebuilt from the experiment's config by the experiment's ``rebuild`` (given when it
was registered), else by its topic module's ``rebuild(config)`` function (the transfer
experiments), else, for the CIFAR-10 recipes, from their ``model`` and ``normalization``
fields. ``neuralab viz`` (:mod:`neuralab.commands.viz`) draws what it loads.

This module sits in the experiments layer: it needs the registry and the topic modules.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuralab.errors import NeuralabError

if TYPE_CHECKING:
    import torch


@dataclass
class LoadedRun:
    """A run's model with its weights, and how to feed it images."""

    run_dir: Path
    experiment: str
    model: torch.nn.Module
    preprocess: Any  # uint8 [N, H, W, C] tensor -> model input
    dataset: str | None  # where test images come from (None: no dataset, e.g. zebra-filters)
    options: dict
    classes: list[str] | None = None
    config: Any = None  # the experiment's config dataclass, as the run saved it
    engine: str = "torch"  # "numpy": model is a neuralab.scratch network, preprocess gives rows


def _cifar_rebuild(cfg) -> dict[str, Any]:
    import torch

    from neuralab.experiments.cifar10 import _build_model, normalization

    mean, std = normalization(cfg.normalization)
    flat = cfg.model == "mlp"

    def preprocess(x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2).float().div(255.0) if x.dtype == torch.uint8 else x
        m = torch.as_tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
        s = torch.as_tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
        x = (x - m) / s
        return x.flatten(1) if flat else x

    return {"model": _build_model(cfg), "preprocess": preprocess, "dataset": "cifar10",
            "options": {}, "checkpoint": True}


def rebuild_spec(exp, cfg) -> dict[str, Any]:
    """``{"model", "preprocess", "dataset", "options", "checkpoint"[, "classes"]}`` of a run
    of ``exp`` with config ``cfg`` (the model with fresh weights)."""
    if exp.rebuild is not None:
        return exp.rebuild(cfg)
    module = importlib.import_module(exp.module) if exp.module else None
    if module is not None and callable(getattr(module, "rebuild", None)):
        return module.rebuild(cfg)
    if hasattr(cfg, "model") and hasattr(cfg, "normalization"):
        return _cifar_rebuild(cfg)
    raise NeuralabError(f"cannot rebuild the model of this {exp.name} run: it records no "
                        "model.json (NumPy runs write theirs when they finish; runs from "
                        "before model.json existed have none)")


def _model_record(run_dir: Path, exp, cfg, data_dir):
    """The run's :class:`ModelRecord`: its model.json, else what the experiment describes
    (runs written before model.json existed), else None."""
    from neuralab.experiments.record import MODEL_FILE, ModelRecord
    from neuralab.io import read_json

    path = run_dir / MODEL_FILE
    if path.is_file():
        doc = read_json(path)
        try:
            return ModelRecord.from_dict(doc)
        except (TypeError, AttributeError):
            raise NeuralabError(f"{path} is not a model record (it needs model, args, "
                                "classes and preprocess)") from None
    if exp.describe is not None:
        return exp.describe(cfg, data_dir)
    return None


def _load_numpy(run_dir: Path, experiment: str, record, cfg) -> LoadedRun:
    """A NumPy-engine run: its network (:func:`neuralab.scratch.models.build`) with the saved
    parameters, and its fitted :class:`~neuralab.scratch.inputs.VectorInputs`."""
    from neuralab.scratch.inputs import VectorInputs
    from neuralab.scratch.models import build
    from neuralab.scratch.training import load_weights

    weights = run_dir / record.weights
    arrays = run_dir / str(record.preprocess.get("arrays", "checkpoint/inputs.npz"))
    for path in (weights, arrays):
        if not path.is_file():
            raise NeuralabError(f"{run_dir} has no {path.relative_to(run_dir)}; the run did "
                                "not finish, so it has no trained network to load")
    model = build(record.model, **record.args)
    load_weights(model, weights)
    return LoadedRun(run_dir, experiment, model, VectorInputs.load(arrays), record.dataset,
                     dict(record.dataset_options), list(record.classes), cfg, engine="numpy")


def _load_recorded(run_dir: Path, experiment: str, record, cfg) -> LoadedRun:
    """The model of ``record`` built by the model registry, with the run's weights."""
    if record.engine == "numpy":
        return _load_numpy(run_dir, experiment, record, cfg)
    if record.engine != "torch":
        raise NeuralabError(f"{run_dir / 'model.json'}: unknown engine {record.engine!r} "
                            "(torch or numpy)")
    from neuralab.data.preprocess import Preprocess
    from neuralab.models import build_model
    from neuralab.train.checkpoint import MODEL_FILE, find_checkpoint, load_weights

    weights = run_dir / record.weights
    found = find_checkpoint(weights.parent)
    if found is None:
        raise NeuralabError(f"{run_dir} has no checkpoint ({weights} is missing); only runs "
                            "that trained a model can be loaded")
    model = build_model(record.model, **record.args)
    try:
        load_weights(model, found / MODEL_FILE)
    except (RuntimeError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise NeuralabError(f"cannot load the weights {found / MODEL_FILE} into "
                            f"{record.model}: {first}") from None
    model.eval()
    return LoadedRun(run_dir, experiment, model, Preprocess.from_dict(record.preprocess),
                     record.dataset, dict(record.dataset_options), list(record.classes), cfg)


def load_run(run_dir: str | Path) -> LoadedRun:
    """Rebuild the model of a finished (or checkpointed) run and load its weights.

    Returns a :class:`LoadedRun`: ``model`` in eval mode with the run's weights, ``classes``
    (names of its outputs), ``preprocess`` (uint8 images ``[N, H, W, C]`` -> the model's
    input), ``config`` (the experiment's config as the run saved it). The model is rebuilt
    from the run's ``model.json`` (:mod:`neuralab.experiments.record`) when it has one. For a
    NumPy-engine run (``engine == "numpy"``) ``model`` is a :mod:`neuralab.scratch` network
    (``model(rows) -> scores``) and ``preprocess`` gives its float32 rows ``[N, D]``.
    """
    from neuralab.experiments import get_experiment
    from neuralab.experiments.runner import read_run_config
    from neuralab.io import read_json
    from neuralab.train.checkpoint import MODEL_FILE, find_checkpoint, load_weights

    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    if not path.is_file():
        raise NeuralabError(f"{run_dir} is not a run folder (no config.json); give "
                            f"runs/EXPERIMENT/TIMESTAMP")
    saved = read_json(path)
    name = saved.get("experiment") if isinstance(saved, dict) else None
    if not isinstance(name, str):
        raise NeuralabError(f"{path} is not a run's config.json (no \"experiment\" name)")
    exp = get_experiment(name)
    _, cfg = read_run_config(run_dir, exp, strict=False)
    record = _model_record(run_dir, exp, cfg, saved.get("data_dir"))
    if record is not None:
        return _load_recorded(run_dir, exp.name, record, cfg)
    spec = rebuild_spec(exp, cfg)
    model = spec["model"]
    if spec["checkpoint"]:
        found = find_checkpoint(run_dir / "checkpoint")
        if found is None:
            where = run_dir / "checkpoint" / MODEL_FILE
            raise NeuralabError(f"{run_dir} has no checkpoint ({where}); only runs that "
                                f"trained a model can be shown")
        load_weights(model, found / MODEL_FILE)
    model.eval()
    classes = None
    if spec.get("classes") == "imagenet":
        from neuralab.models.transfer import imagenet_classes

        classes = imagenet_classes()
    return LoadedRun(run_dir, exp.name, model, spec["preprocess"], spec["dataset"],
                     spec["options"], classes, cfg)


def _same_config(run_dir: Path, config: dict, seed: int) -> bool:
    """Whether the run in ``run_dir`` has ``config`` (compared as JSON: tuples are saved as
    lists) and ``seed``."""
    import json

    from neuralab.io import read_json

    try:
        saved = read_json(run_dir / "config.json")
    except NeuralabError:
        return False
    return (isinstance(saved, dict) and saved.get("config") == json.loads(json.dumps(config))
            and saved.get("seed", 0) == seed)


def matching_runs(out_root: str | Path, experiment: str, config: dict, seed: int,
                  ) -> tuple[list[Path], Path | None]:
    """The runs of ``experiment`` under ``out_root`` with this ``config`` (as
    ``config_to_dict`` gives it) and ``seed``: ``(finished ones, oldest first; the newest
    unfinished one, which ``--resume`` can continue, or None)``."""
    runs = sorted(p.parent for p in (Path(out_root) / experiment).glob("*/config.json"))
    same = [r for r in runs if _same_config(r, config, seed)]
    finished = [r for r in same if (r / "metrics.json").is_file()]
    unfinished = next((r for r in reversed(same) if not (r / "metrics.json").is_file()), None)
    return finished, unfinished
