"""scikit-learn's bundled 8x8 digits: the embedded default that works offline on any machine.

1,797 images, values 0-16 scaled to uint8 0-255 (``round(v * 255 / 16)``): ``[N, 8, 8, 1]``.
Split per class 60/20/20 into train/val/test with ``np.random.default_rng(seed=0)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuralab.data import splits as splitting
from neuralab.data.cache import cache_key, cached
from neuralab.data.dataset import Dataset, DataSource
from neuralab.data.facts import DatasetInfo
from neuralab.data.integrity import verify_file
from neuralab.data.status_row import remembered_verified, status_row

NAME = "digits"
CLASSES = [str(d) for d in range(10)]
FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}
SEED = 0
# sha256 of sklearn/datasets/data/digits.csv.gz as shipped (checked with scikit-learn 1.9.1);
# another value only marks the source unverified.
SHA256 = "sha256:09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
FORMAT = "scikit-learn (embedded)"


COUNT = 1797
# "digits": measured on the train split (seed 0); "half": (x - 0.5) / 0.5, the digits experiment's
INFO = DatasetInfo(NAME, list(CLASSES), (1, 8, 8),
                   {"digits": ((0.3045,), (0.3758,)), "half": ((0.5,), (0.5,))}, "digits",
                   required=tuple(FRACTIONS),
                   note="scikit-learn's 8x8 digits (embedded), 1,797 images, split 60/20/20")


def bundled_file() -> Path:
    from importlib.resources import files

    return Path(str(files("sklearn.datasets") / "data" / "digits.csv.gz"))


def load(root: Path | None = None, seed: int = SEED) -> Dataset:
    """The digits, split 60/20/20 (stratified, fixed seed). ``root`` is ignored."""
    path = bundled_file()
    digest, ok = verify_file(path, SHA256, strict=False)

    def build() -> Dataset:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)[..., None]
        splits = splitting.split_arrays(images, bunch.target.astype(np.int64), FRACTIONS,
                                        int(seed))
        note = (f"scikit-learn's bundled 8x8 digits (embedded), 0-16 scaled to 0-255, "
                f"stratified 60/20/20 split with seed {seed}")
        source = DataSource(NAME, str(path), FORMAT, digest, ok, note, {path.name: digest})
        return Dataset(NAME, splits, list(CLASSES), source)

    return cached(NAME, cache_key(NAME, digest, FRACTIONS, int(seed)), build)


def probe(root: Path | None = None) -> dict:
    try:
        path = bundled_file()
    except (ImportError, ModuleNotFoundError):
        return status_row(NAME)
    index = splitting.stratified_indices(_targets(), FRACTIONS, SEED)
    return status_row(NAME, path, FORMAT, verified=remembered_verified({path: SHA256}),
                      counts={k: len(v) for k, v in index.items()}, note="embedded in scikit-learn")


def _targets() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().target.astype(np.int64)


def download(root: Path | None = None) -> Path:
    """Nothing to download: the digits ship inside scikit-learn."""
    return bundled_file()
