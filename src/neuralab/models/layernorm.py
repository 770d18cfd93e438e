r"""Layer normalisation three ways (UvA DL practical 1, section 3).

For one row :math:`x \in \mathbb{R}^M` of an input ``[S, M]`` (S examples, M neurons):

.. math::

    \mu = \frac1M \sum_j x_j, \qquad
    \sigma^2 = \frac1M \sum_j (x_j - \mu)^2 \;\text{(biased)}, \qquad
    \hat x_j = \frac{x_j - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad
    y_j = \gamma_j \hat x_j + \beta_j .

- :class:`LayerNormModule`: the forward pass in torch ops; autograd derives the backward.
- :class:`LayerNormFunction`: a ``torch.autograd.Function`` with the backward written by hand.
- :class:`CustomLayerNormManualModule`: an ``nn.Module`` holding gamma and beta that calls
  the Function.

Unlike batch norm there are no running statistics: train and eval behave the same.
:func:`gradcheck_rows` checks both gradients numerically for ``neuralab gradcheck``.
"""

from __future__ import annotations

import torch
from torch import nn

from neuralab.models.shapes import ShapeError, check_last_dim


def layer_norm(
    x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """Layer norm of ``x`` ``[..., M]`` over its last dimension in plain torch ops
    (autograd differentiates it); ``gamma``, ``beta`` ``[M]``."""
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, unbiased=False, keepdim=True)
    x_hat = (x - mean) / torch.sqrt(var + eps)
    return gamma * x_hat + beta


class LayerNormModule(nn.Module):
    """Layer norm over the last dimension with autograd doing the backward pass.

    Args:
        n_neurons: size M of the normalised (last) dimension.
        eps: added to the variance before the square root.

    Parameters: ``gamma`` ``[M]`` initialised to 1, ``beta`` ``[M]`` initialised to 0.
    Shapes: ``[..., M] -> [..., M]``; any other last dimension raises :class:`ShapeError`.
    """

    def __init__(self, n_neurons: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.n_neurons = n_neurons
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(n_neurons))
        self.beta = nn.Parameter(torch.zeros(n_neurons))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_last_dim(x, self.n_neurons, type(self).__name__)
        return layer_norm(x, self.gamma, self.beta, self.eps)

    def extra_repr(self) -> str:
        return f"{self.n_neurons}, eps={self.eps}"


class LayerNormFunction(torch.autograd.Function):
    r"""Layer norm of a 2-D input ``[S, M]`` over its last dimension, with a manual backward.

    ``LayerNormFunction.apply(input, gamma, beta[, eps])``: ``input`` ``[S, M]``, ``gamma`` and
    ``beta`` ``[M]``, ``eps`` an optional float (default 1e-5); returns ``[S, M]``.

    Backward, for one row (write :math:`r = (\sigma^2+\epsilon)^{-1/2}` for the inverse
    standard deviation and :math:`g = \partial L / \partial y` for the incoming gradient):

    .. math::

        \frac{\partial L}{\partial \beta_j} = \sum_s g_{sj}, \qquad
        \frac{\partial L}{\partial \gamma_j} = \sum_s g_{sj}\, \hat x_{sj}, \qquad
        \frac{\partial L}{\partial \hat x_j} = g_j \gamma_j =: d_j .

    Through :math:`\hat x_i = (x_i - \mu) r`, using :math:`\partial\mu/\partial x_j = 1/M`
    and :math:`\partial r/\partial x_j = -r^3 (x_j - \mu)/M = -r^2 \hat x_j / M`:

    .. math::

        \frac{\partial \hat x_i}{\partial x_j} = r\Big(\delta_{ij} - \frac1M\Big)
            - \frac{r}{M}\, \hat x_i \hat x_j ,
        \qquad
        \frac{\partial L}{\partial x_j} = \sum_i d_i \frac{\partial \hat x_i}{\partial x_j}
            = \frac{r}{M}\Big(M d_j - \sum_i d_i - \hat x_j \sum_i d_i \hat x_i\Big).

    So backward needs only :math:`\hat x` ``[S, M]``, :math:`r` ``[S, 1]`` and
    :math:`\gamma`; forward saves just those, and only the ones the requested gradients use.
    Gradients of inputs that do not require grad are returned as ``None``
    (``ctx.needs_input_grad``); ``eps`` never gets one, and ``backward`` returns one
    gradient per argument actually passed to ``apply`` (three or four).
    """

    @staticmethod
    def forward(
        ctx, input: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor, eps: float = 1e-5
    ) -> torch.Tensor:
        if input.dim() != 2:
            raise ShapeError(
                f"LayerNormFunction expects a 2-D input [S, M], got {tuple(input.shape)}"
            )
        check_last_dim(input, gamma.shape[0], "LayerNormFunction")
        if beta.shape != gamma.shape:
            raise ShapeError(
                f"gamma and beta must have the same shape, got {tuple(gamma.shape)} "
                f"and {tuple(beta.shape)}"
            )
        mean = input.mean(dim=1, keepdim=True)
        centred = input - mean
        inv_std = torch.rsqrt(centred.pow(2).mean(dim=1, keepdim=True) + eps)
        x_hat = centred * inv_std
        need_x, need_gamma = ctx.needs_input_grad[:2]
        ctx.save_for_backward(
            x_hat if (need_x or need_gamma) else None,
            inv_std if need_x else None,
            gamma if need_x else None,
        )
        return x_hat * gamma + beta

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        x_hat, inv_std, gamma = ctx.saved_tensors
        need_x, need_gamma, need_beta = ctx.needs_input_grad[:3]
        grad_input = grad_gamma = grad_beta = None
        if need_x:
            m = grad_output.shape[1]
            d_hat = grad_output * gamma
            grad_input = (inv_std / m) * (
                m * d_hat
                - d_hat.sum(dim=1, keepdim=True)
                - x_hat * (d_hat * x_hat).sum(dim=1, keepdim=True)
            )
        if need_gamma:
            grad_gamma = (grad_output * x_hat).sum(dim=0)
        if need_beta:
            grad_beta = grad_output.sum(dim=0)
        # one gradient per argument of apply(): eps, when it was passed, gets None
        extra = (None,) * (len(ctx.needs_input_grad) - 3)
        return (grad_input, grad_gamma, grad_beta, *extra)


class CustomLayerNormManualModule(nn.Module):
    """``nn.Module`` around :class:`LayerNormFunction` (same parameters as
    :class:`LayerNormModule`).

    Shapes: ``[..., M] -> [..., M]``; leading dimensions are flattened to ``[S, M]`` for the
    Function and restored afterwards.
    """

    def __init__(self, n_neurons: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.n_neurons = n_neurons
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(n_neurons))
        self.beta = nn.Parameter(torch.zeros(n_neurons))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_last_dim(x, self.n_neurons, type(self).__name__)
        rows = x.reshape(-1, self.n_neurons)
        return LayerNormFunction.apply(rows, self.gamma, self.beta, self.eps).reshape(x.shape)

    def extra_repr(self) -> str:
        return f"{self.n_neurons}, eps={self.eps}"


# The handout's class names.
CustomLayerNormAutograd = LayerNormModule
CustomLayerNormManualFunction = LayerNormFunction


def _numeric_grads(f, tensors: list[torch.Tensor], h: float = 1e-6) -> list[torch.Tensor]:
    """Central differences ``(f(t + h) - f(t - h)) / 2h`` of scalar ``f()`` for each element."""
    grads = []
    for t in tensors:
        g = torch.zeros_like(t)
        flat, gflat = t.data.view(-1), g.view(-1)
        for k in range(flat.numel()):
            old = flat[k].item()
            flat[k] = old + h
            plus = f().item()
            flat[k] = old - h
            minus = f().item()
            flat[k] = old
            gflat[k] = (plus - minus) / (2 * h)
        grads.append(g)
    return grads


def gradcheck_rows(
    n_rows: int = 4, n_neurons: int = 6, seed: int = 0, tol: float = 1e-7
) -> list[dict]:
    """Check the layer-norm gradients numerically: one row per implementation and tensor.

    For a random ``[n_rows, n_neurons]`` float64 input and the loss ``L = sum(y * R)``
    (fixed random ``R``), compares the analytic gradients (``a``) of ``x``, ``gamma`` and
    ``beta`` with central differences (``n``, step 1e-6), and runs
    ``torch.autograd.gradcheck`` on the same inputs.

    Rows use the NumPy engine's gradcheck format (``neuralab.scratch``): ``name``
    (``LayerNormModule`` = autograd, ``LayerNormFunction`` = hand-written backward),
    ``tensor`` (``x``, ``gamma``, ``beta``), ``rel_error`` = ``||a - n|| / (||a|| + ||n||)``,
    ``max_elem_error`` = ``max_i |a_i - n_i| / max(|a_i| + |n_i|, 1e-8)``, ``checked`` and
    ``size`` (elements compared / in the tensor), ``max_abs_error`` = ``max_i |a_i - n_i|``,
    and ``passed`` (``rel_error < tol`` and
    ``gradcheck`` succeeded).
    """
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.randn(n_rows, n_neurons, generator=gen, dtype=torch.float64) * 2 + 3
    gamma0 = torch.rand(n_neurons, generator=gen, dtype=torch.float64) + 0.5
    beta0 = torch.randn(n_neurons, generator=gen, dtype=torch.float64)
    weights = torch.randn(n_rows, n_neurons, generator=gen, dtype=torch.float64)

    implementations = {
        "LayerNormModule": lambda x, g, b: layer_norm(x, g, b, 1e-5),
        "LayerNormFunction": lambda x, g, b: LayerNormFunction.apply(x, g, b, 1e-5),
    }
    rows = []
    for impl_name, fn in implementations.items():
        x, gamma, beta = (t.clone().requires_grad_(True) for t in (x0, gamma0, beta0))
        (fn(x, gamma, beta) * weights).sum().backward()
        analytic = [x.grad, gamma.grad, beta.grad]

        def loss(fn=fn, x=x, gamma=gamma, beta=beta):
            return (fn(x, gamma, beta) * weights).sum()

        with torch.no_grad():
            numeric = _numeric_grads(loss, [x, gamma, beta])
        ok = torch.autograd.gradcheck(fn, (x, gamma, beta), raise_exception=False)
        for tensor, a, n in zip(("x", "gamma", "beta"), analytic, numeric, strict=True):
            rel = ((a - n).norm() / (a.norm() + n.norm()).clamp_min(1e-12)).item()
            elem = ((a - n).abs() / (a.abs() + n.abs()).clamp_min(1e-8)).max().item()
            rows.append(
                {
                    "name": impl_name,
                    "tensor": tensor,
                    "rel_error": rel,
                    "max_elem_error": elem,
                    "max_abs_error": (a - n).abs().max().item(),
                    "checked": a.numel(),
                    "size": a.numel(),
                    "passed": bool(ok and rel < tol),
                }
            )
    return rows
