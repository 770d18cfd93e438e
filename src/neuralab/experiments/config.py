"""Turning ``--set key=value`` strings into typed config fields.

Values are parsed by the field's declared type: ``int``, ``float``, ``bool`` (true/false/1/0/
yes/no), ``str``, ``tuple[int, ...]``/``list[int]`` written as ``100,100`` (an empty string is an
empty tuple), and ``X | None`` (``none`` gives None). Anything else is a one-line error.

Numbers are then checked against :data:`FIELD_BOUNDS`, one table for every experiment: a field
name means the same thing in every config (``batch_size`` is a positive count, ``momentum`` a
fraction in [0, 1), ...), so a bad value stops the run before any data is read or any folder is
written. Every int and float field of a registered config must have an entry (a test checks).
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neuralab.errors import NeuralabError

_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def parse_set_args(items: list[str]) -> dict[str, str]:
    """``["lr=0.1", "epochs=3"]`` -> ``{"lr": "0.1", "epochs": "3"}``; malformed -> error."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise NeuralabError(f"malformed --set {item!r}: expected key=value, e.g. --set lr=0.01")
        out[key.strip()] = value.strip()
    return out


def _convert(name: str, text: str, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if text.lower() in {"none", "null", ""}:
            return None
        return _convert(name, text, args[0])
    if origin in (tuple, list):
        (inner, *_) = typing.get_args(tp) or (str,)
        parts = [p for p in text.replace(" ", "").split(",") if p]
        values = [_convert(name, p, inner) for p in parts]
        return tuple(values) if origin is tuple else values
    try:
        if tp is bool:
            low = text.lower()
            if low in _TRUE | _FALSE:
                return low in _TRUE
            raise ValueError
        if tp is int:
            if "e" not in text.lower():
                return int(text)
            number = float(text)  # 2e3
            if not number.is_integer():
                raise ValueError
            return int(number)
        if tp is float:
            return float(text)
        if tp is str:
            return text
    except (ValueError, OverflowError):
        raise NeuralabError(f"--set {name}={text!r}: expected {tp.__name__}") from None
    raise NeuralabError(f"--set {name}: fields of type {tp} cannot be set from the command line")


@dataclass(frozen=True)
class Bounds:
    """The allowed range of a number: ``low <= value <= high`` (``<`` where the end is open);
    ``None`` leaves that side unbounded."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def admits(self, value: float) -> bool:
        if not math.isfinite(value):  # NaN and infinities are never a setting
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {_number(self.low)}"
        return (f"in {'(' if self.low_open else '['}{_number(self.low)}, "
                f"{_number(self.high)}{')' if self.high_open else ']'}")


def _number(value: float) -> str:
    """1e7 -> "10000000", 0.5 -> "0.5": whole numbers in full, others as ``%g``."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


POSITIVE = Bounds(0, low_open=True)
NON_NEGATIVE = Bounds(0)
COUNT = Bounds(1)  # an int that counts something: at least one
FRACTION = Bounds(0, 1, high_open=True)  # [0, 1): momenta, dropout, label smoothing
DECAY = Bounds(0, 1, low_open=True)  # (0, 1]: multiplicative decays, accuracies

# Upper ends: what this package can run on one machine. A size past them would exhaust memory
# (hidden_units=1e9 asks for hundreds of GiB) or train for ever (epochs=1e23) instead of failing
# with one line before anything starts.
MAX_WIDTH = 65_536  # units of a hidden layer, channels of a conv stage, PCA components
MAX_BATCH = 65_536
MAX_EPOCHS = 10_000
MAX_STEPS = 10_000_000  # optimiser steps, iterations, evaluation intervals
MAX_SAMPLES = 10_000_000  # subsets and held-out examples (more than any dataset here has)
MAX_PIXELS = 1_024  # image side after resizing
MAX_SEQ_LENGTH = 1_000  # palindrome length (BPTT through 1,000 steps is already slow)
MAX_THREADS = max(256, os.cpu_count() or 1)
MAX_SHIFT = 64  # pixels of translation / padding
MAX_SECONDS = 7 * 24 * 3600.0  # one week

SIZE = Bounds(1, MAX_WIDTH)
STEPS = Bounds(1, MAX_STEPS)
MAYBE_STEPS = Bounds(0, MAX_STEPS)  # 0: never
SAMPLES = Bounds(1, MAX_SAMPLES)
MAYBE_SAMPLES = Bounds(0, MAX_SAMPLES)
PIXELS = Bounds(1, MAX_PIXELS)
SHIFT = Bounds(0, MAX_SHIFT)
THREADS = Bounds(0, MAX_THREADS)  # 0: the libraries' default

#: field name -> allowed range, shared by every experiment's config. Tuples are checked element by
#: element; ``None`` (where the field's type allows it) always passes: it means "off" or "all".
FIELD_BOUNDS: dict[str, Bounds] = {
    # optimisation
    "learning_rate": POSITIVE, "bias_lr": POSITIVE, "filter_lr": POSITIVE, "head_lr": POSITIVE,
    "momentum": FRACTION, "sgd_momentum": FRACTION, "filter_momentum": FRACTION,
    "weight_decay": NON_NEGATIVE, "reg": NON_NEGATIVE, "label_smoothing": FRACTION,
    "dropout": FRACTION, "max_norm": POSITIVE, "lr_decay": DECAY, "learning_rate_decay": DECAY,
    "lr_decay_every": MAYBE_STEPS, "warmup_steps": MAYBE_STEPS,
    "time_budget_s": Bounds(0, MAX_SECONDS, low_open=True),
    "whiten_bias_epochs": Bounds(0, MAX_EPOCHS),
    # length of training and evaluation
    "batch_size": Bounds(1, MAX_BATCH), "epochs": Bounds(0, MAX_EPOCHS, low_open=True),
    "max_steps": STEPS, "max_iters": STEPS, "num_iters": STEPS, "train_steps": STEPS,
    "eval_freq": STEPS, "eval_every": STEPS, "patience": Bounds(1, MAX_EPOCHS),
    "plateau_evals": Bounds(1, MAX_EPOCHS), "plateau_accuracy": DECAY, "seeds": Bounds(1, 100),
    "test_batches": STEPS, "extract_batch": Bounds(1, MAX_BATCH),
    "grad_batch": Bounds(1, MAX_BATCH),
    # data
    "val_size": MAYBE_SAMPLES, "num_validation": MAYBE_SAMPLES, "train_subset": SAMPLES,
    "test_subset": SAMPLES, "input_size": PIXELS, "input_dim": SIZE, "resolution": PIXELS,
    "seq_length": Bounds(1, MAX_SEQ_LENGTH), "seq_lengths": Bounds(1, MAX_SEQ_LENGTH),
    "grad_seq_length": Bounds(1, MAX_SEQ_LENGTH),
    "pca_fit_samples": MAYBE_SAMPLES, "whiten_images": SAMPLES,
    # augmentation
    "shift": SHIFT, "rotate": Bounds(0, 180), "scale": FRACTION, "translate": SHIFT,
    "crop_padding": SHIFT, "thicken": NON_NEGATIVE, "thin": NON_NEGATIVE,
    "tta_level": Bounds(0, 2),
    # model
    "dnn_hidden_units": SIZE, "hidden_units": SIZE, "hidden": SIZE, "hidden_size": SIZE,
    "num_hidden": SIZE, "widths": SIZE, "n_components": SIZE, "pca_components": SIZE,
    "whiten_kernel": Bounds(1, 32), "whiten_eps": POSITIVE, "init_std": POSITIVE,
    "std": POSITIVE,
    # what a run reports and how it runs
    "filters": Bounds(0, MAX_WIDTH),  # filter indices (past the layer's count: i mod count)
    "factors": POSITIVE, "balance_tau": NON_NEGATIVE, "gradcam_images": Bounds(0, 1_000),
    "n_maps": Bounds(1, 1_000), "num_threads": THREADS, "threads": THREADS,
    "workers": Bounds(1, 64),
}

#: field name -> (fewest, most) values of a tuple field; the same in every config that has it.
FIELD_LENGTHS: dict[str, tuple[int, int | None]] = {
    "widths": (3, 3),  # the three conv stages of CharCNN and of airbench's net
    "seq_lengths": (1, None),
    "filters": (1, None),
    "factors": (1, None),
}


#: field name -> the values a text field may take; the same in every config that has it.
FIELD_CHOICES: dict[str, tuple[str, ...]] = {
    "precision": ("fp32", "bf16", "auto"),  # the Trainer's (TrainSettings.precision)
    "logger": ("csv", "tensorboard"),  # csv: history.csv only; tensorboard: also TensorBoard
}


def check_choices(config: Any) -> None:
    """A one-line error for a text field of ``config`` outside its :data:`FIELD_CHOICES`."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name in FIELD_CHOICES and value not in FIELD_CHOICES[f.name]:
            raise NeuralabError(f"unknown {f.name} {value!r}; use "
                                f"{' | '.join(FIELD_CHOICES[f.name])}")


def check_bounds(config: Any) -> None:
    """A one-line error for the first number of ``config`` outside its :data:`FIELD_BOUNDS`
    (and for a text field outside :data:`FIELD_CHOICES`)."""
    check_choices(config)
    for f in dataclasses.fields(config):
        bounds = FIELD_BOUNDS.get(f.name)
        value = getattr(config, f.name)
        if bounds is None or value is None:
            continue
        many = isinstance(value, (tuple, list))
        for v in value if many else (value,):
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not bounds.admits(v):
                what = "each value" if many else "it"
                shown = str(v) if isinstance(v, int) and abs(v) < 10**15 else f"{v:g}"
                raise NeuralabError(f"{f.name}={shown} is out of range: {what} must be "
                                    f"{bounds.describe()}")
    check_lengths(config)


def check_lengths(config: Any) -> None:
    """A one-line error for a tuple field of ``config`` with a count outside
    :data:`FIELD_LENGTHS`."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name not in FIELD_LENGTHS or not isinstance(value, (tuple, list)):
            continue
        low, high = FIELD_LENGTHS[f.name]
        if len(value) < low or (high is not None and len(value) > high):
            want = (f"exactly {low}" if low == high else f"at least {low}" if high is None
                    else f"{low} to {high}")
            shown = ",".join(map(str, value)) or "(empty)"
            raise NeuralabError(f"{f.name}={shown} has {len(value)} value"
                                f"{'' if len(value) == 1 else 's'}; it takes {want}, "
                                f"comma-separated")


def apply_overrides(config: Any, overrides: dict[str, str]) -> Any:
    """A copy of the dataclass ``config`` with string ``overrides`` converted, applied and
    checked against :data:`FIELD_BOUNDS`."""
    hints = typing.get_type_hints(type(config))
    names = {f.name for f in dataclasses.fields(config)}
    values = {}
    for key, text in overrides.items():
        field_name = key.replace("-", "_")
        if field_name not in names:
            valid = ", ".join(sorted(names))
            raise NeuralabError(f"unknown config key {key!r}; valid keys: {valid}")
        values[field_name] = _convert(field_name, text, hints[field_name])
    config = dataclasses.replace(config, **values)
    check_bounds(config)
    return config


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def as_text(value: Any) -> str:
    """A JSON value written as ``--set`` would take it: ``[32, 64]`` -> ``"32,64"``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(as_text(v) for v in value)
    return str(value)


def overrides_from_file(path: str | Path, experiment: str) -> tuple[dict[str, str], int | None]:
    """``(overrides, seed)`` from a JSON file: a run's ``config.json``, a committed
    ``results/NAME.json`` (both hold ``experiment``, ``config`` and ``seed``) or a plain object
    of config fields. Re-running a run or a reference result is then one command."""
    from neuralab.io import read_json

    path = Path(path)
    if not path.is_file():
        raise NeuralabError(f"--config {path}: no such file")
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise NeuralabError(f"--config {path}: expected a JSON object of config fields")
    if doc.get("experiment") not in (None, experiment):
        raise NeuralabError(f"--config {path} holds a config of {doc['experiment']}, "
                            f"not of {experiment}")
    fields = doc["config"] if isinstance(doc.get("config"), dict) else doc
    if fields is doc:
        fields = {k: v for k, v in doc.items() if k not in ("experiment", "seed")}
    seed = doc.get("seed")
    return {k: as_text(v) for k, v in fields.items()}, seed if isinstance(seed, int) else None


def field_comments(config_cls: type) -> dict[str, str]:
    """The trailing ``# comment`` of each field in the source of the dataclass and of the
    classes it inherits from (what the values mean, e.g. ``# none | cosine | step``)."""
    import inspect
    import re

    comments: dict[str, str] = {}
    for cls in reversed(config_cls.__mro__[:-1]):  # parents first: a subclass's note wins
        try:
            source = inspect.getsource(cls)
        except (OSError, TypeError):
            continue
        found = (re.match(r"\s+(\w+)\s*:[^#]*#\s*(.+)$", line) for line in source.splitlines())
        comments.update({m.group(1): m.group(2).strip() for m in found if m})
    return comments


def _shown(value: Any) -> str:
    """``as_text`` with floats rounded for reading (1729.6000000000001 -> 1729.6)."""
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, (list, tuple)):
        return ",".join(_shown(v) for v in value)
    return as_text(value)


def describe_fields(config: Any) -> list[dict[str, str]]:
    """One row per field of ``config``: name, type, current value, allowed range, comment."""
    hints = typing.get_type_hints(type(config))
    comments = field_comments(type(config))
    rows = []
    for f in dataclasses.fields(config):
        tp = hints[f.name]
        bounds = FIELD_BOUNDS.get(f.name)
        rows.append({"field": f.name,
                     "type": tp.__name__ if isinstance(tp, type) else str(tp),
                     "value": _shown(getattr(config, f.name)),
                     "range": bounds.describe() if bounds else "",
                     "note": comments.get(f.name, "")})
    return rows
