"""Figures. Plots never train: every function takes finished numbers and returns a Figure."""

from neuralab.viz.common import save_figure
from neuralab.viz.confusion import confusion_matrix, plot_confusion, top_confusions
from neuralab.viz.curves import plot_curves
from neuralab.viz.grids import plot_image_grid

__all__ = ["confusion_matrix", "plot_confusion", "plot_curves", "plot_image_grid",
           "save_figure", "top_confusions"]
