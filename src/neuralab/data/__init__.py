"""Datasets: finding, verifying, downloading, decoding once and caching; their facts.

>>> from neuralab.data import load, info
>>> ds = load("cifar10")                 # from --data-dir / $NEURALAB_DATA / ~/.cache/neuralab
>>> ds.splits["train"].images.shape      # uint8 [N, H, W, C]
(50000, 32, 32, 3)
>>> info("cifar10").mean, info("cifar10").shape
((0.4914, 0.4822, 0.4465), (3, 32, 32))
>>> ds = load("path/to/folder")          # an image folder: DIR/train/<class>/*.jpg [+ test/]

Modules: ``paths`` (data root, cache dir, temp files, warnings), ``integrity`` (checksums),
``download``, ``cache`` (decoded arrays), ``idx``/``images`` (file formats), ``facts`` (dataset
facts: classes, shape, normalisations, expected counts; completeness checks), ``preprocess``
(uint8 images -> normalised float NCHW, written once), one module per dataset (``cifar10``,
``mnist``, ``emnist``, ``nist36``, ``flowers17``, ``digits``, ``image_folder``), ``registry``
(name -> loader; how to add a dataset), ``splits`` (deterministic stratified splits),
``palindromes`` (generated sequences), ``augment`` (tensor augmentation; imports torch).

Importing ``neuralab.data`` imports neither torch nor PIL.
"""

from neuralab.data.dataset import Dataset, DataSource, Split
from neuralab.data.facts import DatasetInfo
from neuralab.data.paths import cache_dir, data_root
from neuralab.data.preprocess import Preprocess, normalize
from neuralab.data.registry import (
    dataset_names,
    download,
    format_status_table,
    info,
    is_folder_name,
    load,
    load_options,
    status,
)
from neuralab.data.splits import hold_out, stratified_subset, validation_split

__all__ = ["DataSource", "Dataset", "DatasetInfo", "Preprocess", "Split", "cache_dir",
           "data_root", "dataset_names", "download", "format_status_table", "hold_out", "info",
           "is_folder_name", "load", "load_options", "normalize", "status", "stratified_subset",
           "validation_split"]
