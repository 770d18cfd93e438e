"""find_letters on synthetic pages with known boxes, blank pages, layouts and big photos."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from neuralab.ocr import FontGlyphs, find_letters, group_lines, load_image, render_page
from neuralab.ocr.detect import detect

from .ocr_helpers import line_count_error, match_rates, timed

TEXT = "THE QUICK BROWN FOX\nJUMPS OVER 13 LAZY\nDOGS AT 4PM 2024\nHELLO WORLD 567890"

# (render settings): sizes, skew, lighting, noise and faint ink vary
PAGES = [
    dict(seed=0),
    dict(seed=1, rotate=3.0, gradient=0.6, noise=0.04),
    dict(seed=2, rotate=-4.0, char_px=28, ink=0.4),
    dict(seed=3, char_px=80, gradient=0.5, letter_gap=(0.1, 0.25)),
    dict(seed=4, char_px=22, rotate=2.0, noise=0.03),
    dict(seed=5, rotate=-2.0, ink=0.3, gradient=0.2),
]


@pytest.mark.parametrize("kw", PAGES, ids=[str(k["seed"]) for k in PAGES])
def test_boxes_match_ground_truth(kw):
    page = render_page(TEXT, glyphs=FontGlyphs(thicken=1), **kw)
    boxes, bw = find_letters(page.image)
    recall, precision = match_rates(boxes, page.boxes)
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)
    found = [len(ln) for ln in group_lines(boxes)]
    assert line_count_error(found, page.line_lengths) <= 0.05, (found, page.line_lengths)
    assert bw.shape == page.image.shape[:2] and bw.dtype == np.float32
    assert set(np.unique(bw)) <= {0.0, 1.0}
    # bw is black ink on white paper: ink inside the true boxes, paper around them
    inside = np.zeros(bw.shape, bool)
    for y1, x1, y2, x2 in page.boxes:
        inside[y1:y2, x1:x2] = True
    assert bw[inside].mean() < 0.8 and bw[~inside].mean() > 0.99


def test_box_format():
    page = render_page("AB 12", seed=0)
    boxes, _ = find_letters(page.image)
    H, W = page.image.shape[:2]
    assert boxes.dtype == np.int64 and boxes.shape == (4, 4)
    assert (boxes[:, 0] < boxes[:, 2]).all() and (boxes[:, 1] < boxes[:, 3]).all()
    assert boxes[:, [0, 2]].min() >= 0 and boxes[:, [0, 2]].max() <= H
    assert boxes[:, [1, 3]].min() >= 0 and boxes[:, [1, 3]].max() <= W


def test_punctuation_and_specks_are_dropped():
    page = render_page("HELLO, WORLD.\nA.B.C 1.5", seed=1)
    boxes, _ = find_letters(page.image)
    assert len(boxes) == len("HELLOWORLDABC15")


class _SplitGlyphs(FontGlyphs):
    """Glyphs in ``BROKEN`` lose a horizontal band: top and bottom become separate blobs."""

    BROKEN = "ETXZ35"

    def __call__(self, ch, height, rng):
        ink = super().__call__(ch, height, rng).copy()
        if ch in self.BROKEN:
            rows = np.nonzero((ink > 0.5).any(axis=1))[0]
            mid = (rows[0] + rows[-1]) // 2
            ink[mid - height // 12 : mid + height // 12 + 1] = 0
        return ink


def test_broken_characters_are_merged():
    text = "EAFHK TXZ 23B45"
    page = render_page(text, glyphs=_SplitGlyphs(thicken=2), seed=2)
    boxes, _ = find_letters(page.image)
    recall, precision = match_rates(boxes, page.boxes)
    assert len(boxes) == len(text.replace(" ", "")) and recall == 1.0 and precision == 1.0


def test_letters_joined_by_a_stroke_are_split():
    page = render_page("LA TE HO 47", glyphs=FontGlyphs(thicken=2), letter_gap=(0.2, 0.3), seed=0)
    image = Image.fromarray(page.image)
    draw = ImageDraw.Draw(image)
    b = page.boxes
    for k in range(0, len(b), 2):  # a pen drag from each letter into the next one
        y = int(0.7 * b[k, 2] + 0.3 * b[k, 0])
        draw.line([(int(b[k, 3]) - 3, y), (int(b[k + 1, 1]) + 3, y)], fill=(60, 60, 60), width=3)
    boxes, _ = find_letters(np.asarray(image))
    recall, precision = match_rates(boxes, page.boxes)
    assert len(boxes) == 8 and recall >= 0.85 and precision >= 0.85


@pytest.mark.parametrize("seed", [0, 1])
def test_blank_page_has_no_boxes(seed):
    page = render_page(["   "], seed=seed, gradient=0.6, noise=0.04)
    image = np.asarray(Image.fromarray(page.image).resize((900, 600)))
    rng = np.random.default_rng(seed)
    image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    boxes, bw = find_letters(image)
    assert boxes.shape == (0, 4) and bw.shape == (600, 900)
    assert find_letters(np.full((50, 80), 255, np.uint8))[0].shape == (0, 4)
    assert find_letters(np.zeros((50, 80), np.uint8))[0].shape == (0, 4)


def test_gray_rgba_and_float_inputs_agree_with_rgb():
    page = render_page(TEXT, seed=7, rotate=1.5)
    ref, _ = find_letters(page.image)
    gray = np.asarray(Image.fromarray(page.image).convert("L"))
    rgba = np.dstack([page.image, np.full(page.image.shape[:2], 255, np.uint8)])
    for img in (gray, rgba, page.image.astype(np.float32) / 255, gray[:, :, None]):
        boxes, _ = find_letters(img)
        recall, precision = match_rates(boxes, ref, thr=0.8)
        assert recall == 1.0 and precision == 1.0


def test_transparent_png_with_ink_only(tmp_path):
    """Black strokes on a transparent background (a drawing app's export)."""
    page = render_page("OCR 42", seed=3, gradient=0, noise=0)
    alpha = 255 - page.image.min(axis=2)
    alpha = np.where(alpha > 60, 255, 0).astype(np.uint8)
    rgba = np.zeros(page.image.shape[:2] + (4,), np.uint8)
    rgba[..., 3] = alpha
    boxes, _ = find_letters(rgba)
    assert len(boxes) == 5


def test_small_writing_on_a_big_photo_and_tiny_images():
    page = render_page(TEXT, seed=8, char_px=24, rotate=1.0)
    big = np.asarray(
        Image.fromarray(page.image).resize(
            (page.image.shape[1] * 4, page.image.shape[0] * 4), Image.BICUBIC
        )
    )
    for img, scale in ((big, 4), (page.image, 1)):
        boxes, _ = find_letters(img)
        recall, precision = match_rates(boxes, page.boxes * scale)
        assert recall >= 0.95 and precision >= 0.95, (scale, recall, precision)


def test_very_large_photo_is_fast_and_boxes_map_back():
    page = render_page(TEXT, seed=9, rotate=-1.0, char_px=40)
    h, w = page.image.shape[:2]
    big = np.asarray(Image.fromarray(page.image).resize((6000, 4000), Image.BILINEAR))
    find_letters(big[:64, :64])  # warm up imports
    det, elapsed = timed(detect, big)
    assert elapsed < 2.0, f"{elapsed:.2f} s for a 6000x4000 photo"
    assert max(det.work_mask.shape) <= 1600
    truth = np.round(page.boxes * np.array([4000 / h, 6000 / w, 4000 / h, 6000 / w]))
    recall, precision = match_rates(det.boxes, truth, thr=0.6)
    assert recall >= 0.95 and precision >= 0.95
    assert det.bw.shape == (4000, 6000)


def _baselines(page):
    b = page.boxes
    ys = []
    for y in np.unique(np.round(b[:, 2] / 40) * 40):
        ys.append(int(np.median(b[np.abs(b[:, 2] - y) < 40, 2])) + 2)
    return ys


@pytest.mark.parametrize("ink", [(95, 95, 105), (150, 170, 215)], ids=["dark", "light-blue"])
def test_ruled_paper(ink):
    """Letters sitting on ruled lines, plus a red margin line."""
    page = render_page(TEXT, seed=2, rotate=0.0)
    image = Image.fromarray(page.image)
    draw = ImageDraw.Draw(image)
    for y in _baselines(page):
        draw.line([(0, y), (image.width, y)], fill=ink, width=3)
    draw.line([(40, 0), (40, image.height)], fill=(200, 60, 60), width=3)
    boxes, _ = find_letters(np.asarray(image))
    recall, precision = match_rates(boxes, page.boxes)
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)


def test_page_photographed_on_a_dark_table():
    page = render_page(TEXT, seed=1, rotate=2.0)
    h, w = page.image.shape[:2]
    rng = np.random.default_rng(0)
    photo = np.full((h + 300, w + 400, 3), (70, 55, 40), np.uint8)
    photo += rng.integers(0, 25, (h + 300, w + 400, 1)).astype(np.uint8)
    photo[150 : 150 + h, 200 : 200 + w] = page.image
    boxes, _ = find_letters(photo)
    recall, precision = match_rates(boxes, page.boxes + np.array([150, 200, 150, 200]))
    assert recall >= 0.95 and precision >= 0.95, (recall, precision)


@pytest.mark.parametrize(
    "mode,suffix", [("RGB", ".png"), ("L", ".png"), ("RGBA", ".png"), ("RGB", ".jpg")]
)
def test_saved_photo_round_trip(tmp_path, mode, suffix):
    page = render_page(TEXT, seed=10, rotate=1.0)
    path = tmp_path / f"page{suffix}"
    Image.fromarray(page.image).convert(mode).save(path)
    boxes, bw = find_letters(load_image(path))
    recall, precision = match_rates(boxes, page.boxes)
    assert recall >= 0.95 and precision >= 0.95
    assert bw.shape == page.image.shape[:2]
