"""Print the HTML report to an A4 PDF with headless Chromium.

The page's print stylesheet does the layout (A4, a page break before each handout section,
tables and figures never split across pages, raster figures printed at >= 150 dpi); Chromium
only renders it. Without Chromium a one-line error says how to install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from neuralab.errors import NeuralabError

_INSTALL = ("headless Chromium is needed for --pdf: install it with "
            "`sudo apt-get install chromium` (Debian/Ubuntu), `brew install --cask chromium` "
            "(macOS), or set $CHROMIUM to a Chrome/Chromium binary")


def find_chromium() -> str | None:
    """``$CHROMIUM``, else the first of chromium / chromium-browser / google-chrome on PATH."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env if shutil.which(env) or Path(env).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The Chromium binary, or the one-line error saying how to install it (checked before a
    report is built, so ``--pdf`` fails at once)."""
    chromium = find_chromium()
    if chromium is None:
        raise NeuralabError(_INSTALL)
    return chromium


def chromium_command(chromium: str, profile: Path) -> list[str]:
    """The flags of a quiet, offline, sandbox-free headless Chromium with a throwaway
    profile (no first-run page, no background network, no sync, no updates)."""
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}"]


def html_to_pdf(html: str | Path, pdf: str | Path, timeout: float = 180) -> Path:
    """Print ``html`` to ``pdf`` (written atomically); returns the PDF path."""
    chromium = require_chromium()
    html, pdf = Path(html).resolve(), Path(pdf)
    pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="neuralab-pdf-") as tmp:
        out = Path(tmp) / "report.pdf"
        cmd = [*chromium_command(chromium, Path(tmp) / "profile"), f"--print-to-pdf={out}",
               "--no-pdf-header-footer", html.as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise NeuralabError(f"Chromium did not finish printing {html.name} within "
                                f"{timeout:.0f} s") from None
        except OSError as err:
            raise NeuralabError(f"could not start Chromium ({chromium}): {err}") from None
        if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise NeuralabError(f"Chromium could not print {html.name} to PDF "
                                f"(exit {done.returncode}): {last}")
        tmp_pdf = pdf.with_name(f".{pdf.name}.tmp")
        shutil.copyfile(out, tmp_pdf)
        os.replace(tmp_pdf, pdf)
    return pdf
