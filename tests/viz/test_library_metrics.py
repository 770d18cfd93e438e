"""The confusion matrix and the PSNR come from scikit-learn and scikit-image; they equal the
definitions."""

import numpy as np

from neuralab.viz.confusion import confusion_matrix
from neuralab.viz.reconstructions import psnr


def test_confusion_matrix_counts_every_pair_and_keeps_unseen_classes():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 5, 500), rng.integers(0, 5, 500)
    cm = confusion_matrix(y_true, y_pred, 7)  # classes 5 and 6 never occur
    expected = np.zeros((7, 7), np.int64)
    np.add.at(expected, (y_true, y_pred), 1)
    assert cm.dtype == np.int64 and np.array_equal(cm, expected)


def test_psnr_is_10_log10_of_range_squared_over_each_pairs_mse():
    rng = np.random.default_rng(1)
    a = rng.random((6, 32, 32))
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    mse = ((a - b) ** 2).reshape(6, -1).mean(axis=1)
    assert np.allclose(psnr(a, b), 10 * np.log10(1.0 / mse), rtol=0, atol=1e-12)
    assert np.allclose(psnr(255 * a, 255 * b, data_range=255), psnr(a, b), atol=1e-9)
    assert psnr(a[:1], a[:1])[0] == np.inf
