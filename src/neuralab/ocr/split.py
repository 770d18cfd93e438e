"""Split boxes holding two or more touching characters (a conservative heuristic).

A box is a candidate when it is much wider than a character is tall (``min_aspect`` times
``max(box height, typical character height)``; in EMNIST only about 1% of digits and
uppercase letters are that wide, mostly M and W). It is cut at the column with the least
ink (column profile smoothed over 3 px) among those leaving each side at least
``min_piece`` heights wide, provided that column holds at most ``max_valley`` times the
median ink of the box's columns: a single connecting stroke, not the middle of an M. The
pieces are trimmed to their ink and split again while they remain candidates.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def split_touching(
    mask: np.ndarray,
    boxes: np.ndarray,
    char_h: float,
    min_aspect: float = 1.6,
    min_piece: float = 0.35,
    max_valley: float = 0.3,
) -> np.ndarray:
    """``mask``: bool ``[h, w]`` ink; ``boxes``: ``[N, 4]`` ``[y1, x1, y2, x2]`` in mask
    coordinates. Returns ``[M, 4]`` boxes, M >= N (unsplit boxes unchanged, in order)."""
    out: list[np.ndarray] = []
    for box in np.asarray(boxes, dtype=np.int64).reshape(-1, 4):
        out.extend(_split(mask, box, char_h, min_aspect, min_piece, max_valley, depth=0))
    return np.array(out, dtype=np.int64).reshape(-1, 4)


def _split(mask, box, char_h, min_aspect, min_piece, max_valley, depth):
    y1, x1, y2, x2 = (int(v) for v in box)
    ref = max(y2 - y1, char_h)
    if depth > 4 or x2 - x1 < min_aspect * ref:
        return [box]
    prof = ndi.uniform_filter1d(mask[y1:y2, x1:x2].sum(axis=0).astype(np.float64), 3)
    lo, hi = int(np.ceil(min_piece * ref)), int(x2 - x1 - min_piece * ref)
    inked = prof[prof > 0]
    if hi <= lo or len(inked) == 0:
        return [box]
    c = lo + int(np.argmin(prof[lo:hi]))
    if prof[c] > max_valley * float(np.median(inked)):
        return [box]
    pieces = []
    for a, b in ((x1, x1 + c), (x1 + c + 1, x2)):
        sub = mask[y1:y2, a:b]
        rows, cols = np.nonzero(sub.any(axis=1))[0], np.nonzero(sub.any(axis=0))[0]
        if len(rows) == 0:
            continue
        piece = np.array([y1 + rows[0], a + cols[0], y1 + rows[-1] + 1, a + cols[-1] + 1])
        pieces.extend(_split(mask, piece, char_h, min_aspect, min_piece, max_valley, depth + 1))
    return pieces
