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
            return int(float(text)) if "e" in text.lower() else int(text)
        if tp is float:
            return float(text)
        if tp is str:
            return text
    except ValueError:
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
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        return (f"in {'(' if self.low_open else '['}{self.low:g}, "
                f"{self.high:g}{')' if self.high_open else ']'}")


POSITIVE = Bounds(0, low_open=True)
NON_NEGATIVE = Bounds(0)
COUNT = Bounds(1)  # an int that counts something: at least one
FRACTION = Bounds(0, 1, high_open=True)  # [0, 1): momenta, dropout, label smoothing
DECAY = Bounds(0, 1, low_open=True)  # (0, 1]: multiplicative decays, accuracies

#: field name -> allowed range, shared by every experiment's config. Tuples are checked element by
#: element; ``None`` (where the field's type allows it) always passes: it means "off" or "all".
FIELD_BOUNDS: dict[str, Bounds] = {
    # optimisation
    "learning_rate": POSITIVE, "bias_lr": POSITIVE, "filter_lr": POSITIVE, "head_lr": POSITIVE,
    "momentum": FRACTION, "sgd_momentum": FRACTION, "filter_momentum": FRACTION,
    "weight_decay": NON_NEGATIVE, "reg": NON_NEGATIVE, "label_smoothing": FRACTION,
    "dropout": FRACTION, "max_norm": POSITIVE, "lr_decay": DECAY, "learning_rate_decay": DECAY,
    "lr_decay_every": NON_NEGATIVE, "warmup_steps": NON_NEGATIVE, "time_budget_s": POSITIVE,
    "whiten_bias_epochs": NON_NEGATIVE,
    # length of training and evaluation
    "batch_size": COUNT, "epochs": POSITIVE, "max_steps": COUNT, "max_iters": COUNT,
    "num_iters": COUNT, "train_steps": COUNT, "eval_freq": COUNT, "eval_every": COUNT,
    "patience": COUNT, "plateau_evals": COUNT, "plateau_accuracy": DECAY, "seeds": COUNT,
    "test_batches": COUNT, "extract_batch": COUNT, "grad_batch": COUNT,
    # data
    "val_size": NON_NEGATIVE, "num_validation": NON_NEGATIVE, "train_subset": COUNT,
    "test_subset": COUNT, "input_size": COUNT, "input_dim": COUNT, "resolution": COUNT,
    "seq_length": COUNT, "seq_lengths": COUNT, "grad_seq_length": COUNT,
    "pca_fit_samples": NON_NEGATIVE, "whiten_images": COUNT,
    # augmentation
    "shift": NON_NEGATIVE, "rotate": NON_NEGATIVE, "scale": FRACTION, "translate": NON_NEGATIVE,
    "crop_padding": NON_NEGATIVE, "thicken": NON_NEGATIVE, "thin": NON_NEGATIVE,
    "tta_level": Bounds(0, 2),
    # model
    "dnn_hidden_units": COUNT, "hidden_units": COUNT, "hidden": COUNT, "hidden_size": COUNT,
    "num_hidden": COUNT, "widths": COUNT, "filters": COUNT, "n_components": COUNT,
    "pca_components": COUNT, "whiten_kernel": COUNT, "whiten_eps": POSITIVE,
    "init_std": POSITIVE, "std": POSITIVE,
    # what a run reports and how it runs
    "factors": POSITIVE, "balance_tau": NON_NEGATIVE, "gradcam_images": NON_NEGATIVE,
    "n_maps": COUNT, "num_threads": NON_NEGATIVE, "threads": NON_NEGATIVE,
}


def check_bounds(config: Any) -> None:
    """A one-line error for the first number of ``config`` outside its :data:`FIELD_BOUNDS`."""
    for f in dataclasses.fields(config):
        bounds = FIELD_BOUNDS.get(f.name)
        value = getattr(config, f.name)
        if bounds is None or value is None:
            continue
        many = isinstance(value, (tuple, list))
        for v in value if many else (value,):
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not bounds.admits(v):
                what = "each value" if many else "it"
                shown = f"{v:g}" if isinstance(v, float) else str(v)
                raise NeuralabError(f"{f.name}={shown} is out of range: {what} must be "
                                    f"{bounds.describe()}")


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


def _as_text(value: Any) -> str:
    """A JSON value written as ``--set`` would take it: ``[32, 64]`` -> ``"32,64"``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_as_text(v) for v in value)
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
    return {k: _as_text(v) for k, v in fields.items()}, seed if isinstance(seed, int) else None


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
    """``_as_text`` with floats rounded for reading (1729.6000000000001 -> 1729.6)."""
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, (list, tuple)):
        return ",".join(_shown(v) for v in value)
    return _as_text(value)


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
