"""What the CIFAR-10 JPEG copy costs the UvA NumPy MLP, measured by compressing it once more.

The genuine CIFAR-10 batches are not obtainable offline; ``../shared/data/cifar10`` is a
re-encoding of them as baseline JPEG, quality 75 with 4:2:0 chroma subsampling (its files carry
libjpeg's quality-75 quantisation tables), about 30 dB PSNR from the original pixels. The drop
"genuine -> copy" cannot be measured here, but the drop "copy -> copy compressed again" can:

- ``aligned``: the copy saved again exactly as it was saved (quality 75, 4:2:0, same 8x8 block
  grid). Quantising the same blocks twice loses little, so this is a lower bound.
- ``shifted``: the same, with every image reflect-padded by 3 pixels on the top and left (5 on
  the bottom and right) before saving and cropped back after loading. The 8x8 DCT blocks and
  the 2x2 chroma cells then straddle other pixels than the first time, so the second pass
  throws away about as much as the first did (its PSNR against the copy is printed); its drop
  is the estimate of what the first pass cost.

Every variant trains ``cifar10-mlp-scratch`` with its exact defaults (:class:`MLPScratchConfig`)
on the same seeds, so the per-seed differences are paired.

    python benchmarks/jpeg_cost.py [--seeds 5] [--write]

``--write`` stores the table as JSON in results/benchmarks/jpeg_cost.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from neuralab import data  # noqa: E402
from neuralab.experiments.scratch_cifar import Inputs, MLPScratchConfig, _train_mlp  # noqa: E402
from neuralab.io import write_json  # noqa: E402
from neuralab.system import cpu_model  # noqa: E402

OUT = ROOT / "results" / "benchmarks" / "jpeg_cost.json"
QUALITY, SUBSAMPLING = 75, 2  # PIL: subsampling 2 = 4:2:0


def recompress(images: np.ndarray, offset: int = 0, quality: int = QUALITY) -> np.ndarray:
    """Save every ``[N, H, W, 3]`` uint8 image as JPEG (``quality``, 4:2:0) and load it back.

    ``offset > 0`` reflect-pads each image by ``offset`` pixels on the top/left and
    ``8 - offset`` on the bottom/right first (so the block grid moves by ``offset``) and crops
    the decoded image back to ``H x W``.
    """
    out = np.empty_like(images)
    pad = ((offset, 8 - offset), (offset, 8 - offset), (0, 0)) if offset else None
    h, w = images.shape[1:3]
    for i, img in enumerate(images):
        src = np.pad(img, pad, mode="reflect") if pad else img
        buf = io.BytesIO()
        Image.fromarray(src).save(buf, format="JPEG", quality=quality, subsampling=SUBSAMPLING)
        dec = np.asarray(Image.open(buf).convert("RGB"))
        out[i] = dec[offset:offset + h, offset:offset + w]
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float | None:
    """Peak signal-to-noise ratio in dB of two uint8 arrays (None when they are equal)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return round(float(10 * np.log10(255.0 ** 2 / mse)), 2) if mse else None


def _recipe() -> dict:
    cfg = MLPScratchConfig()
    return {k: getattr(cfg, k) for k in ("dnn_hidden_units", "activation", "learning_rate",
                                         "max_steps", "batch_size", "init_std")}


def train_seeds(train: np.ndarray, y_tr, test: np.ndarray, y_te, seeds: list[int]) -> list[float]:
    """Test accuracy of the UvA MLP (handout defaults) for each seed."""
    cfg = MLPScratchConfig()
    inputs = Inputs(cfg, train, test, log=lambda msg: None)
    return [round(_train_mlp(cfg, inputs, y_tr, y_te, s, log=lambda msg: None,
                             desc=f"seed {s}")["test_accuracy"], 4) for s in seeds]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        raise SystemExit("error: --seeds must be >= 1")
    from threadpoolctl import threadpool_limits

    seeds = list(range(args.seeds))
    cifar = data.load("cifar10")
    tr, te = cifar.splits["train"], cifar.splits["test"]
    print(f"data: {cifar.source.note or cifar.source.name} ({len(tr.labels)} train, "
          f"{len(te.labels)} test)")
    variants = {"copy": (tr.images, te.images)}
    started = time.perf_counter()
    for name, offset in (("aligned", 0), ("shifted", 3)):
        variants[name] = (recompress(tr.images, offset), recompress(te.images, offset))
    print(f"recompressed twice in {time.perf_counter() - started:.0f} s")

    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for name, (x_tr, x_te) in variants.items():
            accs = train_seeds(x_tr, tr.labels, x_te, te.labels, seeds)
            row = {"variant": name, "psnr_vs_copy_db": psnr(x_tr, tr.images),
                   "test_accuracy": accs, "mean": round(float(np.mean(accs)), 4)}
            if rows:
                diffs = np.array(rows[0]["test_accuracy"]) - np.array(accs)
                row["drop_from_copy"] = {"mean": round(float(diffs.mean()), 4),
                                         "per_seed": [round(float(d), 4) for d in diffs]}
            rows.append(row)
            drop = (f", drop from the copy {row['drop_from_copy']['mean']:+.4f}"
                    if "drop_from_copy" in row else "")
            db = "-" if row["psnr_vs_copy_db"] is None else f"{row['psnr_vs_copy_db']:.2f}"
            print(f"{name:8s} PSNR vs copy {db:>6} dB | test accuracy "
                  f"{' '.join(f'{a:.4f}' for a in accs)} | mean {row['mean']:.4f}{drop}")
    estimate = rows[0]["mean"] + rows[-1]["drop_from_copy"]["mean"]
    print(f"estimate for the genuine data (copy mean + shifted drop): {estimate:.4f}")

    if args.write:
        result = {
            "benchmark": "jpeg_cost",
            "command": "python benchmarks/jpeg_cost.py " + " ".join(argv or sys.argv[1:]),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "hardware": {"cpu": cpu_model(), "logical_cores": os.cpu_count()},
            "versions": {"python": platform.python_version(), "numpy": np.__version__},
            "data": {"name": "cifar10", "path": str(cifar.source.path),
                     "note": cifar.source.note,
                     "jpeg": f"quality {QUALITY}, 4:2:0 (from the files' quantisation tables)"},
            "recipe": "cifar10-mlp-scratch defaults (UvA train_mlp_numpy.py): "
                      + ", ".join(f"{k}={v}" for k, v in _recipe().items()),
            "seeds": seeds,
            "variants": rows,
            "estimated_genuine_mean": round(estimate, 4),
        }
        write_json(OUT, result)
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
