"""Reading order: group character boxes into lines, order them, find the word gaps.

Boxes are ``[N, 4]`` rows ``[y1, x1, y2, x2]`` (see :mod:`neuralab.ocr.detect`). Sizes are
measured relative to the typical character height ``h`` (median box height), so the same
rules work on any photo resolution.

1. The page's skew is the median slope between each box and its nearest right-hand
   neighbour on the same line; box centres are de-skewed with it.
2. De-skewed y-centres are sorted; a new line starts wherever consecutive centres are more
   than ``line_gap * h`` apart (1-D single-linkage clustering).
3. Each line is sorted left to right; a space goes where the gap between two boxes is wide
   relative to the line's character height, split from letter gaps by Otsu on the page's
   pooled gaps (see :func:`word_breaks`).
"""

from __future__ import annotations

import numpy as np


def box_heights(boxes: np.ndarray) -> np.ndarray:
    """``[N]`` heights of ``[N, 4]`` boxes."""
    return (boxes[:, 2] - boxes[:, 0]).astype(np.float64)


def estimate_skew(boxes: np.ndarray, char_h: float | None = None) -> float:
    """Slope ``dy/dx`` of the text lines (0 for level text; positive = descending right).

    Median of the centre-to-centre slopes from each box to its nearest neighbour on the
    right whose centre is within ``0.6 h`` vertically and whose gap is under ``3 h``; 0 when
    fewer than 3 such pairs exist. Clipped to about +-20 degrees.
    """
    b = np.asarray(boxes, dtype=np.float64)
    if len(b) < 2:
        return 0.0
    h = char_h or float(np.median(box_heights(b)))
    yc = (b[:, 0] + b[:, 2]) / 2
    xc = (b[:, 1] + b[:, 3]) / 2
    gap = b[None, :, 1] - b[:, None, 3]  # gap[i, j]: from the right of i to the left of j
    dy = yc[None, :] - yc[:, None]
    dx = xc[None, :] - xc[:, None]
    ok = (dx > 0) & (np.abs(dy) < 0.6 * h) & (gap < 3.0 * h) & (gap > -0.5 * h)
    slopes = []
    for i in range(len(b)):
        js = np.nonzero(ok[i])[0]
        if len(js):
            j = js[np.argmin(gap[i, js])]
            slopes.append(dy[i, j] / dx[i, j])
    if len(slopes) < 3:
        return 0.0
    return float(np.clip(np.median(slopes), -0.36, 0.36))


def group_lines(
    boxes: np.ndarray, char_h: float | None = None, line_gap: float = 0.5
) -> list[np.ndarray]:
    """Split boxes into text lines.

    ``boxes``: ``[N, 4]``. Returns a list of int arrays of indices into ``boxes``: lines top
    to bottom, each sorted left to right. ``char_h`` defaults to the median box height.
    """
    b = np.asarray(boxes, dtype=np.float64)
    if len(b) == 0:
        return []
    h = char_h or float(np.median(box_heights(b)))
    slope = estimate_skew(b, h)
    yc = (b[:, 0] + b[:, 2]) / 2
    xc = (b[:, 1] + b[:, 3]) / 2
    yd = yc - slope * xc
    order = np.argsort(yd, kind="stable")
    splits = np.nonzero(np.diff(yd[order]) > line_gap * h)[0] + 1
    lines = []
    for idx in np.split(order, splits):
        x_along = xc[idx] + slope * yc[idx]
        lines.append(idx[np.argsort(x_along, kind="stable")].astype(np.int64))
    return lines


def letter_gaps(boxes: np.ndarray, line: np.ndarray) -> np.ndarray:
    """``[len(line) - 1]`` horizontal gaps (px, may be negative) between neighbours."""
    b = np.asarray(boxes)[line]
    return (b[1:, 1] - b[:-1, 3]).astype(np.float64)


def word_breaks(
    boxes: np.ndarray,
    lines: list[np.ndarray],
    min_space: float = 0.4,
    separation: float = 2.2,
    fallback: float = 1.6,
) -> list[np.ndarray]:
    """Where spaces go: for each line a bool ``[len(line) - 1]`` array, True after a box
    followed by a word gap.

    Gaps are measured in units of their line's median character height and pooled over the
    page. When they form two clear groups (Otsu split; the wide group's mean is at least
    ``separation`` times the narrow group's and half a character more), the split is the
    word-gap threshold; otherwise the page has no distinct word spacing (say, a grid of
    evenly spaced single letters) and only gaps over ``fallback`` heights (and 3x the median
    gap) count as spaces. Never below ``min_space`` heights.
    """
    b = np.asarray(boxes)
    rel = []
    for ln in lines:
        line_h = max(float(np.median(box_heights(b[ln]))), 1.0) if len(ln) else 1.0
        rel.append(np.clip(letter_gaps(b, ln), 0, None) / line_h)
    flat = np.sort(np.concatenate(rel)) if rel else np.zeros(0)
    threshold = space_threshold(flat, separation, fallback)
    threshold = max(threshold, min_space)
    return [g > threshold for g in rel]


def space_threshold(gaps: np.ndarray, separation: float = 2.2, fallback: float = 1.6) -> float:
    """Word-gap threshold (in character heights) for pooled relative gaps ``[M]``."""
    g = np.sort(np.asarray(gaps, dtype=np.float64))
    if len(g) == 0:
        return fallback
    default = max(fallback, 3.0 * float(np.median(g)))
    if len(g) < 3:
        return default
    # Otsu on the sorted values: maximise between-class variance over split points
    csum = np.cumsum(g)
    n = len(g)
    k = np.arange(1, n)
    m1 = csum[:-1] / k
    m2 = (csum[-1] - csum[:-1]) / (n - k)
    between = k * (n - k) * (m2 - m1) ** 2
    best = int(np.argmax(between))
    lo, hi = m1[best], m2[best]
    if hi >= separation * lo and hi - lo >= 0.5:
        return float((g[best] + g[best + 1]) / 2)
    return default


def assemble_text(chars: list[str], lines: list[np.ndarray], breaks: list[np.ndarray]) -> str:
    """Join per-box characters into text: spaces at word breaks, ``\\n`` between lines.

    ``chars[i]`` is the string for box ``i``; ``lines``/``breaks`` as returned by
    :func:`group_lines` and :func:`word_breaks`.
    """
    out = []
    for ln, br in zip(lines, breaks, strict=True):
        parts = []
        for k, i in enumerate(ln):
            parts.append(chars[int(i)])
            if k < len(br) and br[k]:
                parts.append(" ")
        out.append("".join(parts))
    return "\n".join(out)
