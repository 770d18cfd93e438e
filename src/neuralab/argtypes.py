"""argparse types for numbers with a range: a bad value gets argparse's one-line usage error
(exit 2) naming the option, instead of a traceback later on."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type`` accepting integers in ``[low, high]`` (no upper end for None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            span = f"in [{low}, {high}]" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: it must be {span}")
        return value

    return parse


seed = int_in(0, 2**32 - 1)  # one seed for Python, NumPy and torch alike
count = int_in(1)


def path(text: str) -> str:
    """An argparse ``type`` for a file or folder option: an empty value (``--out ''``, which
    would mean the current folder) is a usage error."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty; give a path")
    return text
