"""The hw5 handout photos (``$NEURALAB_DATA/hw5``) and a page of real EMNIST handwriting."""

import numpy as np
import pytest

from neuralab.ocr import character_error_rate, group_lines, load_image, render_page
from neuralab.ocr.detect import detect
from neuralab.ocr.lines import assemble_text, word_breaks

from .ocr_ground_truth import ALPHABET, PHOTOS, line_chars
from .ocr_helpers import line_count_error, match_rates, timed


@pytest.fixture(scope="module")
def detections():
    return {}


def _detect(hw5_dir, name, cache):
    if not (hw5_dir / name).is_file():
        pytest.skip(f"{name} is not in {hw5_dir}")
    if name not in cache:
        image = load_image(hw5_dir / name)
        det, seconds = timed(detect, image)
        cache[name] = (image, det, seconds)
    return cache[name]


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_photo_boxes_per_line(hw5_dir, name, detections):
    image, det, seconds = _detect(hw5_dir, name, detections)
    truth = [len(s) for s in line_chars(PHOTOS[name])]
    found = [len(ln) for ln in group_lines(det.boxes, det.char_height)]
    # same number of lines, and boxes per line off by at most 5% of the characters in all
    assert len(found) == len(truth), (found, truth)
    assert line_count_error(found, truth) <= 0.05, (found, truth)
    # what we reach today: every line exactly right
    assert found == truth
    assert seconds < 2.0


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_photo_reading_order_and_spaces(hw5_dir, name, detections):
    """A line-aligned oracle gives each box its true character when the line's box count is
    right ('?' otherwise); the text must then match, word spaces included."""
    image, det, _ = _detect(hw5_dir, name, detections)
    lines = group_lines(det.boxes, det.char_height)
    chars = ["?"] * len(det.boxes)
    for ln, truth in zip(lines, line_chars(PHOTOS[name]), strict=False):
        if len(ln) == len(truth):
            for i, c in zip(ln, truth, strict=True):
                chars[i] = c
    text = assemble_text(chars, lines, word_breaks(det.boxes, lines))
    truth = PHOTOS[name]
    assert character_error_rate(text, truth, ALPHABET) == 0.0
    assert character_error_rate(text, truth, ALPHABET, whitespace="collapse") <= 0.05
    assert text.count("\n") == truth.count("\n")


def test_photo_boxes_fit_the_characters(hw5_dir, detections):
    image, det, _ = _detect(hw5_dir, "02_letters.jpg", detections)
    h = det.boxes[:, 2] - det.boxes[:, 0]
    w = det.boxes[:, 3] - det.boxes[:, 1]
    assert (h > 0.3 * det.char_height).all() and (h < 2 * det.char_height).all()
    assert (w < 2 * det.char_height).all()
    assert det.boxes[:, 2].max() <= image.shape[0] and det.boxes[:, 3].max() <= image.shape[1]


def test_page_of_real_handwriting(emnist_glyphs):
    """Characters written by NIST SD19 writers, laid out as a photographed page."""
    text = "THE 5 BOXING WIZARDS\nJUMP QUICKLY 1984\nPACK MY BOX WITH\nFIVE DOZEN JUGS 2026"
    results = []
    for seed in range(3):
        page = render_page(
            text,
            glyphs=emnist_glyphs,
            char_px=56,
            rotate=2.0 - 2 * seed,
            gradient=0.4,
            letter_gap=(0.2, 0.45),
            seed=seed,
        )
        det = detect(page.image)
        recall, precision = match_rates(det.boxes, page.boxes)
        found = [len(ln) for ln in group_lines(det.boxes, det.char_height)]
        results.append((recall, precision, line_count_error(found, page.line_lengths)))
    recall, precision, count_err = np.mean(results, axis=0)
    assert recall >= 0.95 and precision >= 0.95 and count_err <= 0.05, results
