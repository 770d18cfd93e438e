"""Numerical gradient checks: finite differences against each module's ``backward``.

What is compared. A module maps ``x`` to ``y``; to get a scalar we fix a random
projection ``G`` (same shape as ``y``) and use ``f = sum(y * G)``, whose gradient w.r.t.
``y`` is ``G``, so the analytic gradients are ``backward(G)`` (input) and ``grads``
(parameters). A loss is already scalar (``backward()``); a model can be checked through a
loss (``loss=...``), which checks the whole composition.

Numerical derivative of each checked element ``t`` of each tensor (every parameter, and
the input), with ``D(h) = f(t + h) - f(t - h)``:

- ``n2 = D(h) / 2h`` (central difference, error O(h^2)) and
- ``n4 = (8 D(h) - D(2h)) / 12h`` (the five-point stencil, error O(h^4)), which is used.

For modules ``D`` is formed on the outputs, ``sum((y(t + h) - y(t - h)) * G)``, which loses
fewer digits than subtracting two large sums. The default ``h = 1e-4`` balances rounding
(about 1e-16 |f| / h) against truncation. Tensors with more than ``max_checks`` elements
are checked on a seeded random sample.

Kinks. ReLU at 0, max-pool ties and the like make finite differences meaningless when
``[t - 2h, t + 2h]`` contains one. A kink off ``t`` makes ``n2`` and ``n4`` disagree (on
smooth functions they agree to about h^2): ``|n4 - n2| > 1e-4 max(|n4|, |n2|)``. A kink
exactly at ``t`` (a dead ReLU with zero bias, say) leaves them equal but changes how the
second difference ``c(s) = f(t+s) - 2f(t) + f(t-s)`` grows: ``s^2 f''`` when smooth,
``s * (jump of f')`` at a kink, so ``c(2h)`` is ``2 c(h)`` instead of ``4 c(h)``. Such
elements are reported as ``skipped`` rather than compared. :func:`check_all` also draws activation
inputs at least 0.1 away from 0 and pools over well-separated values.

Relative error of a tensor (``rel_error``, the pass/fail number):
``||a - n||_2 / max(||a||_2 + ||n||_2, 1e-12)`` over the checked elements (``a`` analytic,
``n`` numerical); a tensor passes when it is below 1e-7 (float64) or 1e-4 (float32).
Each row also gives ``max_elem_error``, CS231n's element-wise
``max_i |a_i - n_i| / max(|a_i| + |n_i|, 1e-8)``. Finite differences have an *absolute*
error of about 1e-12 |f|, which the element-wise form divides by the smallest gradient
entries; in a deep model a few entries are 1e-5 of the largest, so the element-wise
maximum can reach 1e-7 there even though every formula is right. For single layers and
losses both forms are far below 1e-7.

float32. The analytic gradients are computed in float32; the numerical ones on a float64
twin of the module (same values, upcast), because float32 finite differences carry about
1e-3 relative noise. The check then measures float32 backward's own rounding (about 1e-6).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from neuralab.scratch.base import Sequential, make_rng
from neuralab.scratch.conv import Conv2d, MaxPool2d
from neuralab.scratch.functional import softmax
from neuralab.scratch.layers import ELU, Flatten, Linear, ReLU, Sigmoid, Softmax, Tanh
from neuralab.scratch.losses import (
    BinaryCrossEntropy,
    CrossEntropy,
    Loss,
    SoftmaxCrossEntropy,
    SquaredError,
)
from neuralab.scratch.models import MLP, Autoencoder

# Pass threshold on the relative error, by the dtype of the analytic gradients.
DEFAULT_TOL = {np.dtype(np.float64): 1e-7, np.dtype(np.float32): 1e-4}
# A point counts as a kink when the O(h^2) and O(h^4) estimates disagree by more than this.
KINK_RTOL = 1e-4


def _norm_error(a: np.ndarray, n: np.ndarray) -> float:
    """``||a - n|| / max(||a|| + ||n||, 1e-12)`` over the checked elements."""
    return float(np.linalg.norm(a - n) / max(np.linalg.norm(a) + np.linalg.norm(n), 1e-12))


def _max_elem_error(a: np.ndarray, n: np.ndarray) -> float:
    """CS231n's ``rel_error``: ``max_i |a_i - n_i| / max(|a_i| + |n_i|, 1e-8)``."""
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), 1e-8)))


def _float64_twin(module):
    """A deep copy of ``module`` whose parameters (and gradients) are float64 copies."""
    twin = copy.deepcopy(module)

    def convert(mod) -> None:
        if isinstance(mod, Sequential):
            for layer in mod.layers:
                convert(layer)
            mod.collect_params()
        else:
            for k in list(mod.params):
                mod.params[k] = mod.params[k].astype(np.float64)
                mod.grads[k] = mod.grads[k].astype(np.float64)
        if hasattr(mod, "dtype"):
            mod.dtype = np.dtype(np.float64)

    convert(twin)
    return twin


def gradcheck(
    module,
    inputs: np.ndarray,
    targets: np.ndarray | None = None,
    loss: Loss | None = None,
    *,
    name: str | None = None,
    eps: float = 1e-4,
    tol: float | None = None,
    max_checks: int = 40,
    check_input: bool = True,
    seed: int | np.random.Generator | None = 0,
) -> list[dict]:
    """Compare analytic and finite-difference gradients of ``module`` (see module docs).

    - ``module``: a :class:`Module` (checked through a random projection of its output),
      a :class:`Loss` (``targets`` required), or a model checked through ``loss``.
    - ``inputs``: the input batch (copied, never modified); its dtype is the one checked.
    - ``eps``: finite-difference step ``h``; ``tol``: pass threshold on ``rel_error``
      (default 1e-7 when input and parameters are float64, else 1e-4).
    - ``max_checks``: elements checked per tensor (all of them if the tensor is smaller),
      drawn with ``seed``.

    Returns one row per tensor (each parameter, then ``"input"``)::

        {"name", "tensor", "rel_error", "max_elem_error", "checked", "skipped", "size",
         "passed"}

    Parameters are left exactly as they were.
    """
    rng = make_rng(seed)
    x = np.array(inputs, copy=True)
    dtype = x.dtype
    # float32 anywhere (input or parameters) limits the analytic gradients' precision
    all64 = dtype == np.float64 and all(np.asarray(p).dtype == np.float64
                                        for p in module.params.values())
    tol = DEFAULT_TOL.get(np.dtype(np.float64) if all64 else np.dtype(np.float32), 1e-7) \
        if tol is None else tol
    label = name or repr(module).split("(")[0]
    is_loss = isinstance(module, Loss)
    if (is_loss or loss is not None) and targets is None:
        raise ValueError("checking a loss needs targets")

    # Analytic gradients, in the module's own dtype.
    out = module.forward(x, targets) if is_loss else module.forward(x)
    if is_loss:
        dx = module.backward()
    elif loss is not None:
        loss.forward(out, targets)
        dx = module.backward(loss.backward())
    else:
        proj = rng.standard_normal(np.shape(out))
        dx = module.backward(proj.astype(dtype))
    analytic = {k: np.array(g, dtype=np.float64) for k, g in module.grads.items()}
    analytic["input"] = np.array(dx, dtype=np.float64)
    if is_loss or loss is not None:
        proj = np.ones(())

    # Numerical gradients, always in float64 (on a float64 twin of a float32 module).
    ref = module if is_loss or all64 else _float64_twin(module)
    x64 = np.array(x, dtype=np.float64)

    def evaluate() -> np.ndarray:
        if is_loss:
            return np.asarray(ref.forward(x64, targets))
        y = ref.forward(x64)
        return np.asarray(loss.forward(y, targets)) if loss is not None else y

    y0 = np.array(evaluate(), dtype=np.float64)
    tensors = list(ref.params.items()) + ([("input", x64)] if check_input else [])
    rows = []
    for tname, arr in tensors:
        flat = arr.reshape(-1)
        if not np.shares_memory(flat, arr):
            raise RuntimeError(f"{tname} is not contiguous; cannot perturb it in place")
        idx = np.arange(flat.size) if flat.size <= max_checks else np.sort(
            rng.choice(flat.size, max_checks, replace=False))
        numeric = np.empty(len(idx))
        smooth = np.ones(len(idx), dtype=bool)
        for k, i in enumerate(idx):
            old = flat[i]
            d, c = [], []
            for step in (eps, 2 * eps):
                flat[i] = old + step
                plus = np.array(evaluate(), dtype=np.float64)  # may alias x64
                flat[i] = old - step
                minus = evaluate()
                d.append(float(np.sum((plus - minus) * proj)))
                c.append(float(np.sum((plus + minus - 2 * y0) * proj)))
            flat[i] = old
            n2 = d[0] / (2 * eps)                       # error O(h^2)
            n4 = (8 * d[0] - d[1]) / (12 * eps)         # error O(h^4)
            numeric[k] = n4
            scale = max(abs(n4), abs(n2), 1e-8)
            # A kink inside [t - 2h, t + 2h] but not at t shows as n2 != n4. One at t leaves
            # n2 == n4 but turns the second differences c(s) = f(t+s) - 2 f(t) + f(t-s) from
            # s^2 f'' (so c(2h) = 4 c(h)) into s |jump of f'| (so c(2h) = 2 c(h)).
            off_centre = abs(n4 - n2) > KINK_RTOL * scale
            at_t = abs(c[0]) > 1e-2 * eps * scale and abs(c[1] - 4 * c[0]) > 0.25 * abs(c[1])
            smooth[k] = not (off_centre or at_t)
        a = analytic[tname].reshape(-1)[idx][smooth]
        n = numeric[smooth]
        err = _norm_error(a, n)
        rows.append({"name": label, "tensor": tname, "rel_error": err,
                     "max_elem_error": _max_elem_error(a, n), "checked": int(smooth.sum()),
                     "skipped": int((~smooth).sum()), "size": int(flat.size),
                     "passed": bool(err < tol)})
    return rows


def _away_from_zero(rng, shape, low=0.1, high=1.5) -> np.ndarray:
    """Uniform magnitudes in [low, high) with random signs: no element near a kink at 0."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)


def _distinct(rng, shape, spacing=0.05) -> np.ndarray:
    """A random arrangement of values at least ``spacing`` apart (no max-pool ties)."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * spacing - size * spacing / 2).reshape(shape)


def _autoencoder_case(dtype, rng) -> Callable[[], dict]:
    """hw5's autoencoder on a batch of 2, with targets near its reconstructions: the summed
    squared error stays small, so the finite differences lose fewer digits."""
    def factory() -> dict:
        model = Autoencoder(dtype=dtype, rng=rng)
        x = rng.uniform(size=(2, 1024)).astype(dtype)
        targets = model.forward(x) + 0.05 * rng.standard_normal((2, 1024)).astype(dtype)
        return dict(module=model, inputs=x, loss=SquaredError(), targets=targets,
                    max_checks=15)
    return factory


def _cases(dtype, rng) -> list[tuple[str, Callable[[], dict]]]:
    """(name, factory) pairs; each factory returns gradcheck's arguments."""
    def arr(a):
        return np.asarray(a, dtype=dtype)

    def labels(s, k):
        return rng.integers(0, k, size=s)

    def onehot(s, k):
        return np.eye(k, dtype=dtype)[labels(s, k)]

    r = rng
    return [
        ("Linear", lambda: dict(module=Linear(6, 4, dtype=dtype, rng=r),
                                inputs=arr(r.standard_normal((3, 6))))),
        ("ReLU", lambda: dict(module=ReLU(), inputs=arr(_away_from_zero(r, (4, 5))))),
        ("ELU", lambda: dict(module=ELU(), inputs=arr(_away_from_zero(r, (4, 5))))),
        ("Sigmoid", lambda: dict(module=Sigmoid(), inputs=arr(r.standard_normal((4, 5)) * 2))),
        ("Tanh", lambda: dict(module=Tanh(), inputs=arr(r.standard_normal((4, 5))))),
        ("Softmax", lambda: dict(module=Softmax(), inputs=arr(r.standard_normal((4, 5)) * 2))),
        ("Flatten", lambda: dict(module=Flatten(), inputs=arr(r.standard_normal((2, 3, 2, 2))))),
        ("Conv2d(k3,s1,p1)", lambda: dict(
            module=Conv2d(2, 3, 3, stride=1, padding=1, dtype=dtype, rng=r),
            inputs=arr(r.standard_normal((2, 2, 5, 5))))),
        ("Conv2d(k3x2,s2,p0)", lambda: dict(
            module=Conv2d(3, 2, (3, 2), stride=2, padding=0, dtype=dtype, rng=r),
            inputs=arr(r.standard_normal((2, 3, 7, 6))))),
        ("MaxPool2d(k2)", lambda: dict(module=MaxPool2d(2),
                                       inputs=arr(_distinct(r, (2, 2, 4, 6))))),
        ("MaxPool2d(k3,s2,p1)", lambda: dict(module=MaxPool2d(3, stride=2, padding=1),
                                             inputs=arr(_distinct(r, (2, 2, 5, 5))))),
        ("CrossEntropy", lambda: dict(module=CrossEntropy(),
                                      inputs=arr(softmax(r.standard_normal((4, 3)))),
                                      targets=onehot(4, 3))),
        ("SoftmaxCrossEntropy(labels)", lambda: dict(
            module=SoftmaxCrossEntropy(), inputs=arr(r.standard_normal((5, 4)) * 2),
            targets=labels(5, 4))),
        ("SoftmaxCrossEntropy(one-hot)", lambda: dict(
            module=SoftmaxCrossEntropy(), inputs=arr(r.standard_normal((5, 4)) * 2),
            targets=onehot(5, 4))),
        ("BinaryCrossEntropy(sigmoid)", lambda: dict(
            module=BinaryCrossEntropy(), inputs=arr(r.standard_normal((5, 3)) * 2),
            targets=onehot(5, 3))),
        ("BinaryCrossEntropy(softmax)", lambda: dict(
            module=BinaryCrossEntropy(activation="softmax"),
            inputs=arr(r.standard_normal((5, 3))), targets=onehot(5, 3))),
        ("SquaredError", lambda: dict(module=SquaredError(),
                                      inputs=arr(r.uniform(size=(3, 6))),
                                      targets=arr(r.uniform(size=(3, 6))))),
        *[(f"MLP({act})+SoftmaxCrossEntropy", (lambda act=act: dict(
            module=MLP(5, [7, 6], 4, activation=act, dtype=dtype, rng=r),
            inputs=arr(r.standard_normal((3, 5))), loss=SoftmaxCrossEntropy(),
            targets=labels(3, 4)))) for act in ("elu", "relu", "sigmoid", "tanh")],
        ("HLCV 2-layer net+BinaryCrossEntropy", lambda: dict(
            module=MLP(4, [10], 3, activation="relu", init="normal", init_std=0.1,
                       dtype=dtype, rng=r),
            inputs=arr(r.standard_normal((5, 4)) * 10), loss=BinaryCrossEntropy(),
            targets=onehot(5, 3))),
        ("Autoencoder+SquaredError", _autoencoder_case(dtype, r)),
        ("CNN(Sequential)+SoftmaxCrossEntropy", lambda: dict(
            module=Sequential(Conv2d(2, 3, 3, padding=1, dtype=dtype, rng=r), ELU(),
                              MaxPool2d(2), Flatten(), Linear(3 * 2 * 2, 3, dtype=dtype, rng=r)),
            inputs=arr(r.standard_normal((2, 2, 4, 4))), loss=SoftmaxCrossEntropy(),
            targets=labels(2, 3))),
    ]


def check_all(dtype=np.float64, seed: int = 0, max_checks: int = 40) -> list[dict]:
    """Gradient-check every module, loss and model on small random inputs.

    Returns gradcheck rows (``name``, ``tensor``, ``rel_error``, ``checked``, ``size``,
    ``passed``) for all of them, in a fixed order; deterministic for a given ``seed``.
    """
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    for name, factory in _cases(np.dtype(dtype), rng):
        kwargs = factory()
        kwargs.setdefault("max_checks", max_checks)
        rows.extend(gradcheck(name=name, seed=rng, **kwargs))
    return rows


def format_table(rows: list[dict]) -> str:
    """A plain-text table of gradcheck rows, with a one-line summary at the end."""
    if not rows:
        return "(no gradient checks)"
    headers = ("module", "tensor", "checked", "rel. error", "max elem.", "")
    body = []
    for r in rows:
        checked = f"{r['checked']}/{r['size']}"
        if r.get("skipped"):
            checked += f" ({r['skipped']} kinks skipped)"
        body.append((r["name"], r["tensor"], checked, f"{r['rel_error']:.2e}",
                     f"{r['max_elem_error']:.2e}", "ok" if r["passed"] else "FAIL"))
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]

    def line(cells) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [line(headers), line("-" * w for w in widths), *(line(b) for b in body)]
    worst = max(rows, key=lambda r: r["rel_error"])
    failed = sum(not r["passed"] for r in rows)
    status = "all passed" if not failed else f"{failed} FAILED"
    out.append(f"{len(rows)} tensors, {status}; worst relative error "
               f"{worst['rel_error']:.2e} ({worst['name']} {worst['tensor']})")
    return "\n".join(out)
