"""The report: finished runs (or the committed results) -> one self-contained HTML page grouped
by handout (plots embedded as data URIs), printable to an A4 PDF; and a side-by-side page of
several runs of one experiment."""

from neuralab.report.handouts import place
from neuralab.report.html import build_compare, build_report, collect_results, collect_runs
from neuralab.report.pdf import html_to_pdf, require_chromium

__all__ = ["build_compare", "build_report", "collect_results", "collect_runs", "html_to_pdf",
           "place", "require_chromium"]
