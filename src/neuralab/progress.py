"""Progress for long loops: a tqdm bar on a terminal, a plain line every few seconds otherwise.

CI logs and ``nohup`` files stay readable because nothing redraws there: when stderr is not a
terminal, :class:`LineProgress` prints one line like
``train: 1200/7820 (15%) 31s elapsed, ETA 2m52s, 38.7 it/s, loss=1.02`` at most every
``every_s`` seconds.
``NEURALAB_PROGRESS=bar|lines|off`` forces a style.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO


class LineProgress:
    """The subset of tqdm's interface neuralab uses, printing plain lines."""

    def __init__(self, iterable: Iterable | None = None, total: int | None = None, desc: str = "",
                 unit: str = "it", every_s: float = 10.0, stream: TextIO | None = None,
                 enabled: bool = True, initial: int = 0):
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.desc, self.unit = total, desc, unit
        self.every_s, self.stream, self.enabled = every_s, stream or sys.stderr, enabled
        self.initial = self.n = initial  # a resumed loop starts where it stopped
        self.postfix: dict[str, Any] = {}
        self.start = self.last_print = time.monotonic()

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.update(1)
        self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True,
                    **values: Any) -> None:
        self.postfix = {**(ordered_dict or {}), **values}

    def reset(self, total: int | None = None) -> None:
        """Start over from 0 (e.g. a new epoch), with a new ``total``."""
        self.total, self.n, self.initial = total, 0, 0
        self.start = time.monotonic()

    def set_description(self, desc: str, refresh: bool = True) -> None:
        self.desc = desc

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last_print >= self.every_s:
            self.last_print = now
            self._print(now)

    def close(self) -> None:
        if self.enabled and self.n and self.last_print != -1:
            self._print(time.monotonic())
        self.last_print = -1  # closed: print nothing more

    def line(self, now: float) -> str:
        elapsed = now - self.start
        done = str(self.n)
        if self.total:
            done = f"{self.n}/{self.total} ({100 * self.n / self.total:.0f}%)"
        rate = (self.n - self.initial) / elapsed if elapsed > 0 else 0.0
        extra = "".join(f", {k}={_fmt(v)}" for k, v in self.postfix.items())
        prefix = f"{self.desc}: " if self.desc else ""
        eta = ""
        if self.total and rate > 0 and self.n < self.total:
            eta = f", ETA {duration((self.total - self.n) / rate)}"
        return (f"{prefix}{done} {duration(elapsed)} elapsed{eta}, {rate:.1f} "
                f"{self.unit}/s{extra}")

    def _print(self, now: float) -> None:
        if self.enabled:
            print(self.line(now), file=self.stream, flush=True)


def duration(seconds: float) -> str:
    """``"42s"``, ``"3m05s"``, ``"1h02m"``."""
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def progress(iterable: Iterable | None = None, total: int | None = None, desc: str = "",
             unit: str = "it", every_s: float | None = None, enabled: bool = True,
             initial: int = 0):
    """Return a tqdm bar on a terminal, else a :class:`LineProgress` (same calls work on both);
    ``initial``: the position a resumed loop starts from (the rate and ETA count from it)."""
    style = os.environ.get("NEURALAB_PROGRESS", "auto")
    if every_s is None:
        every_s = float(os.environ.get("NEURALAB_PROGRESS_EVERY", 10))
    if style == "off":
        enabled = False
    use_bar = style == "bar" or (style == "auto" and sys.stderr.isatty())
    if use_bar and enabled:
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=False,
                    initial=initial)
    return LineProgress(iterable, total=total, desc=desc, unit=unit, every_s=every_s,
                        enabled=enabled, initial=initial)
