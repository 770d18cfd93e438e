"""Figures for the report: embedded as data URIs (re-encoded small), with captions that say
what is plotted, and learning curves redrawn from a run's ``history.csv`` as vector graphics
(marking the restored-best weights)."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np

#: Print resolution the report guarantees for raster figures: a figure is never printed wider
#: than its pixel width / PRINT_DPI inches.
PRINT_DPI = 150
#: Widest raster kept: the A4 text width (182 mm) at PRINT_DPI, rounded up.
MAX_WIDTH_PX = 1100
#: Histories longer than this are drawn as a PNG: an SVG of every point would be heavier.
MAX_SVG_ROWS = 600

# What each plot file of the experiments shows (stem -> sentence); see experiments/*.py.
_CAPTIONS = {
    "curves": "Learning curves: loss and accuracy of each split against training progress",
    "confusion": "Confusion matrix on the test split (rows: true class, columns: predicted; "
                 "each row normalised to 1)",
    "gradcam": "Grad-CAM: the image regions that drive the predicted class",
    "weights": "First-layer weights of the trained network, one tile per hidden unit",
    "weights_init": "First-layer weights at initialisation, one tile per hidden unit",
    "weights_trained": "First-layer weights after training, one tile per hidden unit",
    "seeds": "Test accuracy against training steps for each seed (legend: its final value)",
    "twin_drift": "NumPy network against its PyTorch twin: how far their outputs drift apart "
                  "during training",
    "sweep": "Learning-rate sweep: curves of the chosen rate, 10× and 0.1× on one figure",
    "loss": "Reconstruction loss of the autoencoder against epochs (train and validation)",
    "reconstructions": "Validation images (top) and their reconstructions (bottom)",
    "components": "Principal components (eigen-images) of the training images",
    "grad_norms": "Gradient norm reaching each time step (how far back the loss gradient "
                  "flows)",
    "accuracy_vs_length": "Test accuracy against palindrome length for each model, over seeds",
    "comparison": "Fine-tuned pretrained network against the network trained from scratch",
    "filters": "First-layer filters and their activations on the zebra photo",
    "first_layer_all": "All first-layer filters of the pretrained network with their "
                       "activations on the zebra photo",
    "last_layer": "Activations of the last convolutional layer on the zebra photo",
    "01_list_boxes": "Letters found on photo 01_list.jpg (boxes) with the recognised text",
    "02_letters_boxes": "Letters found on photo 02_letters.jpg (boxes) with the recognised "
                        "text",
}

_TABLE_CAPTIONS = {
    "final": "Final loss and accuracy per split",
    "per_class_accuracy": "Test accuracy per class (n: test images of that class)",
    "top_confusions": "Most frequent confusions on the test split (rate: share of the true "
                      "class's images)",
    "grad_norms": "Gradient norm per time step",
    "summary": "Summary",
    "cells": "Accuracy of every model, length and seed",
    "seeds": "Test accuracy per seed",
    "sweep": "Learning-rate sweep",
    "comparison": "Fine-tuning against training from scratch",
    "top5": "Top-5 ImageNet classes of the zebra photo",
    "parameters": "Parameters per layer",
    "examples": "Examples",
    "hw5_photos": "Character error rate on the hw5 photos",
}


def caption(stem: str) -> str:
    """What the plot file ``stem`` shows, as a sentence."""
    if stem in _CAPTIONS:
        return _CAPTIONS[stem]
    m = re.fullmatch(r"curves_(\w+?)_(.+)", stem)
    if m:
        return f"Learning curves with {m.group(1).replace('lr', 'learning rate')} = {m.group(2)}"
    return stem.replace("_", " ").capitalize()


def table_caption(stem: str) -> str:
    return _TABLE_CAPTIONS.get(stem, stem.replace("_", " ").capitalize())


def _uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


#: Line plots: a few thousand antialiased colours, nothing lost at a 128-colour palette;
#: other pictures (colour scales, weights, photos) get 256.
LINE_PLOTS = ("curves", "sweep", "loss", "grad_norms", "accuracy_vs_length", "seeds",
              "twin_drift", "comparison")


def _palette_image(flat):
    """``flat`` (RGB) with a 256-colour palette: 255 colours of maximum coverage (which keep
    a colour scale smooth, where median cut bands it), found on a reduced copy for speed, plus
    pure white (so the page's white stays white)."""
    from PIL import Image

    small = flat.reduce(3) if min(flat.size) > 300 else flat
    palette = small.quantize(255, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE)
    colours = (palette.getpalette() or [])[:255 * 3]
    colours += [0, 0, 0] * (255 - len(colours) // 3) + [255, 255, 255]
    palette.putpalette(colours)
    out = flat.quantize(palette=palette, dither=Image.Dither.NONE)
    # Pillow maps to a palette through a coarse colour cache (251 and 255 collide): set the
    # white pixels to the white entry exactly
    index = np.asarray(out).copy()
    index[(np.asarray(flat) == 255).all(axis=-1)] = 255
    fixed = Image.fromarray(index, mode="P")
    fixed.putpalette(colours)
    return fixed


def embed_png(path: str | Path) -> dict:
    """``{"uri", "width", "height"}`` of a PNG re-encoded small, pixel size kept up to the
    page width (so the print resolution does not drop): line plots as a 128-colour PNG, other
    pictures as a 256-colour PNG (:func:`_palette_image`), or a lossy WebP (quality 85)
    where that is under 60% of the PNG (photographs)."""
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        rgba = im.convert("RGBA")
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    if flat.width > MAX_WIDTH_PX:  # wider than the page holds at PRINT_DPI: no detail lost
        flat = flat.resize((MAX_WIDTH_PX, round(flat.height * MAX_WIDTH_PX / flat.width)),
                           Image.Resampling.LANCZOS)
    png = io.BytesIO()
    if Path(path).stem.startswith(LINE_PLOTS) and flat.getcolors(8192):
        flat.quantize(128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            png, format="PNG", optimize=True)
        data, mime = png.getvalue(), "image/png"
    else:
        _palette_image(flat).save(png, format="PNG", optimize=True)
        data, mime = png.getvalue(), "image/png"
        try:
            lossy = io.BytesIO()
            flat.save(lossy, format="WEBP", quality=85, method=4)
            if lossy.tell() < 0.6 * len(data):  # a photograph: lossy is far smaller
                data, mime = lossy.getvalue(), "image/webp"
        except (OSError, KeyError):  # Pillow built without WebP
            pass
    width, height = flat.size
    return {"uri": _uri(data, mime), "width": width, "height": height}


def embed_figure_png(fig) -> dict:
    """A matplotlib figure as an embedded PNG exactly as wide as the page holds at PRINT_DPI
    (for figures with so many points that an SVG would weigh more than the picture)."""
    import tempfile

    dpi = MAX_WIDTH_PX / fig.get_size_inches()[0]
    with tempfile.TemporaryDirectory(prefix="neuralab-fig-") as tmp:
        path = Path(tmp) / "figure.png"
        fig.savefig(path, format="png", dpi=dpi)
        return embed_png(path)


def embed_figure_svg(fig) -> dict:
    """A matplotlib figure as an embedded SVG (vector: sharp at any print size)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    width, height = (float(v) * 96 for v in fig.get_size_inches())
    return {"uri": _uri(buf.getvalue(), "image/svg+xml"), "width": int(width),
            "height": int(height), "vector": True}


def _numeric_history(history: list[dict]) -> list[dict]:
    rows = []
    for row in history:
        out = {}
        for k, v in row.items():
            try:
                out[k] = float(v) if v not in (None, "") else None
            except (TypeError, ValueError):
                out[k] = None
        rows.append(out)
    return rows


def history_axis(history: list[dict]) -> str | None:
    for x in ("step", "epoch"):
        if history and all(row.get(x) not in (None, "") for row in history):
            return x
    return None


def curve_keys(history: list[dict]) -> tuple[list[str], list[str]]:
    """``(metrics, splits)`` found in ``history`` (keys ``<split>_<metric>``)."""
    splits, metrics = [], []
    for key in (history[0] if history else {}):
        for split in ("train", "val", "test"):
            if key.startswith(split + "_"):
                metric = key[len(split) + 1:]
                if metric in ("loss", "accuracy") or metric.endswith("accuracy"):
                    if split not in splits:
                        splits.append(split)
                    if metric not in metrics:
                        metrics.append(metric)
    metrics.sort(key=lambda m: (m != "loss", m))
    return metrics[:3], splits


def restored_step(run: dict, history: list[dict], x: str) -> float | None:
    """Where the run's headline weights come from when it restored its best checkpoint:
    ``metrics["restored_step"]`` when recorded, else (config ``restore_best``) the row with
    the lowest ``val_loss``; ``None`` when the run ended with its last weights."""
    from neuralab.viz.curves import best_step

    metrics = run.get("metrics") or {}
    for key in ("restored_step", "restored_epoch"):
        if metrics.get(key) is not None:
            return float(metrics[key])
    if (run.get("config") or {}).get("restore_best"):
        return best_step(_numeric_history(history), x, "val_loss")
    return None


def has_curves(history: list[dict]) -> bool:
    """Whether ``history`` has a series with two or more points (else: numbers, no plot)."""
    from neuralab.viz.curves import count_points

    x = history_axis(history)
    if x is None:
        return False
    metrics, splits = curve_keys(history)
    rows = _numeric_history(history)
    return any(count_points(rows, x, f"{s}_{m}") >= 2 for s in splits for m in metrics)


def curves_figure(run: dict, history: list[dict], source: str) -> dict | None:
    """The learning curves of ``history`` as an embedded SVG with a caption, or ``None`` when
    no series has two points (a single evaluation is shown as a number in the tables)."""
    from neuralab.viz.curves import plot_curves

    if not has_curves(history):
        return None
    x = history_axis(history)
    metrics, splits = curve_keys(history)
    rows = _numeric_history(history)
    restored = restored_step(run, history, x)
    final = {k: v for k, v in (run.get("metrics") or {}).items()
             if k.startswith("test_") and isinstance(v, (int, float))
             and not any(row.get(k) not in (None, "") for row in history)}
    fig = plot_curves(rows, x=x, metrics=metrics, splits=splits, restored=restored,
                      final=final)
    fig_view = embed_figure_svg(fig) if len(rows) <= MAX_SVG_ROWS else embed_figure_png(fig)
    text = (f"Learning curves: {', '.join(metrics)} of the {', '.join(splits)} split"
            f"{'s' if len(splits) > 1 else ''} against {x}s")
    if restored is not None:
        text += (f"; the dashed line marks {x} {restored:g}, the lowest validation loss, whose "
                 f"weights were restored for the final numbers")
    return {**fig_view, "caption": f"{text}. {source}.", "name": "curves"}


def compare_figure(histories: dict[str, list[dict]]) -> dict | None:
    """Several runs' learning curves on one figure (one colour per run)."""
    from neuralab.viz.curves import plot_curves

    first = next((h for h in histories.values() if history_axis(h)), None)
    if first is None:
        return None
    x = history_axis(first)
    metrics, splits = curve_keys(first)
    if not metrics:
        return None
    splits = [s for s in ("train", "val") if s in splits] or splits
    fig = plot_curves([], x=x, metrics=metrics, splits=splits,
                      runs={k: _numeric_history(h) for k, h in histories.items()})
    return {**embed_figure_svg(fig), "name": "curves",
            "caption": f"Learning curves of the compared runs against {x}s (colour: run; "
                       f"line style: split, {' / '.join(splits)} = solid / dashed)."}
