"""Image folders as datasets: ``DIR/<split>/<class>/*.png|jpg``, or ``DIR/train/`` only.

``neuralab.data.load(DIR)`` (any path that is not a registered name; write ``./mnist`` for a
folder that is called like one) or ``load("image-folder", path=DIR)``:

- Splits are the folders ``train``, ``val`` (also spelt ``valid``/``validation``), ``test`` and
  any other non-hidden folder. ``train/`` is required. Without ``test/`` a deterministic
  stratified validation and test split is cut from ``train/`` (``val_fraction``/
  ``test_fraction`` of every class, default 0.15 each, at least one image each,
  ``np.random.default_rng(seed)``, default seed 0; a given ``val/`` is kept and then only the
  test part is cut). The cut is recorded in ``DataSource.derived`` and the note, so a run
  reports it. A folder with no split folders at all but class folders (``DIR/<class>/*``) is
  treated as ``train/`` only.
- Classes are the class folder names, sorted, over all splits (a given list, e.g. CIFAR-10's
  official order, for a known dataset). Every split must hold at least one image of every
  class: an empty or missing class folder is a one-line error naming it.
- Mode: ``mode="auto"`` (default) gives gray ``C = 1`` when *every* image is gray (PIL mode
  1/L/LA/I/I;16/F) and RGB ``C = 3`` otherwise; every image is converted, so one gray JPEG
  first in the list does not make the set gray. ``mode="RGB"``/``"L"`` forces one.
- ``size=N`` resizes each image's shorter side to N and centre-crops N x N; without it all
  images must have one size.

Decoded arrays are cached once; the entry is found through a cheap fingerprint of relative
paths, sizes and mtimes, and stores the real content checksum (sha256 of every file's path and
bytes) computed while decoding. A folder has no published checksum: ``verified`` is False.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuralab.data.cache import cache_key, cached
from neuralab.data.dataset import Dataset, DataSource, Split
from neuralab.data.facts import NONE_GRAY, DatasetInfo, check_complete, check_counts
from neuralab.data.images import ImageFile, decode_files, fingerprint, list_images, scan_tree
from neuralab.data.integrity import manifest_digest
from neuralab.data.splits import stratified_indices
from neuralab.errors import DataError

NAME = "image-folder"
SPLIT_ALIASES = {"train": "train", "val": "val", "valid": "val", "validation": "val",
                 "test": "test"}
SPLIT_ORDER = ("train", "val", "test")
MODES = ("auto", "RGB", "L")
VAL_FRACTION = TEST_FRACTION = 0.15
SEED = 0


def _ordered(splits: list[str]) -> list[str]:
    known = [s for s in SPLIT_ORDER if s in splits]
    return known + sorted(s for s in splits if s not in known)


def folder_format(files: list[ImageFile]) -> str:
    """``"image-folder (jpg)"``, ``"image-folder (png)"`` or ``"image-folder (jpg+png)"``."""
    kinds = sorted({"jpg" if f.rel.lower().endswith((".jpg", ".jpeg")) else "png" for f in files})
    return f"image-folder ({'+'.join(kinds)})"


def _subfolders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


class ImageTree:
    """A scanned ``root/split/class/*`` tree: what is there, without decoding anything.

    ``splits`` maps our split names (``valid`` -> ``val``) to ``{class: [ImageFile]}``; empty
    class folders and empty splits are kept, so that they can be reported.
    """

    def __init__(self, root: Path, classes: list[str] | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"image folder {self.root} does not exist; pass a folder with "
                            "<split>/<class>/*.png|jpg (e.g. train/cat/0001.png)")
        folders = _subfolders(self.root)
        self.flat = bool(folders) and not any(f in SPLIT_ALIASES for f in folders) and any(
            list_images(self.root / f) for f in folders)
        if self.flat:  # DIR/<class>/*: one pool, treated as train/ only
            tree = {"train": {c: list_images(self.root / c, f"{c}/") for c in folders}}
        else:
            tree = {}
            for folder, per_class in scan_tree(self.root).items():
                name = SPLIT_ALIASES.get(folder, folder)
                if name in tree:
                    raise DataError(f"image folder {self.root} has two validation folders "
                                    f"({folder}/ and another spelling); keep one")
                tree[name] = per_class
        if not any(files for per_class in tree.values() for files in per_class.values()):
            raise DataError(f"no images in {self.root}: expected "
                            f"{self.root}/<split>/<class>/*.png|jpg (e.g. train/cat/0001.png)")
        found = sorted({c for per_class in tree.values() for c in per_class})
        if classes is not None:
            unknown = [c for c in found if c not in classes]
            if unknown:
                raise DataError(f"unexpected class folders under {self.root}: "
                                f"{', '.join(unknown)} (expected {', '.join(classes)})")
        self.classes = list(classes) if classes is not None else found
        self.splits = _ordered(list(tree))
        self.tree = tree

    def files(self, split: str) -> tuple[list[ImageFile], np.ndarray]:
        """The split's files (class by class) and their int64 labels."""
        files, labels = [], []
        for label, cls in enumerate(self.classes):
            members = self.tree[split].get(cls, [])
            files += members
            labels += [label] * len(members)
        return files, np.asarray(labels, dtype=np.int64)

    def all_files(self) -> list[ImageFile]:
        return [f for s in self.splits for f in self.files(s)[0]]

    def counts(self) -> dict[str, int]:
        return {s: len(self.files(s)[0]) for s in self.splits}

    def per_class(self) -> dict[str, list[int]]:
        return {s: [len(self.tree[s].get(c, [])) for c in self.classes] for s in self.splits}

    def key(self, name: str, *options: object) -> str:
        return cache_key(name, "image-folder", self.root.resolve(), self.classes,
                         fingerprint(self.all_files()), *options)

    def plan(self, *, derive: bool, val_fraction: float = VAL_FRACTION,
             test_fraction: float = TEST_FRACTION, seed: int = SEED,
             ) -> tuple[dict[str, tuple[list[ImageFile], np.ndarray]], dict]:
        """``{split: (files, labels)}`` to decode, and the record of any derived split.

        With ``derive`` and no ``test/``, the parts ``val`` (unless given) and ``test`` are cut
        from ``train`` per class (see the module doc); otherwise the splits are the folders.
        """
        if "train" not in self.tree:
            raise DataError(f"image folder {self.root} has no train/ folder (it has "
                            f"{', '.join(s + '/' for s in self.splits)}); expected "
                            f"{self.root}/train/<class>/*.png|jpg")
        plan = {s: self.files(s) for s in self.splits}
        if not derive or "test" in self.tree:
            return plan, {}
        fractions = {} if "val" in self.tree else {"val": float(val_fraction)}
        fractions["test"] = float(test_fraction)
        if any(not 0 < f < 1 for f in fractions.values()) or sum(fractions.values()) >= 1:
            raise DataError(f"image folder {self.root}: val_fraction and test_fraction must be "
                            f"in (0, 1) and sum to less than 1, got {fractions}")
        files, labels = plan["train"]
        n_parts = len(fractions) + 1
        per = np.bincount(labels, minlength=len(self.classes))
        small = [f"{c} ({n})" for c, n in zip(self.classes, per, strict=True) if 0 < n < n_parts]
        if small:
            raise DataError(f"image folder {self.root} has no test/ folder, and class "
                            f"{', '.join(small)} has too few images to hold out "
                            f"{' and '.join(fractions)} (need at least {n_parts} a class)")
        cut = stratified_indices(labels, {**fractions, "train": 0.0}, seed, min_each=1)
        derived_plan = {part: ([files[i] for i in idx], labels[idx]) for part, idx in cut.items()}
        plan.update(derived_plan)
        plan = {s: plan[s] for s in _ordered(list(plan))}
        record = {"from": "train", "fractions": fractions, "seed": int(seed),
                  "stratified": True, "counts": {s: len(plan[s][0]) for s in plan}}
        return plan, record

    def load(self, name: str, *, note: str = "", size: int | None = None, mode: str = "RGB",
             facts: DatasetInfo | None = None, derive: bool = False,
             val_fraction: float = VAL_FRACTION, test_fraction: float = TEST_FRACTION,
             seed: int = SEED) -> Dataset:
        """Decode every split (cached): uint8 ``[N, H, W, C]``.

        ``facts`` (a known dataset's :class:`DatasetInfo`) sets the expected splits and
        counts; without it every split must have every class. Counts are checked before
        anything is decoded. ``mode`` "RGB", "L" or "auto" (see the module doc).
        """
        if mode not in MODES:
            raise DataError(f"image folder mode must be one of {', '.join(MODES)}, got {mode!r}")
        plan, derived = self.plan(derive=derive, val_fraction=val_fraction,
                                  test_fraction=test_fraction, seed=seed)
        known = facts is not None
        facts = facts or DatasetInfo("image folder", list(self.classes), (1, 1, 1),
                                     {"none": NONE_GRAY}, "none", required=("train",))
        check_counts(facts, {s: np.bincount(labels, minlength=len(self.classes))
                             for s, (_, labels) in plan.items()}, self.root)
        if derived:
            text = (f"no test/ folder: {' and '.join(derived['fractions'])} cut from train/, "
                    f"{' / '.join(f'{v:g}' for v in derived['fractions'].values())} of each "
                    f"class, seed {derived['seed']}")
            note = f"{note}; {text}" if note else text

        def build() -> Dataset:
            everything = self.all_files()
            decoded, digests = {}, {}
            for split, (files, labels) in plan.items():
                images, digests[split] = decode_files(self.root, files, mode=mode, size=size,
                                                      desc=f"{name} {split}")
                decoded[split] = (images, labels)
            if len({images.shape[1:3] for images, _ in decoded.values()}) > 1:
                shapes = {s: f"{i.shape[2]}x{i.shape[1]}" for s, (i, _) in decoded.items()}
                raise DataError(f"image folder {self.root}: the splits have different image "
                                f"sizes ({shapes}); pass size=N")
            channels = max(images.shape[3] for images, _ in decoded.values())
            splits = {s: Split(np.repeat(i, 3, axis=3) if i.shape[3] < channels else i, y)
                      for s, (i, y) in decoded.items()}
            checksum = digests[self.splits[0]] if len(digests) == 1 else _combine(digests)
            source = DataSource(name=name, path=str(self.root), format=folder_format(everything),
                                checksum=checksum, verified=False, note=note,
                                files={f"{s}/": d for s, d in digests.items()}, derived=derived)
            data = Dataset(name, splits, list(self.classes), source)
            if known:
                check_complete(data, facts, self.root)
            return data

        options = (size, mode, sorted(derived.get("fractions", {}).items()),
                   derived.get("seed"))
        return cached(name, self.key(name, *options), build)


def _combine(digests: dict[str, str]) -> str:
    return manifest_digest({f"{split}/": d for split, d in digests.items()})


def resolve(root: Path, path: str | Path) -> Path:
    """``path`` as given, else relative to the data root when only that exists."""
    folder = Path(path).expanduser()
    if not folder.is_absolute() and not folder.exists() and (Path(root) / folder).exists():
        folder = Path(root) / folder
    return folder


def load(root: Path, path: str | Path | None = None, size: int | None = None,
         mode: str = "auto", seed: int = SEED, val_fraction: float = VAL_FRACTION,
         test_fraction: float = TEST_FRACTION) -> Dataset:
    """``load(DIR)`` / ``load("image-folder", path=DIR)``: see the module doc.

    ``size`` (optional) resizes the shorter side and centre-crops each image to a square;
    ``seed``, ``val_fraction``, ``test_fraction`` shape the split made when there is no test/.
    """
    if path is None:
        raise DataError("image-folder needs path=DIR (a folder with <split>/<class>/*.png|jpg)")
    folder = resolve(root, path)
    tree = ImageTree(folder)
    return tree.load(NAME, size=None if size is None else int(size), mode=mode, derive=True,
                     seed=int(seed), val_fraction=float(val_fraction),
                     test_fraction=float(test_fraction),
                     note=f"images from the folder tree {folder}")


def info(root: Path | None = None, path: str | Path | None = None, size: int | None = None,
         mode: str = "auto", seed: int = SEED, val_fraction: float = VAL_FRACTION,
         test_fraction: float = TEST_FRACTION) -> DatasetInfo:
    """The facts of an image folder: classes from its folders; shape, split sizes and the
    per-channel mean/std of its train split measured on the decoded images (the folder is
    loaded, i.e. decoded once and cached). The normalisation is named ``"train"``.
    """
    if path is None:
        raise DataError("image-folder needs path=DIR (a folder with <split>/<class>/*.png|jpg)")
    data = load(root or Path("."), path, size=size, mode=mode, seed=seed,
                val_fraction=val_fraction, test_fraction=test_fraction)
    h, w, c = data.image_shape
    mean, std = channel_stats(data["train"].images)
    derived = f"; derived split: {data.source.derived}" if data.source.derived else ""
    return DatasetInfo(str(resolve(root or Path("."), path)), list(data.classes), (c, h, w),
                       {"train": (mean, std)}, "train", counts=data.counts(),
                       required=tuple(data.splits), note=data.source.note + derived)


def channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel (mean, std) in [0, 1] units of uint8 ``[N, H, W, C]`` images (population
    std over all pixels), rounded to 4 decimals like the project's tables."""
    flat = images.reshape(-1, images.shape[-1])
    total = np.zeros(flat.shape[1]), np.zeros(flat.shape[1])
    for start in range(0, len(flat), 1 << 22):  # float64 sums in chunks: no big float copy
        chunk = flat[start:start + (1 << 22)].astype(np.float64) / 255.0
        total[0][:] += chunk.sum(axis=0)
        total[1][:] += (chunk * chunk).sum(axis=0)
    n = max(len(flat), 1)
    mean = total[0] / n
    std = np.sqrt(np.maximum(total[1] / n - mean * mean, 0.0))
    std[std < 1e-4] = 1.0  # a constant channel: leave it unscaled rather than divide by 0
    return tuple(round(float(v), 4) for v in mean), tuple(round(float(v), 4) for v in std)
