"""``neuralab viz filters|activations|gradcam RUN_DIR``: look inside a trained checkpoint.

The run's model is rebuilt and its weights loaded by :func:`neuralab.experiments.runs.load_run`;
the figure (drawn by :mod:`neuralab.viz.inside`) is written as a PNG (default:
``RUN_DIR/plots/viz-<command>.png``).

    neuralab viz filters RUN_DIR [--indices 14,26,32] [--image PHOTO]
    neuralab viz activations RUN_DIR [--layer NAME] [--n 10] [--image PHOTO]
    neuralab viz gradcam RUN_DIR [--images 8] [--split test] [--layer NAME]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from neuralab import argtypes
from neuralab.errors import NeuralabError
from neuralab.experiments.runs import LoadedRun, load_run

if TYPE_CHECKING:
    import numpy as np
    import torch


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


def _load_torch_run(run_dir) -> LoadedRun:
    """:func:`load_run` for a PyTorch run; a NumPy-engine run is refused in one line."""
    from neuralab.errors import NeuralabError

    run = load_run(run_dir)
    if run.engine != "torch":
        raise NeuralabError(f"viz looks inside PyTorch networks; {run.experiment} trained a "
                            f"NumPy network (its first-layer weights are drawn in "
                            f"{Path(run_dir) / 'plots'})")
    return run


def _out(args, run: LoadedRun, what: str) -> Path:
    return Path(args.out) if args.out else run.run_dir / "plots" / f"viz-{what}.png"


def cmd_filters(args) -> Path:
    from neuralab.viz import inside
    from neuralab.viz.common import save_figure

    run = _load_torch_run(args.run_dir)
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

    run = _load_torch_run(args.run_dir)
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

    run = _load_torch_run(args.run_dir)
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
    q.add_argument("--image", default=None, help="photo to look at (default: the zebra photo "
                   "in the data root, else the run's first test image)")
    q = vsub.add_parser("gradcam", help="Grad-CAM heat-maps over test images")
    common(q)
    q.add_argument("--images", type=argtypes.int_in(1, 64), default=8,
                   help="how many test images, 1-64 (default 8)")
    q.add_argument("--split", default="test", help="split whose images are shown (default: test)")
    q.add_argument("--layer", default=None, help="module name (default: the last conv stage)")
    q.add_argument("--image", default=None, help="runs without a dataset: the photo")
    return p


def main_viz(args) -> int:
    """Run the ``viz`` subcommand in ``args``; prints the PNG written."""
    print(COMMANDS[args.viz_command](args))
    return 0
