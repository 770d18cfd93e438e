"""What one palindrome-sweep training step costs, and what the ways of making it cheaper buy:
bf16 autocast, and several seeds trained side by side in one batched model.

    python benchmarks/recurrent_step.py [--lengths 10,40] [--seeds 3] [--repeats 20] [--write]

Each sweep cell trains :class:`~neuralab.models.rnn.VanillaRNN` or
:class:`~neuralab.models.rnn.LSTM` as ``palindrome-sweep`` does (batch 128, 128 hidden units,
digit-value inputs, RMSprop at 1e-3, the global gradient norm clipped at 10), on one thread per
cell with two cells at once on a 2-core machine. A step here is exactly that: forward over the
T-1 digits, cross-entropy of the last step, backward, clipping, the RMSprop update. Variants:

- ``fp32``: the sweep's step as it runs.
- ``bf16``: the same under CPU bf16 autocast (the matrix products in bf16, the state in fp32);
  only where the CPU has bf16 instructions.
- ``vmap``: ``--seeds`` models with their own weights in one batched model, the idiomatic way
  (``torch.func.stack_module_state`` + ``vmap`` over the model's own ``forward``), each seed's
  gradient clipped by its own norm, one RMSprop over the stacked weights (elementwise, so the
  same update as one optimizer per seed).
- ``bmm``: the same batched model written out by hand (:func:`stacked_logits`): every
  matrix product of a step one ``baddbmm`` over the seeds.

The batched variants' times are per seed: the batched step's time divided by ``--seeds``.

Every time is the best of three rounds of ``--repeats`` steps after three warm-up steps, in one
process, one after another per length. ``--write`` stores the table in
results/benchmarks/recurrent_step.json with the hardware, versions, date and this command.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad_and_value, stack_module_state

from neuralab.io import write_json
from neuralab.models.rnn import LSTM, VanillaRNN
from neuralab.system import best_ms, measured_here
from neuralab.train.trainer import cpu_has_bf16

OUT = Path("results/benchmarks/recurrent_step.json")
MODELS = {"rnn": VanillaRNN, "lstm": LSTM}
BATCH, HIDDEN, CLASSES, LR, MAX_NORM = 128, 128, 10, 1e-3, 10.0


def _batch(seq_length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed batch of digit sequences ``[B, T-1]`` and labels ``[B]`` (the step's cost does
    not depend on the digits)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 10, (BATCH, seq_length - 1), generator=g).float()
    return x, torch.randint(0, CLASSES, (BATCH,), generator=g)


def single_step(model_name: str, seq_length: int, bf16: bool) -> Callable[[], None]:
    """One sweep cell's training step, as the Trainer runs it."""
    torch.manual_seed(0)
    model = MODELS[model_name](seq_length - 1, 1, HIDDEN, CLASSES)
    opt = torch.optim.RMSprop(model.parameters(), lr=LR)
    x, y = _batch(seq_length, 0)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
        opt.step()
    return step


def stacked_logits(model_name: str, p: dict[str, torch.Tensor], x: torch.Tensor,
                   ) -> torch.Tensor:
    r"""The logits ``[S, B, C]`` of S stacked models (``p``: each parameter of
    :class:`VanillaRNN`/:class:`LSTM` with a leading seed axis, as ``stack_module_state`` gives
    them) on their own digit batches ``x`` ``[S, B, T-1]``: the models' own recurrences with
    :math:`W h` for all seeds in one ``baddbmm``."""
    if model_name == "lstm":
        gates = LSTM.GATES
        w_x = torch.cat([p[f"W_{g}x"] for g in gates], 1)  # [S, 4H, 1]
        w_h = torch.cat([p[f"W_{g}h"] for g in gates], 1).transpose(1, 2).contiguous()
        b = torch.cat([p[f"b_{g}"] for g in gates], 1)  # [S, 4H]
    else:
        w_x, w_h, b = p["W_hx"], p["W_hh"].transpose(1, 2).contiguous(), p["b_h"]
    x_proj = x.unsqueeze(-1) * w_x.transpose(1, 2).unsqueeze(1) + b[:, None, None]  # [S,B,T,G]
    h = x.new_zeros(x.shape[0], x.shape[1], HIDDEN)
    c = torch.zeros_like(h)
    for x_t in x_proj.unbind(2):
        pre = torch.baddbmm(x_t, h, w_h)
        if model_name == "lstm":
            pre_g, pre_i, pre_f, pre_o = pre.chunk(4, dim=2)
            c = torch.tanh(pre_g) * torch.sigmoid(pre_i) + c * torch.sigmoid(pre_f)
            h = torch.tanh(c) * torch.sigmoid(pre_o)
        else:
            h = torch.tanh(pre)
    return torch.baddbmm(p["b_p"].unsqueeze(1), h, p["W_ph"].transpose(1, 2))


def _clip_per_seed(params: dict[str, torch.Tensor], grads: dict[str, torch.Tensor]) -> None:
    """Set each stacked weight's ``.grad``: ``grads`` scaled seed by seed as
    ``clip_grad_norm_(max_norm=MAX_NORM)`` scales one model's."""
    norms = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads.values()]).sum(0).sqrt()
    scale = (MAX_NORM / (norms + 1e-6)).clamp(max=1.0)  # [S]
    for name, w in params.items():
        w.grad = grads[name] * scale.view(-1, *([1] * (w.dim() - 1)))


def batched_step(model_name: str, seq_length: int, seeds: int, how: str,
                 ) -> tuple[Callable[[], None], dict[str, torch.Tensor]]:
    """``seeds`` cells' training steps as one step of a batched model (``how``: ``vmap`` or
    ``bmm``): weights stacked ``[S, ...]``, each seed its own batch and its own clipping; one
    RMSprop over the stack. Returns the step and the stacked weights it updates (seed s
    starts from ``torch.manual_seed(s)``'s model)."""
    members = []
    for s in range(seeds):
        torch.manual_seed(s)
        members.append(MODELS[model_name](seq_length - 1, 1, HIDDEN, CLASSES))
    params, buffers = stack_module_state(members)
    params = {k: v.detach().requires_grad_() for k, v in params.items()}
    base = members[0].to("meta")
    batches = [_batch(seq_length, s) for s in range(seeds)]
    xs, ys = torch.stack([b[0] for b in batches]), torch.stack([b[1] for b in batches])
    opt = torch.optim.RMSprop(list(params.values()), lr=LR)

    def loss_of(p: dict, b: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(base, (p, b), (x,)), y)

    grads_of = torch.vmap(grad_and_value(loss_of), in_dims=(0, 0, 0, 0))

    def step() -> None:
        if how == "vmap":
            grads, _ = grads_of(params, buffers, xs, ys)
        else:  # the sum of the seeds' mean losses: each seed's gradient is its own loss's
            logits = stacked_logits(model_name, params, xs)
            loss = F.cross_entropy(logits.flatten(0, 1), ys.flatten(), reduction="sum")
            names = list(params)
            grads = dict(zip(names, torch.autograd.grad(loss / BATCH,
                                                        [params[n] for n in names]),
                             strict=True))
        _clip_per_seed(params, grads)
        opt.step()
    return step, params


def measure(model_name: str, seq_length: int, seeds: int, repeats: int, bf16: bool) -> dict:
    """The row of one model at one length: ms per step and per seed of each variant."""
    fp32 = best_ms(single_step(model_name, seq_length, False), repeats)
    row = {"model": model_name, "seq_length": seq_length, "fp32_ms": round(fp32, 2)}
    if bf16:
        ms = best_ms(single_step(model_name, seq_length, True), repeats)
        row.update(bf16_ms=round(ms, 2), bf16_speedup=round(fp32 / ms, 2))
    for how in ("vmap", "bmm"):
        ms = best_ms(batched_step(model_name, seq_length, seeds, how)[0], repeats) / seeds
        row.update({f"{how}_ms_per_seed": round(ms, 2), f"{how}_speedup": round(fp32 / ms, 2)})
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="10,20,40", help="palindrome lengths T, comma-"
                        "separated")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the batched model")
    parser.add_argument("--repeats", type=int, default=20, help="steps per timing round")
    parser.add_argument("--write", action="store_true", help=f"store the table in {OUT}")
    args = parser.parse_args(argv)
    lengths = [int(t) for t in args.lengths.split(",")]
    bf16 = cpu_has_bf16()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread per cell, as the sweep trains them
    try:
        rows = []
        for t in lengths:
            for name in MODELS:
                row = measure(name, t, args.seeds, args.repeats, bf16)
                rows.append(row)
                print(", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    finally:
        torch.set_num_threads(threads)
    if args.write:
        write_json(OUT, {"benchmark": "recurrent_step", "batch": BATCH, "hidden": HIDDEN,
                         "threads": 1, "seeds_batched": args.seeds, "rows": rows,
                         **measured_here("benchmarks/recurrent_step.py", argv)})
        print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
