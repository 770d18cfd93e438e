"""Regenerate the images of ``docs/ocr.md``.

``python -m neuralab.ocr.docs [OUT_DIR] [--data-dir DIR]`` writes the failure examples and,
when the hw5 photos are found under ``DIR/hw5`` (default ``$NEURALAB_DATA``), the photos
with their detected boxes (``<name>_boxes.png``, hw5 Q4.3) and their normalised crops
(``<name>_crops.png``), and prints what it found.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from neuralab.ocr.crops import EMNIST, normalize_crops
from neuralab.ocr.detect import detect
from neuralab.ocr.draw import draw_boxes
from neuralab.ocr.failures import failure_examples
from neuralab.ocr.image import load_image
from neuralab.ocr.lines import group_lines

HW5_PHOTOS = ("01_list.jpg", "02_letters.jpg")


@dataclass
class PhotoBoxes:
    """Detection summary for one photo: boxes per line, seconds spent, image written."""

    name: str
    path: Path
    per_line: list[int]
    seconds: float


def photo_boxes(photo: str | Path, out_dir: str | Path) -> PhotoBoxes:
    """Detect the characters of ``photo`` and save it with its boxes as PNG in ``out_dir``."""
    photo = Path(photo)
    image = load_image(photo)
    t = time.perf_counter()
    det = detect(image)
    seconds = time.perf_counter() - t
    lines = group_lines(det.boxes, det.char_height or None)
    order = np.concatenate(lines) if lines else np.zeros(0, np.int64)
    crops_preview(
        normalize_crops(det.bw, det.boxes[order], EMNIST), Path(out_dir) / f"{photo.stem}_crops.png"
    )
    path = draw_boxes(image, det.boxes, Path(out_dir) / f"{photo.stem}_boxes.png", max_side=1000)
    return PhotoBoxes(photo.name, path, [len(ln) for ln in lines], seconds)


def crops_preview(crops: np.ndarray, path: Path, per_row: int = 20, zoom: int = 2) -> Path:
    """Save ``[N, s, s]`` crops (reading order) as one grid image, white on black."""
    n, s = len(crops), crops.shape[1]
    rows = max(1, -(-n // per_row))
    grid = np.zeros((rows * (s + 2), per_row * (s + 2)), np.float32)
    for i, c in enumerate(crops):
        r, k = divmod(i, per_row)
        grid[r * (s + 2) + 1 : r * (s + 2) + 1 + s, k * (s + 2) + 1 : k * (s + 2) + 1 + s] = c
    im = Image.fromarray((grid * 255).astype(np.uint8))
    im = im.resize((im.width * zoom, im.height * zoom), Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m neuralab.ocr.docs", description=__doc__)
    ap.add_argument("out_dir", nargs="?", default="docs/ocr")
    ap.add_argument("--data-dir", default=os.environ.get("NEURALAB_DATA"))
    args = ap.parse_args(argv)
    for ex in failure_examples(args.out_dir):
        print(f"{ex.name}: {ex.text!r}: {ex.expected} characters, {ex.found} boxes -> {ex.path}")
    hw5 = Path(args.data_dir) / "hw5" if args.data_dir else None
    for name in HW5_PHOTOS:
        if hw5 is None or not (hw5 / name).is_file():
            print(f"{name}: not found (set NEURALAB_DATA or --data-dir)")
            continue
        r = photo_boxes(hw5 / name, args.out_dir)
        print(
            f"{name}: {sum(r.per_line)} boxes in {len(r.per_line)} lines {r.per_line}, "
            f"{r.seconds:.2f} s -> {r.path}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
