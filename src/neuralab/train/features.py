"""Features of a frozen backbone stage, computed once per image set and cached on disk.

Transfer learning that trains only a network's tail spends almost all of its time in the frozen
part. :func:`cached_features` runs that part once over an image array and keeps the result as a
float16 ``.npy`` in the cache folder, keyed by backbone, resolution, stage, weights and a digest of
the images (any change gives a new entry). Extraction flushes every 30 s, so a killed run resumes
where it stopped; an entry whose metadata is unreadable is computed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuralab.io import atomic_write_text

FEATURES_VERSION = "1"


def array_digest(images: np.ndarray) -> str:
    """sha256 of an array's shape, dtype and bytes: the data part of a feature-cache key."""
    h = hashlib.sha256(f"{images.shape} {images.dtype}\n".encode())
    h.update(memoryview(np.ascontiguousarray(images)).cast("B"))
    return h.hexdigest()


def feature_cache_key(backbone: str, resolution: int, stage: str, weights_sha256: str,
                      data_digest: str) -> str:
    """The cache key of a frozen part's features: changes with any of its inputs."""
    from neuralab.data.cache import cache_key

    return cache_key("features", FEATURES_VERSION, backbone, int(resolution), stage,
                     weights_sha256, data_digest)


def feature_cache_file(backbone: str, key: str) -> Path:
    from neuralab.data import cache_dir

    return cache_dir() / "features" / backbone / f"{key}.npy"


def extraction_batch(resolution: int, device: str) -> int:
    """Batch size for feature extraction. On a CPU small batches keep the activations in
    cache: cifar10-transfer's frozen part (EfficientNet-Lite0 up to ``blocks.10``) at 224 px
    on 2 Zen 4 cores, with freed memory kept as ``neuralab run`` does, ran at 114 / 145 / 138
    / 121 / 120 / 97 / 84 img/s with batches 1 / 4 / 8 / 16 / 32 / 64 / 128 (2026-12-07,
    ``benchmarks/extraction_batch.py``; glibc's allocator as it comes, which faults every
    large activation in afresh, was 1.6-2.9x slower at each batch), on 2 Intel Xeon cores
    with AMX at 108 / 122 / 137 / 112 / 110 / 87 / 85 img/s (the same day,
    results/benchmarks/extraction_batch.json; plain: 1.4-2.8x slower), and 375 / 845 / 548 img/s
    with 64 / 16 / 4 at 112 px (2026-11-24): about 200k pixels per batch is best. GPUs want
    large batches."""
    if torch.device(device).type != "cpu":
        return 128
    return max(1, round(16 * (112 / resolution) ** 2))


def _read_meta(path: Path) -> dict | None:
    """A cache entry's JSON metadata; None when it is absent or unreadable (then rebuilt)."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def cached_features(model, images: np.ndarray, preprocess, stop: int, *, backbone: str,
                    resolution: int, weights_sha256: str, desc: str, batch_size: int = 64,
                    device: str = "cpu", log=None) -> tuple[np.ndarray, dict[str, Any]]:
    """``model.run_stages(preprocess(images), 0, stop)`` as float16, computed once and cached.

    Returns the features (a copy-on-write memory map) and the cache entry's metadata
    (``extract_s``, ``images_per_s``, ``from_cache``). An interrupted extraction resumes
    from its last flushed batch.
    """
    from neuralab.progress import progress

    stage = model.STAGES[stop - 1] if stop > 0 else "input"
    key = feature_cache_key(backbone, resolution, stage, weights_sha256, array_digest(images))
    final = feature_cache_file(backbone, key)
    meta_file = final.with_suffix(".json")
    meta = _read_meta(meta_file) if final.exists() else None
    if meta is not None:
        return np.load(final, mmap_mode="c"), {**meta, "from_cache": True}
    final.parent.mkdir(parents=True, exist_ok=True)
    partial, progress_file = (final.with_name(f"{key}.partial.npy"),
                              final.with_name(f"{key}.partial.json"))
    model.eval()
    model.to(memory_format=torch.channels_last)  # faster convolutions on CPUs
    with torch.inference_mode():
        probe = model.run_stages(preprocess(torch.as_tensor(images[:1]).to(device)), 0, stop)
    shape = (len(images), *probe.shape[1:])
    done, spent = 0, 0.0
    state = _read_meta(progress_file)
    if partial.exists() and state and state.get("shape") == list(shape):
        out = np.lib.format.open_memmap(partial, mode="r+")
        done, spent = int(state["done"]), float(state["extract_s"])
        if log:
            log(f"resuming feature extraction at {done}/{len(images)}")
    else:
        out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.float16, shape=shape)
    bar = progress(total=len(images), desc=desc, unit="img")
    bar.update(done)
    start_t = last_flush = time.perf_counter()
    with torch.inference_mode():
        for start in range(done, len(images), batch_size):
            x = preprocess(torch.as_tensor(images[start:start + batch_size]).to(device))
            feats = model.run_stages(x.contiguous(memory_format=torch.channels_last), 0, stop)
            out[start:start + len(x)] = feats.to(torch.float16).cpu().numpy()
            bar.update(len(x))
            if time.perf_counter() - last_flush > 30:
                out.flush()
                last_flush = time.perf_counter()
                atomic_write_text(progress_file, json.dumps({
                    "shape": list(shape), "done": start + len(x),
                    "extract_s": spent + last_flush - start_t}))
    bar.close()
    model.to(memory_format=torch.contiguous_format)
    out.flush()
    del out
    spent += time.perf_counter() - start_t
    os.replace(partial, final)
    meta = {"backbone": backbone, "resolution": int(resolution), "stage": stage,
            "shape": list(shape), "dtype": "float16", "weights_sha256": weights_sha256,
            "key": key, "extract_s": round(spent, 2),
            "images_per_s": round(len(images) / max(spent, 1e-9), 2)}
    atomic_write_text(meta_file, json.dumps(meta, indent=1))
    progress_file.unlink(missing_ok=True)
    return np.load(final, mmap_mode="c"), {**meta, "from_cache": False}
