"""``neuralab predict RUN_DIR_OR_EXPERIMENT IMAGE... [--topk K] [--json]``: classify images.

The model, its weights, its class names and its preprocessing come from the run folder
(:func:`neuralab.load_run`); an experiment name stands for its newest finished run under
``--runs``. ``-`` reads one image from standard input. Each image is converted to the model's
channels (gray or RGB), resized so its shorter side fits the model's input and centre-cropped
(when the model has a fixed input size), normalised as in training, and its top-k classes are
printed with their softmax probabilities::

    $ neuralab predict cifar10-simple-cnn cat.jpg
    cat.jpg: cat 0.8123, dog 0.1032, deer 0.0301, frog 0.0210, bird 0.0144
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from neuralab import argtypes
from neuralab.errors import NeuralabError


def add_predict_parser(sub) -> None:
    p = sub.add_parser("predict", help="classify images with a finished run's model",
                       description=__doc__.splitlines()[0].split(": ", 1)[1])
    p.add_argument("run", metavar="RUN_DIR_OR_EXPERIMENT",
                   help="a run folder, or an experiment name (its newest finished run)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files; - reads stdin")
    p.add_argument("--topk", type=argtypes.count, default=5,
                   help="how many classes to show per image (default 5)")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.add_argument("--runs", type=argtypes.path, default="runs",
                   help="runs folder an experiment name is looked up in (default: runs)")


def resolve_run(target: str, runs: str | Path = "runs") -> Path:
    """A run folder from a path or an experiment name (its newest run with metrics.json)."""
    path = Path(target)
    if (path / "config.json").is_file():
        return path
    if path.exists() or "/" in target:
        raise NeuralabError(f"{target} is not a run folder (no config.json); give "
                            "runs/EXPERIMENT/TIMESTAMP or an experiment name")
    from neuralab.experiments import get_experiment

    get_experiment(target)  # an unknown name: one line with the close matches
    finished = sorted(p.parent for p in (Path(runs) / target).glob("*/metrics.json"))
    if not finished:
        raise NeuralabError(f"no finished run of {target} under {Path(runs) / target}; train "
                            f"one with `neuralab run {target}` or give a run folder")
    return finished[-1]


def _read(name: str, channels: int):
    """uint8 ``[H, W, C]`` of a file (or of stdin for ``-``) with ``channels`` channels."""
    from neuralab.data.images import decode_one

    if name == "-":
        data, where = sys.stdin.buffer.read(), Path("<stdin>")
    else:
        where = Path(name)
        if not where.is_file():
            raise NeuralabError(f"image {name} not found")
        data = where.read_bytes()
    return decode_one(data, where, "L" if channels == 1 else "RGB", None)


def _fit(image, size: int | None):
    """Shorter side to ``size``, then the central square (a no-op at the right size)."""
    import numpy as np
    from PIL import Image

    from neuralab.data.images import resize_center_crop

    if size is None or image.shape[:2] == (size, size):
        return image
    gray = image.shape[2] == 1
    pil = Image.fromarray(image[..., 0] if gray else image)
    out = np.asarray(resize_center_crop(pil, size), dtype=np.uint8)
    return out[..., None] if gray else out


def predict(run, images, topk: int = 5) -> list[dict]:
    """Top-``topk`` classes of each image: ``[{"image": name, "top": [{"class": str,
    "probability": float}, ...]}]``, most probable first.

    ``run``: a :class:`~neuralab.experiments.runs.LoadedRun` (from :func:`neuralab.load_run`) or
    a run folder; ``images``: file paths (``-`` for stdin) or uint8 arrays ``[H, W, C]``.
    """
    import numpy as np

    if isinstance(run, str | Path):
        from neuralab.experiments.runs import load_run

        run = load_run(run)
    pre = run.preprocess
    channels = getattr(pre, "channels", None) or 3
    size = getattr(pre, "size", None)  # Preprocess / VectorInputs; None: any size
    pixels, names = [], []
    for i, item in enumerate(images):
        if isinstance(item, np.ndarray):
            image = item if item.ndim == 3 else item[..., None]
            if image.shape[2] != channels:
                image = np.repeat(image[..., :1], 3, axis=2) if channels == 3 else (
                    np.rint(image[..., :3] @ np.array([0.299, 0.587, 0.114]))[..., None])
            pixels.append(_fit(image.astype(np.uint8), size))
            names.append(f"image {i}")
        else:
            pixels.append(_fit(_read(str(item), channels), size))
            names.append(str(item))
    images = names
    probs = _probabilities(run, np.stack(pixels))
    classes = run.classes or [str(i) for i in range(probs.shape[1])]
    k = min(topk, probs.shape[1])
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [{"image": name,
             "top": [{"class": classes[i], "probability": round(float(probs[row, i]), 6)}
                     for i in order[row].tolist()]}
            for row, name in enumerate(images)]


def _probabilities(run, batch):
    """Softmax of the run's model on uint8 images ``[N, H, W, C]``: float64 ``[N, K]``."""
    import numpy as np

    if getattr(run, "engine", "torch") == "numpy":
        from neuralab.scratch import softmax

        return softmax(run.model(run.preprocess(batch)).astype(np.float64), axis=1)
    import torch

    params = next(run.model.parameters(), None)
    device = params.device if params is not None else torch.device("cpu")
    with torch.no_grad():
        x = run.preprocess(torch.from_numpy(batch)).to(device)
        return run.model(x).float().softmax(dim=1).cpu().double().numpy()


def run_predict(args: argparse.Namespace) -> int:
    from neuralab.experiments.runs import load_run

    if args.images.count("-") > 1:
        raise NeuralabError("- (standard input) can be given only once")
    run_dir = resolve_run(args.run, args.runs)
    run = load_run(run_dir)
    results = predict(run, args.images, args.topk)
    if args.json:
        json.dump({"run": str(run_dir), "experiment": run.experiment, "predictions": results},
                  sys.stdout, indent=1)
        print()
    else:
        for r in results:
            shown = ", ".join(f"{t['class']} {t['probability']:.4f}" for t in r["top"])
            print(f"{r['image']}: {shown}")
    return 0
