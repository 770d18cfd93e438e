"""VectorInputs: images -> the rows a NumPy network takes, fitted on training images and
saved with a run so new images go through exactly the same steps."""

import numpy as np
import pytest

from neuralab.errors import NeuralabError
from neuralab.scratch.inputs import VectorInputs, to_vectors


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, (20, 4, 4, 3), dtype=np.uint8)


def test_flatten_orders_pixels_hwc_or_chw(images):
    hwc = VectorInputs(size=4, channels=3).flatten(images)
    chw = VectorInputs(size=4, channels=3, channels_first=True).flatten(images)
    np.testing.assert_allclose(hwc[3], images[3].reshape(-1) / 255, rtol=1e-6)
    np.testing.assert_allclose(chw[3], images[3].transpose(2, 0, 1).reshape(-1) / 255,
                               rtol=1e-6)
    np.testing.assert_array_equal(hwc, to_vectors(images))


def test_mean_image_centres_each_pixel_of_the_training_images(images):
    inputs = VectorInputs(size=4, channels=3, scale=1.0).fit_mean_image(images)
    rows = inputs(images)
    np.testing.assert_allclose(rows.mean(axis=0), 0, atol=1e-4)
    expected = images.reshape(20, -1).astype(np.float64) - images.reshape(20, -1).mean(axis=0)
    np.testing.assert_allclose(rows, expected, atol=1e-4)
    assert inputs.n_inputs == 48 and inputs.divide is None


def test_standardize_gives_each_channel_zero_mean_and_unit_std(images):
    inputs = VectorInputs(size=4, channels=3, channels_first=True).fit_standardize(images)
    per_channel = inputs(images).reshape(20, 3, 16)
    np.testing.assert_allclose(per_channel.mean(axis=(0, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(per_channel.std(axis=(0, 2)), 1, atol=1e-5)
    with pytest.raises(NeuralabError, match="CHW"):
        VectorInputs(size=4, channels=3).fit_standardize(images)


def test_whitening_projects_the_centred_rows(images):
    base = VectorInputs(size=4, channels=3)
    rng = np.random.default_rng(1)
    mean, projection = rng.normal(size=48), rng.normal(size=(48, 5))
    inputs = base.with_whitening(mean, projection)
    rows = base(images).astype(np.float64)
    np.testing.assert_allclose(inputs(images, chunk=7), (rows - mean) @ projection, rtol=1e-4,
                               atol=1e-4)
    assert inputs.n_inputs == 5


def test_saved_inputs_load_back_and_give_the_same_rows(images, tmp_path):
    inputs = (VectorInputs(size=4, channels=3, channels_first=True).fit_standardize(images)
              .with_whitening(np.zeros(48), np.eye(48)[:, :6]))
    inputs.save(tmp_path / "inputs.npz")
    back = VectorInputs.load(tmp_path / "inputs.npz")
    assert back.to_dict() == inputs.to_dict()
    np.testing.assert_array_equal(back(images), inputs(images))
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically


def test_images_of_the_wrong_shape_are_one_line(images):
    with pytest.raises(NeuralabError, match=r"expected images \[N, 8, 8, 3\], got \[20, 4, 4, 3\]"):
        VectorInputs(size=8, channels=3)(images)


def test_gray_batches_may_omit_the_channel_axis():
    gray = np.full((2, 3, 3), 255, np.uint8)
    np.testing.assert_allclose(VectorInputs(size=3, channels=1)(gray), 1.0)
