"""Remove ruled lines (lined paper, a margin line, underlines across the page) from an ink
mask before the characters are labelled: a line touching every letter it runs under would
otherwise glue a whole text line into one blob.

A ruled line is a thin row of ink, at most a few degrees off horizontal (or vertical), that
runs unbroken over a large share (``min_cover``) of the page. For each candidate angle the
ink pixels are projected on the axis across the lines; the angle with the sharpest
projection wins, and the thin bands whose ink covers ``min_cover`` of the page width
(height) in one run are erased. Strokes crossing a line lose only the line's thickness.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

ANGLES = np.radians(np.arange(-6.0, 6.01, 0.5))


def remove_rules(mask: np.ndarray, min_cover: float = 0.4, max_thickness: int = 9) -> np.ndarray:
    """``mask``: bool ``[h, w]`` ink. Returns the mask without ruled lines."""
    kill = _line_pixels(mask, min_cover, max_thickness)
    kill_v = _line_pixels(np.ascontiguousarray(mask.T), min_cover, max_thickness)
    if kill is None and kill_v is None:
        return mask
    out = mask.copy()
    if kill is not None:
        out &= ~kill
    if kill_v is not None:
        out &= ~kill_v.T
    return out


def _line_pixels(mask: np.ndarray, min_cover: float, max_thickness: int) -> np.ndarray | None:
    """Bool ``[h, w]``: the pixels of near-horizontal ruled lines (None when there are none)."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    if len(ys) < min_cover * w:
        return None
    best = None
    for a in ANGLES:
        rows = np.round(ys - np.tan(a) * (xs - w / 2)).astype(np.int64)
        off = rows.min()
        counts = np.bincount(rows - off)
        peak = counts.max()
        if best is None or peak > best[0]:
            best = (peak, a, rows, counts, off)
    peak, a, rows, counts, off = best
    if peak < min_cover * w:
        return None
    # a ruled line: a few consecutive rows covering much of the page in one unbroken run
    line_rows = counts >= min_cover * w
    hot = np.zeros(len(counts), bool)
    start = None
    for r in range(len(counts) + 1):
        on = r < len(counts) and line_rows[r]
        if on and start is None:
            start = r
        elif not on and start is not None:
            band = slice(max(0, start - 2), min(len(counts), r + 2))  # and a 2-px fringe
            if r - start <= max_thickness and _longest_run(xs, rows - off, band, w) >= (
                min_cover * w
            ):
                hot[band] = True
            start = None
    if not hot.any():
        return None
    kill = np.zeros_like(mask)
    sel = hot[rows - off]
    kill[ys[sel], xs[sel]] = True
    return kill


def _longest_run(xs: np.ndarray, rows: np.ndarray, band: slice, w: int) -> int:
    """Longest stretch along the line (gaps of up to 1% of the width bridged) covered by the
    ink of rows ``band``: a ruled line is one long run, a stack of letters is many short."""
    sel = (rows >= band.start) & (rows < band.stop)
    occ = np.zeros(w + 2, bool)
    occ[np.clip(xs[sel], 0, w - 1) + 1] = True
    gap = max(3, w // 100)
    occ = ndi.binary_closing(occ, structure=np.ones(gap, bool))
    edges = np.flatnonzero(np.diff(occ.astype(np.int8)))
    if len(edges) < 2:
        return 0
    return int((edges[1::2] - edges[::2]).max())
