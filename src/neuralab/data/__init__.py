"""Datasets: finding, verifying, downloading, decoding once and caching.

>>> from neuralab.data import load
>>> ds = load("cifar10")                 # from --data-dir / $NEURALAB_DATA / ~/.cache/neuralab
>>> ds.splits["train"].images.shape      # uint8 [N, H, W, C]
(50000, 32, 32, 3)

Modules: ``paths`` (data root, cache dir), ``integrity`` (checksums), ``download``,
``cache`` (decoded arrays), ``idx``/``images`` (file formats), one module per dataset
(``cifar10``, ``mnist``, ``emnist``, ``nist36``, ``flowers17``, ``digits``, ``image_folder``),
``palindromes`` (generated sequences), ``augment`` (tensor augmentation, normalisation).
"""

from neuralab.data.dataset import Dataset, DataSource, Split
from neuralab.data.paths import cache_dir, data_root
from neuralab.data.registry import dataset_names, download, format_status_table, load, status

__all__ = ["Dataset", "DataSource", "Split", "cache_dir", "data_root", "dataset_names",
           "download", "format_status_table", "load", "status"]
