"""`neuralab report --pdf`: a real A4 PDF, a page per handout section at least, no blank page."""

import shutil
import subprocess

import pytest

from neuralab.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFTOPPM = shutil.which("pdftoppm")


def _pages(pdf, tmp_path):
    """Each page rendered to a greyscale image (pdftoppm, 20 dpi) as a Pillow image."""
    from PIL import Image

    prefix = tmp_path / "page"
    subprocess.run([PDFTOPPM, "-r", "20", "-gray", "-png", str(pdf), str(prefix)], check=True,
                   timeout=120)
    return [Image.open(p) for p in sorted(tmp_path.glob("page-*.png"))]


def _ink(page) -> float:
    """Share of the page's pixels that are not white."""
    hist = page.histogram()
    return 1 - sum(hist[245:]) / sum(hist)


@pytest.mark.skipif(CHROMIUM is None or PDFTOPPM is None,
                    reason="needs headless Chromium and poppler's pdftoppm")
def test_pdf_has_a4_pages_one_section_per_page_and_none_blank(tmp_path, make_run):
    runs = tmp_path / "runs"
    make_run(runs, "exp-tdt", 0.71, True, handout="TDT4265 assignment 3 task 2 (Table 2)")
    make_run(runs, "exp-uva", 0.48, True, handout="UvA DL practical 1 §1: MLP in NumPy")
    make_run(runs, "exp-hw5", 0.86, True, handout="16-720 hw5 Q3.1: one-hidden-layer network")
    pdf = tmp_path / "out" / "report.pdf"
    assert main(["report", "--runs", str(runs), "--pdf", str(pdf)]) == 0
    assert pdf.read_bytes()[:5] == b"%PDF-"
    pages = _pages(pdf, tmp_path)
    # contents + one page per handout section (each section starts on a new page)
    assert len(pages) == 4
    for page in pages:
        width, height = page.size
        assert abs(height / width - 297 / 210) < 0.01  # A4 portrait
        assert _ink(page) > 0.005, "blank page"


def test_pdf_without_chromium_is_a_one_line_error(tmp_path, make_run, monkeypatch, capsys):
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "no-such-chromium"))
    make_run(tmp_path / "runs", "exp-a", 0.5, True)
    assert main(["report", "--runs", str(tmp_path / "runs"), "--pdf"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "apt-get install chromium" in err
    assert not (tmp_path / "runs" / "report.pdf").exists()
    assert not (tmp_path / "runs" / "report.html").exists()  # it failed before any work
