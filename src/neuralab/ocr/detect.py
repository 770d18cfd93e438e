"""Find the handwritten characters on a photo of a page (hw5 Q4.2 ``findLetters``).

Pipeline, all at a working resolution (longer side <= ``DetectParams.max_side``; when the
characters come out smaller than ``min_char_px`` there, the page is looked at again at a
resolution that makes them about ``target_char_px`` tall, upsampling small images up to 2x):

1. grayscale, gaussian denoise;
2. background normalisation: the paper brightness is estimated by a median filter on a
   coarse copy of the page, and every pixel gets an *ink darkness* ``(paper - pixel) /
   paper``; this removes shadows and uneven lighting;
3. hysteresis threshold on the darkness (high = Otsu, floored by the noise level and a
   minimum contrast; low = half of it) so faint parts of a stroke stay joined to it;
4. ruled lines spanning the page are erased (:mod:`neuralab.ocr.rules`), a small closing
   joins hairline gaps, then 8-connected components;
5. the typical character height is the ink-weighted median component height; page edges,
   ruled lines, specks and punctuation are discarded relative to it;
6. pieces of one broken character (a detached bar, a stroke broken by the pen) are merged
   when their boxes overlap heavily in x and the union stays one character tall;
7. boxes much wider than a character are cut at a thin ink valley (touching characters,
   see :mod:`neuralab.ocr.split`).

``bw`` is not the joined detection mask but a finer one (:func:`shape_mask`) in which the
small counters of A, 4 or B stay open, since crops for the classifier are cut from it.

Boxes are ``[y1, x1, y2, x2]`` integer rows in the *input image's* pixel coordinates,
half-open like ``regionprops.bbox`` and slicing: ``image[y1:y2, x1:x2]`` is the character.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage import filters

from neuralab.ocr.image import working_gray
from neuralab.ocr.rules import remove_rules
from neuralab.ocr.split import split_touching


@dataclass(frozen=True)
class DetectParams:
    """Knobs of :func:`find_letters`; sizes are in working pixels or relative to the
    typical character height ``h`` (the ink-weighted median component height)."""

    max_side: int = 1600  # working resolution: longer side in px
    min_char_px: float = 30  # characters smaller than this at the working resolution ...
    target_char_px: float = 40  # ... trigger a second look at a resolution making them this tall
    max_side_small: int = 4000  # longest working side for that second look (<= 2x the input)
    sigma: float = 1.0  # gaussian denoise (working px)
    min_contrast: float = 0.12  # ink must be at least this much darker than the paper
    min_height_px: int = 6  # smallest character height, at working and at input resolution
    min_size: float = 0.35  # keep a box if its longer side >= min_size * h (drops . , specks)
    max_height: float = 3.0  # drop blobs taller than max_height * h (drawings, shadows)
    merge_x_overlap: float = 0.5  # merge boxes overlapping in x by this share of the narrower
    merge_max_height: float = 1.6  # ... if the merged box is at most this * h tall
    split_aspect: float | None = 1.6  # try to split boxes this many heights wide (0: never)
    remove_rules: bool = True  # erase ruled lines / margin lines spanning the page
    shape_char_px: float = 64  # bw/crops: re-threshold at up to input res for this char height
    shape_threshold: float = 0.6  # ... at this fraction of the stroke threshold


@dataclass
class Detection:
    """Everything :func:`detect` found.

    ``boxes``: int64 ``[N, 4]`` rows ``[y1, x1, y2, x2]`` in input coordinates, sorted top to
    bottom then left to right. ``bw``: float32 ``[H, W]`` of the input size, 0 = ink,
    1 = paper. ``char_height``: typical character height in input px (0 when none found).
    ``work_boxes``/``work_mask``: the same at the working resolution.
    """

    boxes: np.ndarray
    bw: np.ndarray
    char_height: float
    work_boxes: np.ndarray
    work_mask: np.ndarray


def find_letters(
    image: np.ndarray, params: DetectParams | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Locate the characters of a handwritten page.

    ``image``: ``[H, W]``, ``[H, W, 3]`` or ``[H, W, 4]``, uint8 or float in [0, 1].
    Returns ``(boxes, bw)``: ``boxes`` int64 ``[N, 4]`` rows ``[y1, x1, y2, x2]`` in the
    input's pixel coordinates (half-open), ``bw`` float32 ``[H, W]`` in [0, 1] with the
    characters black (0) on white (1). A blank page gives ``N == 0``.
    """
    det = detect(image, params)
    return det.boxes, det.bw


def detect(image: np.ndarray, params: DetectParams | None = None) -> Detection:
    """:func:`find_letters` with its intermediate results (see :class:`Detection`)."""
    p = params or DetectParams()
    image = np.asarray(image)
    H, W = image.shape[:2]
    side = min(p.max_side, max(H, W))
    while True:
        gray = working_gray(image, side)
        h, w = gray.shape
        ink, high = ink_mask(gray, p)
        mask = ndi.binary_closing(ink, structure=np.ones((3, 3), bool), border_value=0) | ink
        boxes, areas = components(mask)
        boxes, char_h = select_characters(boxes, areas, mask, p)
        if char_h * max(H, W) / max(h, w) < p.min_height_px:  # specks of noise, not writing
            boxes, char_h = np.zeros((0, 4), np.int64), 0.0
        if not 0 < char_h < p.min_char_px:
            break
        # small writing: look again at a resolution where characters are ~target_char_px tall
        better = min(side * p.target_char_px / char_h, p.max_side_small, 2 * max(H, W))
        if better < 1.2 * side:
            break
        side = int(better) + 1
    order = np.lexsort((boxes[:, 1], boxes[:, 0])) if len(boxes) else np.arange(0)
    boxes = boxes[order]
    sy, sx = H / h, W / w
    full = np.empty_like(boxes)
    full[:, 0] = np.floor(boxes[:, 0] * sy)
    full[:, 1] = np.floor(boxes[:, 1] * sx)
    full[:, 2] = np.ceil(boxes[:, 2] * sy)
    full[:, 3] = np.ceil(boxes[:, 3] * sx)
    full[:, [0, 2]] = np.clip(full[:, [0, 2]], 0, H)
    full[:, [1, 3]] = np.clip(full[:, [1, 3]], 0, W)
    bw = _upsample_mask(shape_mask(image, ink, char_h, high, p), (H, W))
    return Detection(full, bw, float(char_h * sy), boxes, mask)


def ink_darkness(gray: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """``[h, w]`` float32: how much darker each pixel is than the local paper, as a fraction
    of the paper brightness (0 = paper, 1 = black; negative = brighter than the paper)."""
    g = ndi.gaussian_filter(gray, sigma) if sigma > 0 else gray
    h, w = g.shape
    f = max(1, int(round(max(h, w) / 256)))
    hc, wc = h // f, w // f
    if hc >= 3 and wc >= 3:
        coarse = g[: hc * f, : wc * f].reshape(hc, f, wc, f).mean(axis=(1, 3))
    else:
        coarse, f = g, 1
    size = min(9, *coarse.shape)
    paper = median_filter(coarse, size)
    paper = ndi.gaussian_filter(paper, 1.0, mode="nearest")
    paper = np.asarray(
        Image.fromarray(paper.astype(np.float32)).resize((w, h), Image.BILINEAR),
        dtype=np.float32,
    )
    paper = np.maximum(paper, 0.02)
    return ((paper - g) / paper).astype(np.float32)


def median_filter(x: np.ndarray, size: int) -> np.ndarray:
    """``ndi.median_filter(x, size=size, mode="nearest")`` for a 2-D float array, the same
    numbers three times faster for odd sizes (one ``np.partition`` over a sliding-window
    view; 0.06 s instead of 0.2 s for a 266x191 page copy and size 9 on this CPU)."""
    if size % 2 == 0 or x.ndim != 2 or size * size * x.size > 64 * 2**20:
        return ndi.median_filter(x, size=size, mode="nearest")
    from numpy.lib.stride_tricks import sliding_window_view

    r = size // 2
    win = sliding_window_view(np.pad(x, r, mode="edge"), (size, size))
    win = win.reshape(x.shape[0], x.shape[1], size * size)
    k = size * size // 2
    return np.partition(win, k, axis=2)[..., k]


def ink_mask(gray: np.ndarray, p: DetectParams) -> tuple[np.ndarray, float]:
    """Boolean ``[h, w]`` ink mask of a working-resolution grayscale page, and the darkness
    threshold that strokes reach (``high``; its hysteresis partner is ``high / 2``)."""
    d = ink_darkness(gray, p.sigma)
    med = float(np.median(d))
    noise = 1.4826 * float(np.median(np.abs(d - med)))
    dc = np.clip(d, 0.0, 1.0)
    if float(dc.max()) < p.min_contrast:
        return np.zeros(d.shape, dtype=bool), p.min_contrast
    otsu = float(filters.threshold_otsu(dc))
    high = max(otsu, med + 5.0 * noise, p.min_contrast)
    low = max(0.5 * high, med + 3.0 * noise, 0.5 * p.min_contrast)
    mask = filters.apply_hysteresis_threshold(d, low, high)
    if p.remove_rules:
        mask = remove_rules(mask)
    return mask, high


def shape_mask(
    image: np.ndarray, ink: np.ndarray, char_h: float, high: float, p: DetectParams
) -> np.ndarray:
    """The ink mask that ``bw`` shows and crops are cut from: strokes with their holes.

    Detection joins strokes generously (hysteresis, closing), which can fill the small
    counter of an A or a 4. When characters are under ``shape_char_px`` working px tall and
    the input has more pixels, the page is thresholded again (at ``shape_threshold * high``,
    no closing) at a resolution giving them that height; otherwise the unclosed detection
    mask ``ink`` is used.
    """
    H, W = image.shape[:2]
    h, w = ink.shape
    if not char_h or not p.shape_char_px:
        return ink
    side = min(max(H, W), int(max(h, w) * p.shape_char_px / char_h))
    if side < 1.15 * max(h, w):
        return ink
    d = ink_darkness(working_gray(image, side), p.sigma)
    shape = d > p.shape_threshold * high
    return remove_rules(shape) if p.remove_rules else shape


def components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of ``mask``: ``(boxes [K, 4] int64, areas [K] int64)``."""
    lab, n = ndi.label(mask, structure=np.ones((3, 3), bool))
    if n == 0:
        return np.zeros((0, 4), np.int64), np.zeros(0, np.int64)
    sl = ndi.find_objects(lab)
    boxes = np.array([[s[0].start, s[1].start, s[0].stop, s[1].stop] for s in sl], np.int64)
    areas = np.bincount(lab.ravel(), minlength=n + 1)[1:].astype(np.int64)
    return boxes, areas


def typical_height(boxes: np.ndarray, areas: np.ndarray) -> float:
    """Ink-weighted median of the box heights (specks carry little ink, letters most)."""
    if len(boxes) == 0:
        return 0.0
    hts = (boxes[:, 2] - boxes[:, 0]).astype(np.float64)
    order = np.argsort(hts)
    cum = np.cumsum(areas[order].astype(np.float64))
    return float(hts[order][np.searchsorted(cum, 0.5 * cum[-1])])


def select_characters(
    boxes: np.ndarray, areas: np.ndarray, mask: np.ndarray, p: DetectParams
) -> tuple[np.ndarray, float]:
    """Filter, merge and split component boxes into character boxes (working coordinates).

    Returns ``(boxes [N, 4], typical character height)``.
    """
    if len(boxes) == 0:
        return boxes, 0.0
    hts = boxes[:, 2] - boxes[:, 0]
    wds = boxes[:, 3] - boxes[:, 1]
    # specks: far below any character height
    keep = (np.maximum(hts, wds) >= max(2, p.min_height_px // 2)) & (areas >= 4)
    boxes, areas = boxes[keep], areas[keep]
    if len(boxes) == 0:
        return boxes, 0.0
    h, w = mask.shape
    hts = boxes[:, 2] - boxes[:, 0]
    wds = boxes[:, 3] - boxes[:, 1]
    edge = (boxes[:, 0] == 0) | (boxes[:, 1] == 0) | (boxes[:, 2] == h) | (boxes[:, 3] == w)
    inner = ~edge if (~edge).any() else np.ones(len(boxes), bool)
    char_h = typical_height(boxes[inner], areas[inner])
    if char_h < p.min_height_px:
        return np.zeros((0, 4), np.int64), 0.0
    # page edges, shadows, ruled lines, drawings
    drop = edge & ((hts > 1.5 * char_h) | (wds > 3.0 * char_h))
    drop |= hts > p.max_height * char_h
    drop |= (wds > 4.0 * char_h) & (hts < 0.4 * char_h)
    boxes, areas = boxes[~drop], areas[~drop]
    boxes = merge_fragments(boxes, char_h, p)
    if p.split_aspect:
        boxes = split_touching(mask, boxes, char_h, min_aspect=p.split_aspect)
    hts = boxes[:, 2] - boxes[:, 0]
    wds = boxes[:, 3] - boxes[:, 1]
    boxes = boxes[np.maximum(hts, wds) >= p.min_size * char_h]
    return boxes, char_h


def merge_fragments(boxes: np.ndarray, char_h: float, p: DetectParams) -> np.ndarray:
    """Merge boxes that are pieces of one character: heavily overlapping in x (share of the
    narrower box >= ``merge_x_overlap``) with at most a small vertical gap, or one mostly
    inside the other, as long as the union is at most ``merge_max_height * char_h`` tall and
    ``2 * char_h`` wide. Groups whose union would break those limits stay unmerged.
    """
    b = boxes.astype(np.int64).copy()
    for _ in range(5):
        if len(b) < 2:
            break
        centres = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)
        pairs = close_pairs(centres, 2.6 * char_h)
        if len(pairs) == 0:
            break
        i, j = pairs[:, 0], pairs[:, 1]
        bi, bj = b[i], b[j]
        xov = np.minimum(bi[:, 3], bj[:, 3]) - np.maximum(bi[:, 1], bj[:, 1])
        yov = np.minimum(bi[:, 2], bj[:, 2]) - np.maximum(bi[:, 0], bj[:, 0])
        wi, wj = bi[:, 3] - bi[:, 1], bj[:, 3] - bj[:, 1]
        hi, hj = bi[:, 2] - bi[:, 0], bj[:, 2] - bj[:, 0]
        union = _union(bi, bj)
        inside = np.clip(xov, 0, None) * np.clip(yov, 0, None) >= 0.6 * np.minimum(wi * hi, wj * hj)
        stacked = (xov >= p.merge_x_overlap * np.minimum(wi, wj)) & (-yov <= 0.4 * char_h)
        ok = (stacked | inside) & _fits(union, char_h, p)
        if not ok.any():
            break
        n, roots = graph_components(len(b), i[ok], j[ok])
        merged = []
        for r in range(n):
            g = b[roots == r]
            u = np.array([g[:, 0].min(), g[:, 1].min(), g[:, 2].max(), g[:, 3].max()])
            if len(g) == 1 or _fits(u[None], char_h, p)[0]:
                merged.append(u[None])
            else:  # a chain of merges grew too big: leave its pieces alone
                merged.append(g)
        new = np.concatenate(merged).astype(np.int64)
        if len(new) == len(b):
            break
        b = new
    return b


def close_pairs(points: np.ndarray, r: float, block: int = 2048) -> np.ndarray:
    """int64 ``[P, 2]``: the pairs ``i < j`` of ``points [N, 2]`` at most ``r`` apart, sorted
    (what ``scipy.spatial.cKDTree(points).query_pairs(r, output_type="ndarray")`` finds;
    brute force in blocks, since a page has at most a few thousand boxes and importing
    scipy.spatial costs more than this takes)."""
    pts = np.asarray(points, dtype=np.float64)
    out = []
    for start in range(0, len(pts), block):
        a = pts[start : start + block]
        d2 = ((a[:, None, :] - pts[None, :, :]) ** 2).sum(-1)  # [B, N]
        ii, jj = np.nonzero(d2 <= r * r)
        ii = ii + start
        keep = ii < jj
        out.append(np.stack([ii[keep], jj[keep]], axis=1))
    return np.concatenate(out).astype(np.int64) if out else np.zeros((0, 2), np.int64)


def graph_components(n: int, i: np.ndarray, j: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected components of the undirected graph on ``n`` nodes with edges ``(i, j)``:
    ``(count, labels [n])``, components numbered by their smallest node, as
    ``scipy.sparse.csgraph.connected_components`` numbers them (min-label propagation with
    pointer jumping; no scipy.sparse import)."""
    label = np.arange(n)
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    while len(i):
        low = np.minimum(label[i], label[j])
        new = label.copy()
        np.minimum.at(new, i, low)
        np.minimum.at(new, j, low)
        new = new[new]  # jump to the label's own label
        if np.array_equal(new, label):
            break
        label = new
    roots, labels = np.unique(label, return_inverse=True)
    return len(roots), labels.reshape(-1)


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack(
        [
            np.minimum(a[:, 0], b[:, 0]),
            np.minimum(a[:, 1], b[:, 1]),
            np.maximum(a[:, 2], b[:, 2]),
            np.maximum(a[:, 3], b[:, 3]),
        ],
        axis=1,
    )


def _fits(boxes: np.ndarray, char_h: float, p: DetectParams) -> np.ndarray:
    """Whether ``[K, 4]`` boxes are small enough to be one character."""
    return (boxes[:, 2] - boxes[:, 0] <= p.merge_max_height * char_h) & (
        boxes[:, 3] - boxes[:, 1] <= 2.0 * char_h
    )


def _upsample_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Working ink mask -> float32 ``[H, W]`` bw image (0 ink, 1 paper) at input size."""
    H, W = shape
    m = (mask * np.uint8(255)).astype(np.uint8)
    if mask.shape != (H, W):
        m = np.asarray(Image.fromarray(m).resize((W, H), Image.BILINEAR))
    bw = np.ones((H, W), np.float32)
    bw[m >= 128] = 0.0
    return bw
