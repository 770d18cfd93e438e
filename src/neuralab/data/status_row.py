"""The row every dataset reports to ``neuralab data status`` (cheap: no decoding, no hashing)."""

from __future__ import annotations

from pathlib import Path


def status_row(name: str, path: Path | str | None = None, format: str = "", *,
               verified: bool | None = None, counts: dict[str, int] | None = None,
               note: str = "") -> dict:
    """``{"name", "path", "format", "verified", "counts", "note"}``.

    ``path`` None means not found. ``verified`` None means not checked yet (the first load
    hashes the files and remembers the result).
    """
    return {"name": name, "path": str(path) if path is not None else None, "format": format,
            "verified": verified, "counts": dict(counts or {}), "note": note}


def remembered_verified(files: dict[Path, str | None], *, decompressed: bool = False,
                        ) -> bool | None:
    """True/False when every file's digest is remembered (see integrity), else None.

    ``files`` maps each path to its expected ``"<algo>:<hex>"`` (None: no published checksum,
    which makes the result False).
    """
    from neuralab.data.integrity import remembered_digest

    result = True
    for path, expected in files.items():
        if expected is None:
            return False
        algo = expected.split(":", 1)[0]
        gz = decompressed and Path(path).suffix == ".gz"
        digest = remembered_digest(Path(path), algo, decompressed=gz)
        if digest is None:
            return None
        result = result and digest == expected
    return result
