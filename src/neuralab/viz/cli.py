"""``neuralab viz filters|activations|gradcam RUN_DIR``: look inside a trained checkpoint.

A run folder holds ``config.json`` (the experiment's name and config) and the trainer's
``checkpoint/model.safetensors``. The model is rebuilt from the experiment's config (the
CIFAR-10 experiments' ``model`` field, or :func:`neuralab.experiments.transfer.rebuild` for the
transfer experiments), its weights are loaded, and the figure is written as a PNG (default:
``RUN_DIR/plots/viz-<command>.png``).

    neuralab viz filters RUN_DIR [--indices 14,26,32] [--image PHOTO]
    neuralab viz activations RUN_DIR [--layer NAME] [--n 10] [--image PHOTO]
    neuralab viz gradcam RUN_DIR [--images 8] [--split test] [--layer NAME]
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neuralab import argtypes
from neuralab.errors import NeuralabError

if TYPE_CHECKING:
    import numpy as np
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


def load_run(run_dir: str | Path) -> LoadedRun:
    """Rebuild the model of a finished (or checkpointed) run and load its weights."""
    import importlib

    from neuralab.experiments import get_experiment
    from neuralab.io import read_json
    from neuralab.train.checkpoint import MODEL_FILE, find_checkpoint, load_weights

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise NeuralabError(f"{run_dir} is not a run folder (no config.json); give "
                            f"runs/EXPERIMENT/TIMESTAMP")
    saved = read_json(run_dir / "config.json")
    exp = get_experiment(saved["experiment"])
    fields = {f.name for f in dataclasses.fields(exp.config_cls)}
    values = {k: tuple(v) if isinstance(v, list) else v
              for k, v in saved["config"].items() if k in fields}
    cfg = dataclasses.replace(exp.make_config(), **values)
    module = importlib.import_module(exp.run.__module__)
    if hasattr(module, "rebuild"):
        spec = module.rebuild(cfg)
    elif hasattr(cfg, "model") and hasattr(cfg, "normalization"):
        spec = _cifar_rebuild(cfg)
    else:
        raise NeuralabError(f"neuralab viz cannot rebuild the model of {exp.name} (its "
                            f"module {exp.run.__module__} has no rebuild(config))")
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
                     spec["options"], classes)


def _image(path: str | None, run: LoadedRun, data_dir: str | None) -> tuple[np.ndarray, str]:
    """The picture to look at: ``path``, else zebra.jpg in the data root, else the first
    test image of the run's dataset."""
    from neuralab.data import data_root
    from neuralab.data.images import read_image

    candidate = Path(path) if path else data_root(data_dir) / "images" / "zebra.jpg"
    if candidate.is_file():
        return read_image(candidate), candidate.name
    if path:
        raise NeuralabError(f"image {path} not found")
    if run.dataset is None:
        raise NeuralabError(f"no image: {candidate} is missing; pass --image PHOTO")
    split = _split(run, "test", data_dir)
    return split.images[0], f"{run.dataset} test image 0"


def _split(run: LoadedRun, name: str, data_dir: str | None):
    from neuralab import data

    ds = data.load(run.dataset, data_dir=data_dir, **run.options)
    if run.classes is None:
        run.classes = ds.classes
    return ds[name]


def _input(run: LoadedRun, image: np.ndarray) -> torch.Tensor:
    import numpy as np
    import torch

    if image.shape[-1] != 3 and image.ndim == 3:
        image = np.repeat(image[..., :1], 3, axis=-1)
    return run.preprocess(torch.from_numpy(np.ascontiguousarray(image[None])))


def _out(args, run: LoadedRun, what: str) -> Path:
    return Path(args.out) if args.out else run.run_dir / "plots" / f"viz-{what}.png"


def cmd_filters(args) -> Path:
    from neuralab.viz import inside
    from neuralab.viz.common import save_figure

    run = load_run(args.run_dir)
    name, conv = inside.first_conv(run.model)
    image, label = _image(args.image, run, args.data_dir)
    maps = inside.activations(run.model, _input(run, image), conv)[0]
    try:
        wanted = ([int(i) for i in args.indices.split(",") if i.strip()] if args.indices
                  else list(range(min(conv.out_channels, 8))))
    except ValueError:
        raise NeuralabError(f"--indices {args.indices!r}: expected integers such as 14,26,32"
                            ) from None
    bad = [i for i in wanted if not 0 <= i < conv.out_channels]
    if bad:
        raise NeuralabError(f"filter indices {bad} do not exist: {name} has "
                            f"{conv.out_channels} filters (0..{conv.out_channels - 1})")
    fig = inside.plot_filters_and_activations(
        conv.weight, maps, wanted, title=f"{run.experiment}: filters of {name} and their "
        f"activations on {label}")
    return save_figure(fig, _out(args, run, "filters"))


def cmd_activations(args) -> Path:
    from neuralab.viz import inside
    from neuralab.viz.common import save_figure

    run = load_run(args.run_dir)
    name, module = inside.layer(run.model, args.layer)
    image, label = _image(args.image, run, args.data_dir)
    maps = inside.activations(run.model, _input(run, image), module)
    if maps.ndim != 4:
        raise NeuralabError(f"layer {name} gives {tuple(maps.shape)}, not feature maps; "
                            f"choose a convolutional layer with --layer")
    fig = inside.plot_activation_maps(maps[0], n=args.n, title=f"{run.experiment}: first "
                                      f"{args.n} activation maps of {name} on {label}")
    return save_figure(fig, _out(args, run, "activations"))


def cmd_gradcam(args) -> Path:
    import numpy as np

    from neuralab.viz import inside
    from neuralab.viz.common import save_figure

    run = load_run(args.run_dir)
    if run.dataset is None:
        image, label = _image(args.image, run, args.data_dir)
        images, labels = image[None], None
    else:
        split = _split(run, args.split, args.data_dir)
        idx = inside.one_per_class(split.labels, args.images)
        images, labels = split.images[idx], split.labels[idx]
    if images.shape[-1] != 3:
        images = np.repeat(images[..., :1], 3, axis=-1)
    fig, _, _ = inside.gradcam_figure(
        run.model, images, run.preprocess, run.classes, labels, layer_name=args.layer,
        title=f"{run.experiment}: Grad-CAM at {inside.layer(run.model, args.layer)[0]}")
    return save_figure(fig, _out(args, run, "gradcam"))


COMMANDS = {"filters": cmd_filters, "activations": cmd_activations, "gradcam": cmd_gradcam}


def add_viz_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``viz`` with its three subcommands to the CLI's subparsers."""
    p = subparsers.add_parser("viz", help="filters, activation maps and Grad-CAM of a run's "
                              "checkpoint")
    vsub = p.add_subparsers(dest="viz_command", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("run_dir", metavar="RUN_DIR", help="runs/EXPERIMENT/TIMESTAMP")
        q.add_argument("--out", default=None, help="PNG to write (default: "
                       "RUN_DIR/plots/viz-<command>.png)")
        q.add_argument("--data-dir", default=None,
                       help="data root (default: $NEURALAB_DATA, else ~/.cache/neuralab)")

    q = vsub.add_parser("filters", help="first-layer filters and their activations on a photo")
    common(q)
    q.add_argument("--indices", default=None, help="filter indices, e.g. 14,26,32 "
                   "(default: the first eight)")
    q.add_argument("--image", default=None, help="photo (default: DATA_ROOT/images/zebra.jpg, "
                   "else the first test image)")
    q = vsub.add_parser("activations", help="activation maps of a layer on a photo")
    common(q)
    q.add_argument("--layer", default=None, help="module name (default: the last conv stage)")
    q.add_argument("--n", type=argtypes.int_in(1, 64), default=10,
                   help="how many maps, 1-64 (default 10)")
    q.add_argument("--image", default=None)
    q = vsub.add_parser("gradcam", help="Grad-CAM heat-maps over test images")
    common(q)
    q.add_argument("--images", type=argtypes.int_in(1, 64), default=8,
                   help="how many test images, 1-64 (default 8)")
    q.add_argument("--split", default="test")
    q.add_argument("--layer", default=None, help="module name (default: the last conv stage)")
    q.add_argument("--image", default=None, help="runs without a dataset: the photo")
    return p


def main_viz(args) -> int:
    """Run the ``viz`` subcommand in ``args``; prints the PNG written."""
    print(COMMANDS[args.viz_command](args))
    return 0
