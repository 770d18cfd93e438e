"""Crop normalisation to classifier inputs (EMNIST-like by default)."""

import numpy as np
import pytest
from PIL import Image
from skimage.measure import euler_number

from neuralab.errors import NeuralabError
from neuralab.ocr import EMNIST, CropSpec, find_letters, normalize_crops, render_page
from neuralab.ocr.crops import stroke_width


def bar_page():
    """bw page (0 ink) with a tall thin bar, a wide thick block and a ring."""
    bw = np.ones((200, 300), np.float32)
    bw[20:180, 30:36] = 0  # '1'-like bar, 6 px wide, 160 tall
    bw[80:120, 100:220] = 0  # wide block
    yy, xx = np.mgrid[:200, :300]
    r = np.hypot(yy - 100, xx - 260)
    bw[(r > 25) & (r < 30)] = 0  # thin ring
    boxes = np.array([[20, 30, 180, 36], [80, 100, 120, 220], [70, 230, 131, 291]])
    return bw, boxes


def test_shape_range_and_polarity():
    bw, boxes = bar_page()
    crops = normalize_crops(bw, boxes)
    assert crops.shape == (3, 28, 28) and crops.dtype == np.float32
    assert crops.min() >= 0 and crops.max() <= 1
    assert crops[:, 0, :].max() < 0.05 and crops[:, :, 0].max() < 0.05  # black border
    inv = normalize_crops(bw, boxes, CropSpec(polarity="black_on_white"))
    np.testing.assert_allclose(inv, 1 - crops, atol=1e-6)


def test_aspect_kept_and_centred_with_margin():
    bw, boxes = bar_page()
    bar = normalize_crops(bw, boxes[:1], CropSpec(stroke=None, blur=0))[0]
    ys, xs = np.nonzero(bar > 0.2)  # the 6-px bar is under 1 px wide at 24/160 scale
    assert ys.min() == 2 and ys.max() == 25  # longer side fills 24 px inside a 2-px margin
    assert xs.max() - xs.min() + 1 <= 3  # a thin bar stays thin
    assert abs((xs.min() + xs.max()) / 2 - 13.5) <= 1  # centred


def test_stroke_width_is_normalised():
    bw, boxes = bar_page()
    ring = boxes[2:]
    thin = normalize_crops(bw, ring, CropSpec(stroke=None, blur=0))[0]
    thick = normalize_crops(bw, ring, CropSpec(stroke=3.0, blur=0))[0]
    assert stroke_width(thin > 0.5) < 2.0
    assert 2.2 <= stroke_width(thick > 0.5) <= 4.0


def test_transpose_and_mass_centring():
    bw, boxes = bar_page()
    up = normalize_crops(bw, boxes, CropSpec(blur=0))
    tr = normalize_crops(bw, boxes, CropSpec(blur=0, transpose=True))
    np.testing.assert_array_equal(tr, up.transpose(0, 2, 1))
    mass = normalize_crops(bw, boxes, CropSpec(center="mass"))
    for img in mass:
        yy, xx = np.mgrid[:28, :28]
        cy, cx = (img * yy).sum() / img.sum(), (img * xx).sum() / img.sum()
        assert abs(cy - 13.5) < 0.6 and abs(cx - 13.5) < 0.6


def test_neighbour_overhang_is_removed():
    bw = np.ones((100, 200), np.float32)
    bw[20:80, 40:46] = 0  # our character: a bar
    bw[70:76, 48:120] = 0  # the foot of the next character reaching under it ...
    bw[20:80, 114:120] = 0  # ... from further right
    crop = normalize_crops(bw, np.array([[20, 38, 80, 52]]), CropSpec(stroke=None, blur=0))[0]
    ys, xs = np.nonzero(crop > 0.5)
    assert xs.max() - xs.min() + 1 <= 4
    # a box whose only ink pokes out of it still gets that ink, not an empty crop
    crop = normalize_crops(bw, np.array([[65, 60, 80, 80]]), CropSpec(stroke=None, blur=0))[0]
    assert crop.max() > 0.5


def test_empty_box_and_no_boxes():
    bw = np.ones((50, 50), np.float32)
    assert normalize_crops(bw, np.array([[10, 10, 20, 20]])).max() == 0
    assert normalize_crops(bw, np.zeros((0, 4), np.int64)).shape == (0, 28, 28)
    assert normalize_crops(bw, np.array([[60, 60, 70, 70]])).max() == 0  # outside the page


def test_other_sizes_and_bad_specs():
    bw, boxes = bar_page()
    assert normalize_crops(bw, boxes, CropSpec(size=32, margin=4)).shape == (3, 32, 32)
    with pytest.raises(NeuralabError):
        CropSpec(polarity="red")
    with pytest.raises(NeuralabError):
        CropSpec(size=8, margin=4)
    with pytest.raises(NeuralabError):
        normalize_crops(np.ones((4, 4, 3)), boxes)


def test_crops_of_a_page_look_like_emnist():
    page = render_page("HELLO 123", seed=0, char_px=90)
    boxes, bw = find_letters(page.image)
    crops = normalize_crops(bw, boxes, EMNIST)
    ink = (crops > 0.5).mean(axis=(1, 2))
    # EMNIST digits/uppercase: 17% of pixels above 0.5 on average (10th-90th pct ~10-25%)
    assert 0.07 < ink.mean() < 0.3
    widths = [stroke_width(c > 0.5) for c in crops]
    assert 2.0 <= np.median(widths) <= 4.0


@pytest.mark.parametrize("char_px,zoom", [(30, 1), (24, 4), (20, 6)])
def test_small_counters_survive(char_px, zoom):
    """The holes of A, 4, 8, 0, B... stay open in the crops, also when a big photo is
    detected at a reduced working resolution."""
    page = render_page("A4 8 0B 6 9 D P O Q R", seed=0, char_px=char_px)
    h, w = page.image.shape[:2]
    image = np.asarray(Image.fromarray(page.image).resize((w * zoom, h * zoom), Image.BICUBIC))
    boxes, bw = find_letters(image)
    crops = normalize_crops(bw, boxes)
    assert len(crops) == 12
    assert all(euler_number(c > 0.5, connectivity=2) <= 0 for c in crops)
