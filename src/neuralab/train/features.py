"""Features of a frozen backbone stage, computed once per image set and cached on disk.

Transfer learning that trains only a network's tail spends almost all of its time in the frozen
part. :func:`cached_features` runs that part once over an image array and keeps the result as a
float16 ``.npy`` in the cache folder, keyed by backbone, resolution, stage, weights, the precision
it was computed in and a digest of the images (any change gives a new entry). Extraction flushes
every 30 s, so a killed run resumes where it stopped; an entry whose metadata is unreadable is
computed again.

Precision: ``fp32``, ``bf16`` (CPU bf16 autocast: the convolutions' inputs rounded to bfloat16's
8-bit mantissa, accumulation in fp32), or ``auto``: bf16 on a CPU that has bf16 instructions
where a probe of the first batch finds the frozen part at least 10% faster in it, else fp32
(fp32 on other devices). On a 2-core Xeon with AMX, EfficientNet-Lite0 up to ``blocks.10`` at
224 px ran 1.42x faster in bf16 (156.8 against 110.7 img/s at batch 4, 2026-12-07).
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
EXTRACT_PRECISIONS = ("fp32", "bf16", "auto")


def array_digest(images: np.ndarray) -> str:
    """sha256 of an array's shape, dtype and bytes: the data part of a feature-cache key."""
    h = hashlib.sha256(f"{images.shape} {images.dtype}\n".encode())
    h.update(memoryview(np.ascontiguousarray(images)).cast("B"))
    return h.hexdigest()


def feature_cache_key(backbone: str, resolution: int, stage: str, weights_sha256: str,
                      data_digest: str, precision: str = "fp32") -> str:
    """The cache key of a frozen part's features: changes with any of its inputs (fp32
    entries keep the key they had before the precision was part of it)."""
    from neuralab.data.cache import cache_key

    extra = () if precision == "fp32" else (precision,)
    return cache_key("features", FEATURES_VERSION, backbone, int(resolution), stage,
                     weights_sha256, data_digest, *extra)


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


def check_extract_precision(precision: str) -> None:
    """A one-line error for a precision the extraction lacks (recipes call it before reading
    any data)."""
    from neuralab.errors import NeuralabError

    if precision not in EXTRACT_PRECISIONS:
        raise NeuralabError(f"unknown extract_precision {precision!r}; use fp32, bf16 or auto")


def _autocast(precision: str, device: str):
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16,
                          enabled=precision == "bf16")


def choose_extraction_precision(model, x: torch.Tensor, stop: int, precision: str,
                                device: str = "cpu") -> tuple[str, dict[str, Any] | None]:
    """``precision`` resolved to ``fp32`` or ``bf16``, and the probe's times (None when
    there was no probe). ``auto``: bf16 on a CPU with bf16 instructions when the frozen
    part's forward of the batch ``x`` (channels-last, ``model`` in eval mode) takes at most
    0.9x of fp32's time, best of 3 after a warm-up; fp32 otherwise and on other devices."""
    from neuralab.train.trainer import cpu_has_bf16

    check_extract_precision(precision)
    if precision != "auto":
        return precision, None
    if torch.device(device).type != "cpu" or not cpu_has_bf16():
        return "fp32", {"bf16_supported": False} if torch.device(device).type == "cpu" else None
    from neuralab.system import best_ms

    def forward(name: str) -> None:
        with torch.inference_mode(), _autocast(name, device):
            model.run_stages(x, 0, stop)

    times = {f"{name}_ms": round(best_ms(lambda n=name: forward(n), repeats=1, rounds=3,
                                         warmup=1), 3)
             for name in ("fp32", "bf16")}
    chosen = "bf16" if times["bf16_ms"] <= 0.9 * times["fp32_ms"] else "fp32"
    return chosen, {"bf16_supported": True, **times}


def _read_meta(path: Path) -> dict | None:
    """A cache entry's JSON metadata; None when it is absent or unreadable (then rebuilt)."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def cached_features(model, images: np.ndarray, preprocess, stop: int, *, backbone: str,
                    resolution: int, weights_sha256: str, desc: str, batch_size: int = 64,
                    device: str = "cpu", precision: str = "fp32", log=None,
                    ) -> tuple[np.ndarray, dict[str, Any]]:
    """``model.run_stages(preprocess(images), 0, stop)`` as float16, computed once and cached.

    ``precision``: ``fp32``, ``bf16`` or ``auto`` (see the module docstring); the entry is
    keyed by the precision it was computed in, and ``auto`` takes an entry, or an interrupted
    extraction, of either precision before it probes. Returns the features (a copy-on-write
    memory map) and the cache entry's metadata (``precision``, ``extract_s``,
    ``images_per_s``, ``from_cache``; after a probe, ``precision_probe``). An interrupted
    extraction resumes from its last flushed batch.
    """
    from neuralab.progress import progress

    check_extract_precision(precision)
    stage = model.STAGES[stop - 1] if stop > 0 else "input"
    digest = array_digest(images)

    def entry(chosen: str) -> tuple[str, Path, Path, Path]:
        """The key, the final file, the partial file and its progress file."""
        key = feature_cache_key(backbone, resolution, stage, weights_sha256, digest, chosen)
        final = feature_cache_file(backbone, key)
        return (key, final, final.with_name(f"{key}.partial.npy"),
                final.with_name(f"{key}.partial.json"))

    # auto takes what is there in either precision: a probe's verdict can differ from run to
    # run where the two are close, and neither the cache nor a resumed extraction may flip
    candidates = ("bf16", "fp32") if precision == "auto" else (precision,)
    for chosen in candidates:
        _, final, _, _ = entry(chosen)
        meta = _read_meta(final.with_suffix(".json")) if final.exists() else None
        if meta is not None:
            return np.load(final, mmap_mode="c"), {"precision": "fp32", **meta,
                                                   "from_cache": True}
    started = [c for c in candidates if entry(c)[2].exists() and _read_meta(entry(c)[3])]
    model.eval()
    model.to(memory_format=torch.channels_last)  # faster convolutions on CPUs
    first = preprocess(torch.as_tensor(images[:batch_size]).to(device))
    probe_times = None
    if precision == "auto" and started:
        precision = started[0]
    else:
        precision, probe_times = choose_extraction_precision(
            model, first.contiguous(memory_format=torch.channels_last), stop, precision, device)
    key, final, partial, progress_file = entry(precision)
    meta_file = final.with_suffix(".json")
    final.parent.mkdir(parents=True, exist_ok=True)
    if log and probe_times and probe_times.get("bf16_supported"):
        log(f"extract_precision=auto: {precision} (the first batch: fp32 "
            f"{probe_times['fp32_ms']:.1f} ms, bf16 {probe_times['bf16_ms']:.1f} ms)")
    with torch.inference_mode(), _autocast(precision, device):
        probe = model.run_stages(first[:1].contiguous(memory_format=torch.channels_last), 0,
                                 stop)
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
    with torch.inference_mode(), _autocast(precision, device):
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
            "shape": list(shape), "dtype": "float16", "precision": precision,
            **({"precision_probe": probe_times} if probe_times else {}),
            "weights_sha256": weights_sha256, "key": key, "extract_s": round(spent, 2),
            "images_per_s": round(len(images) / max(spent, 1e-9), 2)}
    atomic_write_text(meta_file, json.dumps(meta, indent=1))
    progress_file.unlink(missing_ok=True)
    return np.load(final, mmap_mode="c"), {**meta, "from_cache": False}
