"""Checkpoints that survive a kill: a folder swapped in atomically.

``checkpoint/`` holds ``model.safetensors`` (the weights, loadable without pickle) and
``state.pt`` (optimiser, scheduler, grad scaler, RNG states, data position, history, counters).
A new checkpoint is written to ``checkpoint.tmp/`` and then swapped in by two renames
(old -> ``checkpoint.old``, tmp -> ``checkpoint``), so at every instant one complete checkpoint
exists on disk; :func:`find_checkpoint` also accepts a ``checkpoint.old`` left by a kill
between the two renames. A write that fails (e.g. a full disk) removes its temporary folder and
raises a one-line :class:`~neuralab.errors.NeuralabError`; the previous checkpoint stays.

``state.pt`` holds only tensors and plain Python values (NumPy's RNG state is stored as a
tensor), so it loads with ``torch.load(..., weights_only=True)``: no pickle of arbitrary
objects is executed when a checkpoint is read.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from neuralab.errors import NeuralabError

MODEL_FILE, STATE_FILE = "model.safetensors", "state.pt"


def rng_state() -> dict[str, Any]:
    """Python's, NumPy's global and torch's RNG states, as tensors and plain values."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(),
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss),
                       float(cached)],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.int64).astype(np.uint32), pos,
                         has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_weights(model: torch.nn.Module, path: str | Path, metadata: dict | None = None) -> None:
    """Model weights as safetensors (contiguous CPU copies; tied tensors are saved once each)."""
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={k: str(v) for k, v in (metadata or {}).items()})


def load_weights(model: torch.nn.Module, path: str | Path, strict: bool = True) -> None:
    device = next(model.parameters()).device
    model.load_state_dict(load_file(str(path), device=str(device)), strict=strict)


def first_nonfinite(tree: Any, path: str = "") -> str | None:
    """The dotted name of the first floating tensor in ``tree`` (nested dicts, lists, tuples)
    with a nan or inf, or None when every one is finite."""
    if isinstance(tree, torch.Tensor):
        if tree.is_floating_point() and not bool(torch.isfinite(tree).all()):
            return path or "a tensor"
        return None
    items = (tree.items() if isinstance(tree, dict)
             else enumerate(tree) if isinstance(tree, list | tuple) else ())
    for key, value in items:
        found = first_nonfinite(value, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def _is_disk_full(err: BaseException) -> bool:
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    # torch's zip writer reports a short write as "[enforce fail at inline_container.cc:...]
    # ... unexpected pos ..." without an errno
    return isinstance(err, RuntimeError) and ("unexpected pos" in str(err)
                                             or "No space left" in str(err))


def save_checkpoint(directory: str | Path, model: torch.nn.Module, state: dict[str, Any]) -> Path:
    directory = Path(directory)
    tmp, old = directory.with_name(directory.name + ".tmp"), directory.with_name(
        directory.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        save_weights(model, tmp / MODEL_FILE)
        torch.save(state, tmp / STATE_FILE)
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    except (OSError, RuntimeError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        kept = "; the previous checkpoint is kept" if find_checkpoint(directory) else ""
        if _is_disk_full(err):
            raise NeuralabError(f"no space left on device while writing a checkpoint in "
                                f"{directory.parent}{kept}") from None
        if isinstance(err, OSError):
            raise NeuralabError(f"cannot write a checkpoint in {directory.parent}: "
                                f"{err.strerror or err}{kept}") from None
        raise
    if directory.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(directory, old)
    os.replace(tmp, directory)
    shutil.rmtree(old, ignore_errors=True)
    return directory


def find_checkpoint(directory: str | Path) -> Path | None:
    """The complete checkpoint folder to resume from, or None."""
    directory = Path(directory)
    for candidate in (directory, directory.with_name(directory.name + ".old")):
        if (candidate / MODEL_FILE).exists() and (candidate / STATE_FILE).exists():
            return candidate
    return None


def load_checkpoint(directory: str | Path, model: torch.nn.Module) -> dict[str, Any]:
    """Load the weights into ``model`` and return the saved state dict."""
    directory = Path(directory)
    load_weights(model, directory / MODEL_FILE)
    return torch.load(directory / STATE_FILE, map_location="cpu", weights_only=True)
