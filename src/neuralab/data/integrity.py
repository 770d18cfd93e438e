"""Checksums: hashing files (optionally their gunzipped bytes), remembering results, verifying.

Digests are strings ``"<algo>:<hex>"`` (``"md5:9fb6..."``, ``"sha256:..."``). Results are
remembered in ``cache_dir()/digests.json`` keyed by the file's resolved path, size and
modification time, so a load that finds its decoded-array cache entry only ``stat``s the file.
That memory is only a way to *find* a cache entry: whenever an entry is (re)built, the loader
reads the files with :func:`read_verified` (or ``fresh=True``), which hashes the very bytes it
returns and overwrites the remembered digest, so a file rewritten with its old size and mtime
is caught the moment its arrays are decoded again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from pathlib import Path

from neuralab.data.paths import atomic_write_bytes, cache_dir
from neuralab.errors import DataError

CHUNK = 1 << 20


def digest_bytes(data: bytes, algo: str = "sha256") -> str:
    """``"<algo>:<hex>"`` of ``data``."""
    return f"{algo}:{hashlib.new(algo, data).hexdigest()}"


def manifest_digest(files: dict[str, str]) -> str:
    """sha256 of the sorted ``"<name> <digest>"`` lines: one checksum for a multi-file source."""
    text = "".join(f"{name} {files[name]}\n" for name in sorted(files))
    return digest_bytes(text.encode(), "sha256")


DEFAULT_FIX = "delete it and download it again"


def read_bytes(path: Path, *, decompress: bool | None = None, expected: str | None = None,
               fix: str = DEFAULT_FIX) -> bytes:
    """The bytes of ``path``, gunzipped when it ends in ``.gz`` (or ``decompress=True``).

    Raises a one-line :class:`DataError` for an unreadable, truncated or non-gzip file, naming
    the ``expected`` checksum of the decompressed bytes when one is given.
    """
    path = Path(path)
    gz = path.suffix == ".gz" if decompress is None else decompress
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if gz else raw
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        wanted = f"; expected decompressed {expected}" if expected else ""
        raise DataError(f"corrupt file {path}: cannot gunzip it ({err}){wanted}; {fix}") from None
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from None


def _cache_file() -> Path:
    return cache_dir() / "digests.json"


def _key(path: Path, algo: str, decompressed: bool) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return None
    mode = "gunzip" if decompressed else "raw"
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{algo}|{mode}"


def _load_cache() -> dict[str, str]:
    try:
        return json.loads(_cache_file().read_text())
    except (OSError, ValueError):
        return {}


def remembered_digest(path: Path, algo: str, *, decompressed: bool = False) -> str | None:
    """The digest remembered for this exact file (same size and mtime), without hashing."""
    key = _key(Path(path), algo, decompressed)
    return _load_cache().get(key) if key else None


def remember_digest(path: Path, algo: str, digest: str, *, decompressed: bool = False) -> None:
    """Store a digest computed elsewhere; a read-only cache dir is silently ignored."""
    key = _key(Path(path), algo, decompressed)
    if key is None:
        return
    table = _load_cache()
    if table.get(key) == digest:
        return
    table[key] = digest
    try:
        atomic_write_bytes(_cache_file(), json.dumps(table, indent=0).encode())
    except OSError:
        pass


def file_digest(path: Path, algo: str = "sha256", *, decompressed: bool = False,
                expected: str | None = None, fix: str = DEFAULT_FIX, fresh: bool = False) -> str:
    """``"<algo>:<hex>"`` of the file (of its gunzipped bytes if ``decompressed``), remembered.

    ``fresh`` hashes the bytes even when a digest is remembered (and remembers the new one).
    ``expected`` and ``fix`` only complete the error message of an unreadable file.
    """
    path = Path(path)
    known = None if fresh else remembered_digest(path, algo, decompressed=decompressed)
    if known:
        return known
    if decompressed:
        data = read_bytes(path, decompress=True, expected=expected, fix=fix)
        digest = digest_bytes(data, algo)
    else:
        h = hashlib.new(algo)
        try:
            with open(path, "rb") as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
        except OSError as err:
            raise DataError(f"cannot read {path}: {err.strerror or err}") from None
        digest = f"{algo}:{h.hexdigest()}"
    remember_digest(path, algo, digest, decompressed=decompressed)
    return digest


def check_digest(path: Path, digest: str, expected: str | None, *, decompressed: bool = False,
                 strict: bool = True, fix: str = DEFAULT_FIX) -> bool:
    """True when ``digest`` equals ``expected``; a mismatch raises a one-line DataError if strict.

    ``expected=None`` (no published checksum) returns False without complaint.
    """
    if expected is None:
        return False
    if digest == expected:
        return True
    if strict:
        what = "its decompressed bytes have" if decompressed else "it has"
        raise DataError(f"corrupt file {path}: {what} {digest}, expected {expected}; {fix}")
    return False


def verify_file(path: Path, expected: str | None, *, decompressed: bool = False,
                strict: bool = True, fix: str = DEFAULT_FIX, fresh: bool = False,
                ) -> tuple[str, bool]:
    """Hash ``path`` (remembered, unless ``fresh``) and compare with ``expected``: returns
    ``(digest, verified)``. The algorithm is taken from ``expected`` (``"md5:..."``), sha256
    when there is none.
    """
    algo = expected.split(":", 1)[0] if expected else "sha256"
    digest = file_digest(path, algo, decompressed=decompressed, expected=expected, fix=fix,
                         fresh=fresh)
    ok = check_digest(path, digest, expected, decompressed=decompressed, strict=strict, fix=fix)
    return digest, ok


def remembered_digests(paths: dict[str, Path], expected: dict[str, str | None], *,
                       decompressed: bool = False) -> dict[str, str] | None:
    """``{name: digest}`` remembered for every file (no hashing), or None when any is not.

    ``expected[name]`` picks each file's algorithm (sha256 when None); ``decompressed`` applies
    to the ``.gz`` files only.
    """
    out = {}
    for name, path in paths.items():
        want = expected.get(name)
        algo = want.split(":", 1)[0] if want else "sha256"
        digest = remembered_digest(path, algo,
                                   decompressed=decompressed and Path(path).suffix == ".gz")
        if digest is None:
            return None
        out[name] = digest
    return out


def read_verified(path: Path, expected: str | None, *, decompressed: bool | None = None,
                  strict: bool = True, fix: str = DEFAULT_FIX) -> tuple[bytes, str, bool]:
    """Read ``path`` once (gunzipped when ``.gz``), hash those bytes, remember the digest and
    compare it with ``expected``: ``(bytes, digest, verified)``. What a cache build decodes is
    thus exactly what was hashed. A mismatch raises a one-line DataError when ``strict``.
    """
    path = Path(path)
    gz = path.suffix == ".gz" if decompressed is None else decompressed
    algo = expected.split(":", 1)[0] if expected else "sha256"
    data = read_bytes(path, decompress=gz, expected=expected, fix=fix)
    digest = digest_bytes(data, algo)
    remember_digest(path, algo, digest, decompressed=gz)
    ok = check_digest(path, digest, expected, decompressed=gz, strict=strict, fix=fix)
    return data, digest, ok
