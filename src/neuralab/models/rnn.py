r"""Recurrent networks from scratch (UvA DL assignment 2 part 1, VISUM practical section 3).

Both models are written with ``nn.Parameter`` tensors, matrix products and a Python ``for``
loop over time: no ``nn.RNN``/``nn.LSTM``/``nn.GRU``/``nn.*Cell``/``nn.Linear``. They read a
batch of sequences and classify it from the last hidden state (the palindrome task: read the
first T-1 digits, predict the last one).

Inputs to ``forward(x)``:

- float ``[B, T, input_dim]``: used as is;
- float ``[B, T]`` with ``input_dim == 1``: scalar digits, as the boilerplate feeds them;
- integer ``[B, T]`` with ``input_dim > 1``: class indices, one-hot encoded to
  ``[B, T, input_dim]``.

``forward(x)`` returns the logits of the last step ``[B, num_classes]``;
``forward(x, return_hidden=True)`` returns ``(logits, hidden)`` where ``hidden`` is the list
``[h_1, ..., h_T]`` of ``[B, num_hidden]`` tensors, each with ``retain_grad()`` called, so
after ``loss.backward()`` ``h_t.grad`` holds :math:`\partial L / \partial h_t` for every t
(the vanishing-gradient picture).

Initialisation (``init=``), weights only; biases start at 0 (LSTM forget gate at 1):

- ``"kaiming_normal"`` (default): :math:`\mathcal N(0, 2/\text{fan\_in})`, what the UvA 2020
  handout (Table 2, "Initialization: Kaiming_normal") prescribes; the 2018/2019 boilerplate
  leaves the choice open. ``fan_in`` is the input width of each matrix (D for
  :math:`W_{hx}`, H for :math:`W_{hh}` and :math:`W_{ph}`).
- ``"uniform"``: :math:`\mathcal U(-1/\sqrt H, 1/\sqrt H)`, as ``nn.RNN``/``nn.LSTM`` do.
- ``"normal"``: :math:`\mathcal N(0, 0.01^2)`, a small-Gaussian alternative.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.errors import NeuralabError
from neuralab.models.registry import num_classes_arg, register_model
from neuralab.models.shapes import ShapeError

INITS = ("kaiming_normal", "uniform", "normal")
# the palindrome task of length 10 read as scalar digits: one example is [T=10, D=1]
RNN_DEFAULTS = {"seq_length": 10, "input_dim": 1, "num_hidden": 128, "num_classes": 10}


def _init_weight(w: torch.Tensor, scheme: str, num_hidden: int) -> None:
    """Initialise a weight matrix ``[fan_out, fan_in]`` in place with ``scheme``."""
    if scheme == "kaiming_normal":
        nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")
    elif scheme == "uniform":
        bound = 1.0 / math.sqrt(num_hidden)
        nn.init.uniform_(w, -bound, bound)
    elif scheme == "normal":
        nn.init.normal_(w, 0.0, 0.01)
    else:
        raise NeuralabError(f"unknown init {scheme!r}; valid: {', '.join(INITS)}")


class _Recurrent(nn.Module):
    """Shared input handling for the recurrent classifiers."""

    input_dim: int

    def _as_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` -> float ``[B, T, input_dim]`` (see the module docstring)."""
        if x.dim() == 2:
            if not x.is_floating_point() and self.input_dim > 1:
                x = F.one_hot(x.long(), self.input_dim)
            elif self.input_dim == 1:
                x = x.unsqueeze(-1)
        if x.dim() != 3 or x.shape[-1] != self.input_dim:
            raise ShapeError(
                f"{type(self).__name__} expects input [B, T, {self.input_dim}] (or [B, T] "
                f"digits), got {tuple(x.shape)}"
            )
        dtype = next(self.parameters()).dtype
        return x.to(dtype)

    @staticmethod
    def _keep(h: torch.Tensor, hidden: list[torch.Tensor] | None) -> None:
        if hidden is not None:
            if h.requires_grad:
                h.retain_grad()
            hidden.append(h)


@register_model("vanilla_rnn", input_shape=(10, 1), **RNN_DEFAULTS)
class VanillaRNN(_Recurrent):
    r"""Elman RNN classifier.

    .. math::

        h_t = \tanh(W_{hx} x_t + W_{hh} h_{t-1} + b_h), \quad h_0 = 0, \qquad
        p_T = W_{ph} h_T + b_p .

    Args:
        seq_length: the sequence length T the model is meant for (kept for the handout's
            interface; ``forward`` accepts any length).
        input_dim: D, features per time step (1 for scalar digits, 10 for one-hot).
        num_hidden: H.
        num_classes: C (required; ``n_classes`` is accepted instead).
        init: weight initialisation, see the module docstring.

    Parameters: ``W_hx`` ``[H, D]``, ``W_hh`` ``[H, H]``, ``b_h`` ``[H]``, ``W_ph`` ``[C, H]``,
    ``b_p`` ``[C]``. Shapes: ``[B, T, D] -> [B, C]``.
    """

    def __init__(
        self,
        seq_length: int,
        input_dim: int,
        num_hidden: int,
        num_classes: int | None = None,
        init: str = "kaiming_normal",
        *,
        n_classes: int | None = None,
    ) -> None:
        super().__init__()
        num_classes = num_classes_arg(num_classes, n_classes, "VanillaRNN")
        self.seq_length, self.input_dim = seq_length, input_dim
        self.num_hidden, self.num_classes = num_hidden, num_classes
        self.W_hx = nn.Parameter(torch.empty(num_hidden, input_dim))
        self.W_hh = nn.Parameter(torch.empty(num_hidden, num_hidden))
        self.b_h = nn.Parameter(torch.zeros(num_hidden))
        self.W_ph = nn.Parameter(torch.empty(num_classes, num_hidden))
        self.b_p = nn.Parameter(torch.zeros(num_classes))
        for w in (self.W_hx, self.W_hh, self.W_ph):
            _init_weight(w.data, init, num_hidden)

    def forward(self, x: torch.Tensor, return_hidden: bool = False):
        x = self._as_inputs(x)
        batch = x.shape[0]
        hidden: list[torch.Tensor] | None = [] if return_hidden else None
        x_proj = x @ self.W_hx.T + self.b_h  # [B, T, H]: input terms for all steps at once
        h = x.new_zeros(batch, self.num_hidden)
        for x_t in x_proj.unbind(1):  # one stack in backward, not a [B, T, H] add per step
            h = torch.tanh(x_t + h @ self.W_hh.T)
            self._keep(h, hidden)
        logits = h @ self.W_ph.T + self.b_p
        return (logits, hidden) if return_hidden else logits

    def extra_repr(self) -> str:
        return (
            f"seq_length={self.seq_length}, input_dim={self.input_dim}, "
            f"num_hidden={self.num_hidden}, num_classes={self.num_classes}"
        )


@register_model("lstm", input_shape=(10, 1), **RNN_DEFAULTS)
class LSTM(_Recurrent):
    r"""LSTM classifier (no peepholes).

    .. math::

        g_t &= \tanh(W_{gx} x_t + W_{gh} h_{t-1} + b_g) \\
        i_t &= \sigma(W_{ix} x_t + W_{ih} h_{t-1} + b_i) \\
        f_t &= \sigma(W_{fx} x_t + W_{fh} h_{t-1} + b_f) \\
        o_t &= \sigma(W_{ox} x_t + W_{oh} h_{t-1} + b_o) \\
        c_t &= g_t \odot i_t + c_{t-1} \odot f_t \\
        h_t &= \tanh(c_t) \odot o_t \\
        p_T &= W_{ph} h_T + b_p

    with :math:`h_0 = c_0 = 0`. The forget-gate bias :math:`b_f` starts at 1 so the cell
    remembers by default early in training. Each gate keeps its own named parameters
    (``W_gx`` ``[H, D]``, ``W_gh`` ``[H, H]``, ``b_g`` ``[H]``, likewise ``i``, ``f``, ``o``);
    ``forward`` stacks them once into ``[4H, D]``/``[4H, H]`` so each step is one matrix
    product. Arguments and shapes as :class:`VanillaRNN`.
    """

    GATES = ("g", "i", "f", "o")

    def __init__(
        self,
        seq_length: int,
        input_dim: int,
        num_hidden: int,
        num_classes: int | None = None,
        init: str = "kaiming_normal",
        *,
        n_classes: int | None = None,
    ) -> None:
        super().__init__()
        num_classes = num_classes_arg(num_classes, n_classes, "LSTM")
        self.seq_length, self.input_dim = seq_length, input_dim
        self.num_hidden, self.num_classes = num_hidden, num_classes
        for gate in self.GATES:
            w_x = nn.Parameter(torch.empty(num_hidden, input_dim))
            w_h = nn.Parameter(torch.empty(num_hidden, num_hidden))
            _init_weight(w_x.data, init, num_hidden)
            _init_weight(w_h.data, init, num_hidden)
            bias = torch.ones(num_hidden) if gate == "f" else torch.zeros(num_hidden)
            self.register_parameter(f"W_{gate}x", w_x)
            self.register_parameter(f"W_{gate}h", w_h)
            self.register_parameter(f"b_{gate}", nn.Parameter(bias))
        self.W_ph = nn.Parameter(torch.empty(num_classes, num_hidden))
        _init_weight(self.W_ph.data, init, num_hidden)
        self.b_p = nn.Parameter(torch.zeros(num_classes))

    def _stacked(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Gate weights stacked in order g, i, f, o: ``[4H, D]``, ``[4H, H]``, ``[4H]``."""
        p = dict(self.named_parameters())
        w_x = torch.cat([p[f"W_{g}x"] for g in self.GATES])
        w_h = torch.cat([p[f"W_{g}h"] for g in self.GATES])
        b = torch.cat([p[f"b_{g}"] for g in self.GATES])
        return w_x, w_h, b

    def forward(self, x: torch.Tensor, return_hidden: bool = False):
        x = self._as_inputs(x)
        batch = x.shape[0]
        hidden: list[torch.Tensor] | None = [] if return_hidden else None
        w_x, w_h, b = self._stacked()
        x_proj = x @ w_x.T + b  # [B, T, 4H]
        h = x.new_zeros(batch, self.num_hidden)
        c = x.new_zeros(batch, self.num_hidden)
        for x_t in x_proj.unbind(1):  # one stack in backward, not a [B, T, 4H] add per step
            pre_g, pre_i, pre_f, pre_o = (x_t + h @ w_h.T).chunk(4, dim=1)
            c = torch.tanh(pre_g) * torch.sigmoid(pre_i) + c * torch.sigmoid(pre_f)
            h = torch.tanh(c) * torch.sigmoid(pre_o)
            self._keep(h, hidden)
        logits = h @ self.W_ph.T + self.b_p
        return (logits, hidden) if return_hidden else logits

    def extra_repr(self) -> str:
        return (
            f"seq_length={self.seq_length}, input_dim={self.input_dim}, "
            f"num_hidden={self.num_hidden}, num_classes={self.num_classes}"
        )
