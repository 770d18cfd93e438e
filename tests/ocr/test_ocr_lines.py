"""Line grouping, reading order and word spacing."""

import numpy as np

from neuralab.ocr.lines import (
    assemble_text,
    estimate_skew,
    group_lines,
    space_threshold,
    word_breaks,
)


def grid_boxes(words_per_line, h=40, w=28, letter_gap=8, word_gap=40, pitch=80, slope=0.0):
    """Boxes for lines of words (given as letter counts), optionally on a slope."""
    boxes = []
    for li, words in enumerate(words_per_line):
        x = 50
        for wi, n in enumerate(words):
            if wi:
                x += word_gap - letter_gap
            for _ in range(n):
                y = 100 + li * pitch + slope * x
                boxes.append([y, x, y + h, x + w])
                x += w + letter_gap
    return np.round(np.array(boxes)).astype(np.int64)


def test_lines_in_reading_order_even_when_shuffled():
    boxes = grid_boxes([[3, 2], [4], [1, 1, 1]])
    perm = np.random.default_rng(0).permutation(len(boxes))
    lines = group_lines(boxes[perm])
    assert [len(ln) for ln in lines] == [5, 4, 3]
    for ln in lines:
        b = boxes[perm][ln]
        assert (np.diff(b[:, 1]) > 0).all()  # left to right
    tops = [boxes[perm][ln][:, 0].mean() for ln in lines]
    assert tops == sorted(tops)


def test_skewed_lines_are_not_mixed_up():
    # 6 degrees: over a line the drift is several character heights
    boxes = grid_boxes([[5, 5, 5], [6, 6], [4, 4, 4]], pitch=75, slope=np.tan(np.radians(6)))
    assert estimate_skew(boxes) == np.float64(estimate_skew(boxes))
    assert abs(estimate_skew(boxes) - np.tan(np.radians(6))) < 0.02
    assert [len(ln) for ln in group_lines(boxes)] == [15, 12, 12]


def test_uneven_baselines_stay_on_their_line():
    boxes = grid_boxes([[8], [8]], pitch=70)
    rng = np.random.default_rng(1)
    jitter = rng.integers(-10, 11, len(boxes))  # a quarter of the character height
    boxes[:, [0, 2]] += jitter[:, None]
    assert [len(ln) for ln in group_lines(boxes)] == [8, 8]


def test_word_breaks_and_text():
    boxes = grid_boxes([[2, 2, 4], [1, 3]])
    lines = group_lines(boxes)
    breaks = word_breaks(boxes, lines)
    chars = list("TODOLIST") + list("ANAP")
    assert assemble_text(chars, lines, breaks) == "TO DO LIST\nA NAP"


def test_evenly_spaced_letters_get_no_spaces():
    boxes = grid_boxes([[7], [7], [5]], letter_gap=30)  # an alphabet chart
    rng = np.random.default_rng(2)
    boxes[:, [1, 3]] += rng.integers(-8, 9, len(boxes))[:, None]
    lines = group_lines(boxes)
    text = assemble_text(["X"] * len(boxes), lines, word_breaks(boxes, lines))
    assert text == "XXXXXXX\nXXXXXXX\nXXXXX"


def test_space_threshold_separates_two_groups():
    gaps = np.r_[np.full(20, 0.3), np.full(5, 1.5)]
    assert 0.3 < space_threshold(gaps) < 1.5
    assert space_threshold(np.full(10, 0.8)) >= 1.6  # one group: only huge gaps are spaces
    assert space_threshold(np.zeros(0)) >= 1.6


def test_empty_and_single_box():
    assert group_lines(np.zeros((0, 4), np.int64)) == []
    lines = group_lines(np.array([[0, 0, 10, 8]]))
    assert [ln.tolist() for ln in lines] == [[0]]
    assert assemble_text(["A"], lines, word_breaks(np.array([[0, 0, 10, 8]]), lines)) == "A"
