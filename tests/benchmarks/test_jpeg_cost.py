"""benchmarks/jpeg_cost.py: the second JPEG pass it measures the data copy's cost with."""

import io

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def jpeg_cost(load_benchmark):
    return load_benchmark("jpeg_cost")


def _textured(n: int, seed: int = 0) -> np.ndarray:
    """Smooth colour gradients plus noise: images with detail for JPEG to lose."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    base = np.stack([xx, yy, (xx + yy) / 2], axis=-1) * 200
    return np.clip(base + rng.normal(0, 25, (n, 32, 32, 3)), 0, 255).astype(np.uint8)


def _as_copy(images: np.ndarray) -> np.ndarray:
    """What the data copy is: each image saved once as JPEG quality 75, 4:2:0."""
    out = []
    for img in images:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=75, subsampling=2)
        out.append(np.asarray(Image.open(buf).convert("RGB")))
    return np.stack(out)


def test_psnr(jpeg_cost):
    a = np.zeros((2, 4, 4, 3), np.uint8)
    b = a.copy()
    assert jpeg_cost.psnr(a, b) is None
    b[0, 0, 0, 0] = 255  # MSE = 255^2 / 96 -> PSNR = 10 log10(96)
    assert jpeg_cost.psnr(a, b) == pytest.approx(10 * np.log10(96), abs=0.01)


def test_shifted_second_pass_loses_far_more_than_an_aligned_one(jpeg_cost):
    genuine = _textured(16)
    copy = _as_copy(genuine)
    first = jpeg_cost.psnr(copy, genuine)
    aligned = jpeg_cost.recompress(copy, offset=0)
    shifted = jpeg_cost.recompress(copy, offset=3)
    assert aligned.shape == shifted.shape == copy.shape and shifted.dtype == np.uint8
    # the same blocks quantised again lose little; moved blocks lose like a fresh pass (here
    # less than the first, which also removed the noise; on the CIFAR copy 31.8 vs ~30 dB)
    assert jpeg_cost.psnr(aligned, copy) > first + 8
    assert jpeg_cost.psnr(shifted, copy) < jpeg_cost.psnr(aligned, copy) - 10
    assert jpeg_cost.psnr(shifted, copy) < 35
    # the crop puts every pixel back where it was: far closer to the copy than a shift would be
    assert jpeg_cost.psnr(shifted, copy) > jpeg_cost.psnr(np.roll(copy, 1, axis=2), copy) + 3
