"""Figures. Plots never train: every function takes finished numbers and returns a Figure.

Members load on first use (PEP 562), so importing :mod:`neuralab.viz` (e.g. while the command
line is built) does not pull in matplotlib.
"""

from importlib import import_module

_MEMBERS = {
    "save_figure": "neuralab.viz.common",
    "confusion_matrix": "neuralab.viz.confusion",
    "plot_confusion": "neuralab.viz.confusion",
    "top_confusions": "neuralab.viz.confusion",
    "plot_curves": "neuralab.viz.curves",
    "plot_image_grid": "neuralab.viz.grids",
}
__all__ = sorted(_MEMBERS)


def __getattr__(name: str):
    if name in _MEMBERS:
        return getattr(import_module(_MEMBERS[name]), name)
    raise AttributeError(f"module 'neuralab.viz' has no attribute {name!r}")
