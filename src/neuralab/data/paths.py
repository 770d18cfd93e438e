"""Where data lives (the data root) and where derived files go (the cache dir).

The data root may be read-only (a shared copy): nothing in neuralab writes into it except
``neuralab data download``. Decoded arrays and checksum results go to :func:`cache_dir`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from neuralab.errors import DataError

DEFAULT_ROOT = Path("~/.cache/neuralab")


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The data root: ``data_dir``, else ``$NEURALAB_DATA``, else ``~/.cache/neuralab``."""
    chosen = data_dir if data_dir not in (None, "") else os.environ.get("NEURALAB_DATA")
    return Path(chosen or DEFAULT_ROOT).expanduser()


def cache_dir() -> Path:
    """The cache dir: ``$NEURALAB_CACHE``, else ``~/.cache/neuralab/cache``."""
    chosen = os.environ.get("NEURALAB_CACHE")
    return Path(chosen).expanduser() if chosen else (DEFAULT_ROOT / "cache").expanduser()


def first_existing(candidates: list[Path]) -> Path | None:
    """The first path in ``candidates`` that exists, or None."""
    return next((p for p in candidates if p.exists()), None)


def missing_error(name: str, looked: list[Path], *, downloadable: bool = True,
                  what: str | None = None) -> DataError:
    """The one-line error for a dataset that is not where we looked (``what`` names it)."""
    where = ", ".join(str(p) for p in looked)
    fix = (f"run `neuralab data download {name}` or pass --data-dir DIR (or set NEURALAB_DATA)"
           if downloadable else
           "put the files there, or pass --data-dir DIR (or set NEURALAB_DATA)")
    return DataError(f"{what or name} not found (looked in {where}); {fix}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
