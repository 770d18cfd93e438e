"""Where data lives (the data root) and where derived files go (the cache dir).

The data root may be read-only (a shared copy): nothing in neuralab writes into it except
``neuralab data download``. Decoded arrays and checksum results go to :func:`cache_dir`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import sys
import tempfile
import time
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


def warn(message: str) -> None:
    """One line on stderr, ``neuralab: warning: <message>`` (the CLI's ``neuralab: error:``
    style), instead of Python's two-line ``warnings`` format."""
    print(f"neuralab: warning: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------- temporary files and folders
# A temporary name is ".<base>.<owner>.<random><suffix>", owner = "p<pid>-<host hash>", so that
# a leftover of a killed writer can be told from one that is still being written.
STALE_AFTER_S = 3600           # a temp entry of unknown or foreign owner this old is a leftover
LIVE_OWNER_MAX_S = 24 * 3600   # even a live pid's entry: that pid was reused by now
TEMP_SUFFIXES = (".tmp", ".part")
_OWNER_RE = re.compile(r"\.p(\d+)-([0-9a-f]{8})\.")


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temp_prefix(base: str) -> str:
    """The prefix of a temporary file or folder for ``base`` written by this process."""
    return f".{base}.p{os.getpid()}-{_host_tag()}."


def make_temp_dir(parent: Path, base: str, suffix: str = ".tmp") -> Path:
    """A new temporary folder in ``parent`` whose name records this process as its writer."""
    return Path(tempfile.mkdtemp(dir=parent, prefix=temp_prefix(base), suffix=suffix))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def is_stale_temp(path: Path, now: float | None = None) -> bool:
    """True for a temporary entry (``.*.tmp`` / ``.*.part``) left by a writer that is gone:
    its pid (on this host) is dead, or it is older than :data:`STALE_AFTER_S` with an owner we
    cannot check (another host, an old-style name), or older than :data:`LIVE_OWNER_MAX_S`."""
    name = path.name
    if not name.startswith(".") or not name.endswith(TEMP_SUFFIXES):
        return False
    try:
        age = (time.time() if now is None else now) - path.lstat().st_mtime
    except OSError:
        return False
    owner = _OWNER_RE.search(name)
    if owner and owner.group(2) == _host_tag():
        if int(owner.group(1)) == os.getpid():
            return False
        return not _pid_alive(int(owner.group(1))) or age > LIVE_OWNER_MAX_S
    return age > STALE_AFTER_S


def clean_stale_temps(folder: Path) -> list[Path]:
    """Delete the stale temporary entries directly inside ``folder`` (see
    :func:`is_stale_temp`); returns what was removed. Errors are ignored (best effort)."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not is_stale_temp(entry, now):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
        except OSError:
            pass
    return removed


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path.name), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
