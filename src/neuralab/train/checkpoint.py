"""Checkpoints that survive a kill: a folder swapped in atomically.

``checkpoint/`` holds ``model.safetensors`` (the weights, loadable without pickle) and
``state.pt`` (optimiser, scheduler, grad scaler, RNG states, data position, history, counters).
A new checkpoint is written to ``checkpoint.tmp/`` and then swapped in by two renames
(old -> ``checkpoint.old``, tmp -> ``checkpoint``), so at every instant one complete checkpoint
exists on disk; :func:`find_checkpoint` also accepts a ``checkpoint.old`` left by a kill
between the two renames.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

MODEL_FILE, STATE_FILE = "model.safetensors", "state.pt"


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
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


def save_checkpoint(directory: str | Path, model: torch.nn.Module, state: dict[str, Any]) -> Path:
    directory = Path(directory)
    tmp, old = directory.with_name(directory.name + ".tmp"), directory.with_name(
        directory.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_weights(model, tmp / MODEL_FILE)
    torch.save(state, tmp / STATE_FILE)
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
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
    return torch.load(directory / STATE_FILE, map_location="cpu", weights_only=False)
