"""``neuralab gradcheck``: every hand-written backward in the package, checked numerically.

Two sources of rows: the NumPy engine's modules and models (:func:`neuralab.scratch.check_all`,
five-point finite differences in float64) and the custom LayerNorm (module and autograd.Function,
:func:`neuralab.models.layernorm.gradcheck_rows`: ``torch.autograd.gradcheck`` in float64 over
every element, plus the largest deviation from autograd's own gradient).
"""

from __future__ import annotations


def run_all(seed: int = 0) -> tuple[bool, str]:
    """(all passed, printable table)."""
    import numpy as np

    from neuralab.models.layernorm import gradcheck_rows
    from neuralab.scratch import check_all, format_table

    rows = check_all(dtype=np.float64, seed=seed) + gradcheck_rows()
    return all(r["passed"] for r in rows), format_table(rows)
