"""Text for the report: numbers at 4 significant digits, no machine paths, short hashes."""

from __future__ import annotations

import math
import re

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def fmt_number(value, pad: bool = True) -> str:
    """A number as a person reads it: 4 significant digits, whole numbers as integers (a
    whole float in (-1, 1], an accuracy of 1.0, keeps its digits). ``pad=False`` writes a
    setting as it was typed: no trailing zeros (0.001, not 0.001000), no thousands separator
    (a list ``1024, 512`` stays readable).

    >>> [fmt_number(v) for v in (0.02857142857142857, 0.51, 7.0, 219.74, 390410, 1.37e-22, 1.0)]
    ['0.02857', '0.5100', '7', '219.7', '390,410', '1.370×10⁻²²', '1.000']
    >>> fmt_number(0.001, pad=False), fmt_number(0.095, pad=False), fmt_number(7800, pad=False)
    ('0.001', '0.095', '7800')
    """
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "—"}[value]
    if isinstance(value, int):
        return f"{value:,}" if pad else str(value)
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15 and (abs(value) > 1 or value == 0 or not pad):
        return f"{int(value):,}" if pad else str(int(value))
    if abs(value) >= 1e4 and abs(value) < 1e15:
        digits = 3 - int(math.floor(math.log10(abs(value))))
        return f"{int(round(value, digits)):,}"
    text = f"{value:#.4g}" if pad else f"{value:.4g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}×10{str(int(exponent)).translate(_SUPERSCRIPT)}"
    return text.rstrip(".")


_NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def is_number(value) -> bool:
    """Whether a cell holds a number (also a number written as text, as CSV cells are)."""
    if isinstance(value, str):
        return bool(_NUMBER.match(value.strip()))
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def fmt_cell(value, pad: bool = True) -> str:
    """A table cell: numbers (also numbers written as text, as CSV cells are) formatted,
    other text cleaned of machine paths."""
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER.match(text):
            return fmt_number(int(text) if text.lstrip("-").isdigit() else float(text), pad)
        if text in ("", "None", "null"):
            return "—" if text else ""
        if text in ("True", "False"):
            return "yes" if text == "True" else "no"
        return clean(text)
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt_cell(v, pad) for v in value)
    return fmt_number(value, pad) if isinstance(value, (int, float)) or value is None else \
        clean(str(value))


# An absolute path: a slash after a non-word start, at least two path components.
_ABS_PATH = re.compile(r"(?<![\w.:/~-])(?:~|/)(?:[\w.+@-]+/)+([\w.+@-]*)")
_WIN_PATH = re.compile(r"\b[A-Za-z]:\\(?:[^\\\s]+\\)+([^\\\s]*)")
_HASH = re.compile(r"\b(sha256|sha1|md5|blake2b)?(:)?([0-9a-f]{12,})\b")
_GIT_DESCRIBE = re.compile(r"(?<=[+.-]g)([0-9a-f]{8})[0-9a-f]+\b")  # 0.1.0+g3f9a7c21be5d


def _short_hash(m: re.Match) -> str:
    algo, colon, digest = m.group(1), m.group(2), m.group(3)
    if not algo and not any(ch.isalpha() for ch in digest):
        return m.group(0)  # a long number, not a hash
    return f"{algo or ''}{colon or ''}{digest[:8]}…"


def clean(text: str) -> str:
    """``text`` without absolute paths (each becomes its last component) and with hashes cut
    to 8 hex digits.

    >>> clean("data at /work/shared/data/cifar10, sha256:6fc2e4a51696acfdff463fbd974e6813")
    'data at cifar10, sha256:6fc2e4a5…'
    """
    text = _ABS_PATH.sub(lambda m: m.group(1) or m.group(0).rstrip("/").rsplit("/", 1)[-1],
                         text)
    text = _WIN_PATH.sub(lambda m: m.group(1), text)
    return _GIT_DESCRIBE.sub(r"\1", _HASH.sub(_short_hash, text))
