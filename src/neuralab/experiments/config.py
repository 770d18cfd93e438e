"""Turning ``--set key=value`` strings into typed config fields.

Values are parsed by the field's declared type: ``int``, ``float``, ``bool`` (true/false/1/0/
yes/no), ``str``, ``tuple[int, ...]``/``list[int]`` written as ``100,100`` (an empty string is an
empty tuple), and ``X | None`` (``none`` gives None). Anything else is a one-line error.
"""

from __future__ import annotations

import dataclasses
import types
import typing
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


def apply_overrides(config: Any, overrides: dict[str, str]) -> Any:
    """A copy of the dataclass ``config`` with string ``overrides`` converted and applied."""
    hints = typing.get_type_hints(type(config))
    names = {f.name for f in dataclasses.fields(config)}
    values = {}
    for key, text in overrides.items():
        field_name = key.replace("-", "_")
        if field_name not in names:
            valid = ", ".join(sorted(names))
            raise NeuralabError(f"unknown config key {key!r}; valid keys: {valid}")
        values[field_name] = _convert(field_name, text, hints[field_name])
    return dataclasses.replace(config, **values)


def config_to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
