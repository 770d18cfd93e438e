"""Downloading with mirrors, checksum verification and atomic renames; safe archive extraction.

Nothing half-written is ever left under its final name: a download goes to a temporary file in
the destination folder and is renamed only after its checksum matched; an archive is extracted
into a temporary folder that is renamed into place at the end. Temporary names record their
writer (pid, host); the leftovers of a killed download (``.*.part``, ``.*.tmp``) are removed
from the destination folder when the next download starts there.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from neuralab.data.integrity import digest_bytes, read_bytes
from neuralab.data.paths import clean_stale_temps, make_temp_dir, temp_prefix
from neuralab.errors import DataError

TIMEOUT_S = 60
CHUNK = 1 << 20


def _progress(total: int | None, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                leave=False, disable=None, file=sys.stderr)


def _get(url: str, out, algo: str | None, desc: str) -> str | None:
    """Stream ``url`` into the open file ``out``; returns the raw bytes' digest if ``algo``."""
    h = hashlib.new(algo) if algo else None
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        size = response.headers.get("Content-Length")
        with _progress(int(size) if size else None, desc) as bar:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                if h:
                    h.update(chunk)
                bar.update(len(chunk))
    return f"{algo}:{h.hexdigest()}" if h else None


def fetch(urls: Sequence[str], dest: Path, checksum: str | None, *,
          decompressed: bool = False, hint: str | None = None) -> Path:
    """Download the first of ``urls`` that works into ``dest``, verified, atomically.

    ``checksum`` is ``"md5:<hex>"``/``"sha256:<hex>"`` of the file, or of its gunzipped bytes
    when ``decompressed``; None accepts the file unverified (no published checksum). Mirrors
    are tried in order; one that fails or serves wrong bytes is skipped. When all fail a
    one-line :class:`DataError` lists why, and no file is left behind.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(dest.parent)
    algo = checksum.split(":", 1)[0] if checksum else None
    failures = []
    for url in urls:
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=temp_prefix(dest.name),
                                        suffix=".part")
        tmp = Path(tmp_name)
        try:
            print(f"downloading {url}", file=sys.stderr)
            with open(fd, "wb") as out:
                digest = _get(url, out, None if decompressed else algo, dest.name)
            if decompressed and algo:
                digest = digest_bytes(read_bytes(tmp, decompress=True), algo)
            if checksum and digest != checksum:
                failures.append(f"{url}: got {digest}, expected {checksum}")
                continue
            tmp.replace(dest)
            return dest
        except (urllib.error.URLError, OSError, ValueError, DataError) as err:
            reason = getattr(err, "reason", None) or err
            failures.append(f"{url}: {reason}")
        finally:
            tmp.unlink(missing_ok=True)
    name = Path(urllib.parse.urlparse(urls[0]).path).name or dest.name
    hint = hint or f"download it yourself to {dest}"
    raise DataError(f"download of {name} failed ({'; '.join(failures)}); nothing was "
                    f"written. Check the network, or {hint}")


def _safe_member(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts


def extract(archive: Path, dest: Path, *, member: Callable[[str], str | None] | None = None,
            ) -> Path:
    """Extract ``archive`` (.tar.gz/.tgz/.tar/.zip) so that ``dest`` appears complete or not at all.

    ``member(name)`` maps an archive member name to its path relative to ``dest`` (None skips
    it); by default the archive's single top-level folder becomes ``dest``. Extraction happens
    in a temporary folder beside ``dest`` that is renamed at the end.
    """
    archive, dest = Path(archive), Path(dest)
    if dest.exists():
        raise DataError(f"{dest} already exists; remove it to extract {archive.name} again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(dest.parent)
    tmp = make_temp_dir(dest.parent, dest.name)
    try:
        staged = tmp / "out"
        staged.mkdir()
        names = _extract_members(archive, staged, member or _strip_top_folder)
        if not names:
            raise DataError(f"{archive} contains none of the expected files")
        staged.rename(dest)
        return dest
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
        raise DataError(f"corrupt archive {archive}: {err}; delete it and download it "
                        "again") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _strip_top_folder(name: str) -> str | None:
    parts = Path(name).parts
    return str(Path(*parts[1:])) if len(parts) > 1 else None


def _extract_members(archive: Path, staged: Path, member: Callable[[str], str | None]) -> list:
    done = []
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                target = member(info.filename)
                if info.is_dir() or not target or not _safe_member(target):
                    continue
                out = staged / target
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
                done.append(target)
        return done
    with tarfile.open(archive) as tf:
        for info in tf:
            target = member(info.name)
            if not info.isfile() or not target or not _safe_member(target):
                continue
            out = staged / target
            out.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(info)
            with src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
            done.append(target)
    return done


def fetch_and_extract(urls: Sequence[str], dest: Path, checksum: str | None, *,
                      member: Callable[[str], str | None] | None = None) -> Path:
    """Download an archive next to ``dest`` (verified), extract it atomically, delete it."""
    dest = Path(dest)
    archive = dest.parent / f".{dest.name}.{Path(urls[0]).name}"
    try:
        fetch(urls, archive, checksum, hint=f"download {urls[0]} yourself and extract it "
                                            f"to {dest}")
        return extract(archive, dest, member=member)
    finally:
        archive.unlink(missing_ok=True)

