"""The HTML report: finished runs -> one self-contained page (plots embedded as data URIs)."""

from neuralab.report.html import build_report, collect_results, collect_runs

__all__ = ["build_report", "collect_results", "collect_runs"]
