"""Shared fixtures for the OCR tests: the data root and synthetic handwriting glyphs."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

EMNIST_CLASSES = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def data_root() -> Path | None:
    root = os.environ.get("NEURALAB_DATA")
    return Path(root) if root else None


@pytest.fixture
def hw5_dir() -> Path:
    root = data_root()
    if root is None or not (root / "hw5").is_dir():
        pytest.skip("NEURALAB_DATA is unset or has no hw5/ photos")
    return root / "hw5"


class EmnistGlyphs:
    """Glyph source (see ``neuralab.ocr.synth``) drawing real EMNIST handwriting."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images = images
        self.by_class = {c: np.nonzero(labels == i)[0] for i, c in enumerate(EMNIST_CLASSES)}

    def __call__(self, ch: str, height: int, rng: np.random.Generator) -> np.ndarray:
        g = self.images[rng.choice(self.by_class[ch])].astype(np.float32) / 255
        ys, xs = np.nonzero(g > 0.3)
        g = g[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        width = min(max(1, round(g.shape[1] * height / g.shape[0])), int(1.4 * height))
        return np.asarray(Image.fromarray(g).resize((width, height), Image.BILINEAR))


@pytest.fixture(scope="session")
def emnist_glyphs() -> EmnistGlyphs:
    """The first 20,000 EMNIST ByClass test images (upright), digits and uppercase only."""
    root = data_root()
    gz = root / "emnist" / "gzip" if root else None
    if gz is None or not (gz / "emnist-byclass-test-images-idx3-ubyte.gz").is_file():
        pytest.skip("NEURALAB_DATA is unset or has no EMNIST idx files")
    n = 20000
    with gzip.open(gz / "emnist-byclass-test-images-idx3-ubyte.gz") as f:
        raw = f.read(16 + n * 784)
    with gzip.open(gz / "emnist-byclass-test-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(8 + n), np.uint8, offset=8)
    images = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28).transpose(0, 2, 1)
    return EmnistGlyphs(images, labels)
