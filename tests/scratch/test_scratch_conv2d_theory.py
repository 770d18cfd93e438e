"""The 2-D convolution of the theory exercises (TDT4265's Sobel example)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import convolve2d as scipy_convolve2d

from neuralab.errors import NeuralabError
from neuralab.scratch import conv2d

IMAGE = np.array([[1, 0, 2, 3, 1],
                  [3, 2, 0, 7, 0],
                  [0, 6, 1, 1, 4]])
SOBEL_X = np.array([[-1, 0, 1],
                    [-2, 0, 2],
                    [-1, 0, 1]])


def test_sobel_zero_padding_matches_the_handout_exactly():
    # The table printed in the TDT4265 handout. It is a *true* convolution: flipping the
    # kernel turns it into [[1, 0, -1], [2, 0, -2], [1, 0, -1]], i.e. out = left - right
    # neighbour, weighted 1-2-1 over the rows. out[0, 0] = 2*(0 - 0) + 1*(0 - 2) = -2;
    # cross-correlation (no flip) would give +2 everywhere the sign is shown here.
    expected = np.array([[-2, 1, -11, 2, 13],
                         [-10, 4, -8, -2, 18],
                         [-14, 1, 5, -6, 9]])
    out = conv2d(IMAGE, SOBEL_X, padding="zero")
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(out, -conv2d(IMAGE, SOBEL_X[:, ::-1], padding="zero"))


def test_sobel_reflect_padding():
    # Reflection about the border pixel, without repeating it (numpy "reflect", OpenCV
    # BORDER_REFLECT_101, torch "reflect"): column -1 is a copy of column 1 and row -1 of
    # row 1. These numbers are worked out by hand, not copied from the handout:
    # - first and last columns are 0: there the left and right neighbours are the same
    #   column, so the derivative (left - right) vanishes;
    # - out[0, 1]: rows (-1 = 1, 0, 1), left col 0, right col 2, weights 1-2-1:
    #   1*(3 - 0) + 2*(1 - 2) + 1*(3 - 0) = 4;
    # - out[0, 2]: 1*(2 - 7) + 2*(0 - 3) + 1*(2 - 7) = -16;
    # - out[2, 3]: rows (1, 2, 3 = 1), left col 2, right col 4:
    #   1*(0 - 0) + 2*(1 - 4) + 1*(0 - 0) = -6.
    expected = np.array([[0, 4, -16, 2, 0],
                         [0, 4, -8, -2, 0],
                         [0, 4, 0, -6, 0]])
    np.testing.assert_array_equal(conv2d(IMAGE, SOBEL_X, padding="reflect"), expected)


def test_sobel_symmetric_padding():
    # Mirror that repeats the border pixel (column -1 = column 0): the other common reading
    # of "reflection padding". out[0, 0]: rows (-1 = 0, 0, 1), left = col 0, right = col 1:
    # 1*(1 - 0) + 2*(1 - 0) + 1*(3 - 2) = 4.
    expected = np.array([[4, 0, -14, 3, 13],
                         [-3, 4, -8, -2, 13],
                         [-17, 0, 10, -9, -2]])
    np.testing.assert_array_equal(conv2d(IMAGE, SOBEL_X, padding="symmetric"), expected)


def test_zero_padding_agrees_with_scipy_on_random_inputs():
    rng = np.random.default_rng(0)
    for kh, kw in [(1, 1), (3, 3), (5, 3), (3, 7)]:
        img = rng.standard_normal((9, 11))
        ker = rng.standard_normal((kh, kw))
        np.testing.assert_allclose(conv2d(img, ker), scipy_convolve2d(img, ker, mode="same"),
                                   atol=1e-12)


def test_bad_arguments_raise_a_neuralab_error():
    with pytest.raises(NeuralabError):
        conv2d(IMAGE, np.ones((2, 2)))
    with pytest.raises(NeuralabError):
        conv2d(IMAGE, SOBEL_X, padding="wrap")
