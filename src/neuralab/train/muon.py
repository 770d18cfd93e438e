"""Muon (MomentUm Orthogonalized by Newton-Schulz), as airbench94_muon uses it, with plain
Nesterov SGD for the parameters that are not filters — one optimiser, so the Trainer, its
checkpoints and DDP treat it like any other.

For a filter ``W`` (``[c_out, ...]``, viewed as the matrix ``G`` of shape ``[c_out, fan_in]``)
one step is::

    B <- mu B + grad                      (momentum buffer)
    G <- grad + mu B   (Nesterov)  or  B
    W <- W * sqrt(c_out) / ||W||_F        (keep the weight's norm fixed)
    W <- W - lr * NS(G)

where ``NS(G) ~ U V^T`` (``G = U S V^T``) is approximated by a few quintic Newton-Schulz
iterations ``X <- a X + (b A + c A^2) X`` with ``A = X X^T`` on ``X = G / ||G||_F``: every
singular value of the update is pushed towards 1, so each step moves every direction of the
filter bank by a similar amount. The update does not depend on the gradient's scale.

Parameter groups with ``muon=False`` take SGD steps (``momentum``, ``nesterov``,
``weight_decay`` as in ``torch.optim.SGD``).
"""

from __future__ import annotations

import torch

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def newton_schulz(g: torch.Tensor, steps: int = 3, eps: float = 1e-7,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Approximate orthogonalisation of the matrix ``g`` ``[m, n]``: returns ``~U S' V^T`` with
    ``S'`` roughly in [0.5, 1.5] (the coefficients favour speed over exact convergence)."""
    a, b, c = NS_COEFFICIENTS
    x = g.to(dtype)
    x = x / (x.norm() + eps)
    tall = g.size(0) > g.size(1)
    if tall:
        x = x.T
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return (x.T if tall else x).to(g.dtype)


class Muon(torch.optim.Optimizer):
    """Muon for groups with ``muon=True`` (filters, ``ndim >= 2``), Nesterov SGD for the rest.

    Args:
        params: parameter groups; each may set ``muon``, ``lr``, ``momentum``, ``nesterov``,
            ``weight_decay`` (SGD groups only).
        ns_steps: Newton-Schulz iterations; ``ns_dtype`` their precision (bfloat16 on GPUs,
            float32 on CPUs without fast bf16).
    """

    def __init__(self, params, lr: float = 0.02, momentum: float = 0.6, nesterov: bool = True,
                 weight_decay: float = 0.0, ns_steps: int = 3,
                 ns_dtype: torch.dtype = torch.float32) -> None:
        defaults = dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay,
                        muon=True)
        super().__init__(params, defaults)
        self.ns_steps, self.ns_dtype = ns_steps, ns_dtype
        for group in self.param_groups:
            if group["muon"] and any(p.ndim < 2 for p in group["params"]):
                raise ValueError("Muon groups take matrices or filters (ndim >= 2) only")

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mu, nesterov = group["lr"], group["momentum"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if not group["muon"] and group["weight_decay"]:
                    g = g.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(g)
                buf = state["momentum_buffer"]
                buf.mul_(mu).add_(g)
                g = g.add(buf, alpha=mu) if nesterov else buf
                if group["muon"]:
                    p.mul_(len(p) ** 0.5 / p.norm())
                    update = newton_schulz(g.reshape(len(g), -1), self.ns_steps,
                                           dtype=self.ns_dtype).view_as(g)
                    p.add_(update, alpha=-lr)
                else:
                    p.add_(g, alpha=-lr)
        return loss
