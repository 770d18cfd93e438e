"""Test helpers: box matching and an oracle classifier built from ground truth."""

from __future__ import annotations

import time

import numpy as np

from neuralab.ocr import normalize_crops


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[len(a), len(b)]`` intersection over union of ``[y1, x1, y2, x2]`` boxes."""
    a = np.asarray(a, np.float64)[:, None, :]
    b = np.asarray(b, np.float64)[None, :, :]
    yy = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    xx = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = yy * xx

    def area(z):
        return (z[..., 2] - z[..., 0]) * (z[..., 3] - z[..., 1])

    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def match_rates(found: np.ndarray, truth: np.ndarray, thr: float = 0.5) -> tuple[float, float]:
    """(recall, precision): shares of true / found boxes with an IoU >= thr partner."""
    if len(found) == 0 or len(truth) == 0:
        return float(len(truth) == 0), float(len(found) == 0)
    iou = iou_matrix(found, truth)
    return float((iou.max(axis=0) >= thr).mean()), float((iou.max(axis=1) >= thr).mean())


class CropOracle:
    """A perfect classifier for one synthetic page: each crop is labelled with the character
    whose ground-truth crop (same normalisation, true box) it is closest to. It sees only the
    crops, like a real classifier, so it exercises ``read_text`` end to end."""

    def __init__(self, bw: np.ndarray, boxes: np.ndarray, chars: list[str], spec) -> None:
        self.ref = normalize_crops(bw, boxes, spec).reshape(len(boxes), -1)
        self.chars = chars
        self.calls = 0

    def __call__(self, crops: np.ndarray) -> list[str]:
        self.calls += 1
        flat = crops.reshape(len(crops), -1)
        d = ((flat[:, None, :] - self.ref[None, :, :]) ** 2).sum(axis=2)
        return [self.chars[i] for i in d.argmin(axis=1)]


def line_count_error(found: list[int], truth: list[int]) -> float:
    """Sum over lines of |boxes found - characters written|, over all characters written.

    ``found``/``truth``: characters per line, top to bottom. Infinite when the number of
    lines differs (a merged or split line is a grouping failure, not a counting one).
    """
    if len(found) != len(truth):
        return float("inf")
    return sum(abs(f - t) for f, t in zip(found, truth, strict=True)) / max(sum(truth), 1)


def timed(fn, *args):
    """``(result, seconds)``: the smaller of wall-clock and process CPU time, so a check of
    "under 2 s on this CPU" holds on a machine busy with other jobs (wall time inflated) as
    well as with multithreaded libraries (CPU time summed over threads)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, min(time.perf_counter() - w0, time.process_time() - c0)
