"""A tiny DDP training job for tests/train/test_ddp.py (run under torchrun, or alone).

    python -m torch.distributed.run --nproc_per_node 2 --standalone ddp_job.py OUT_DIR \\
        [--steps K] [--batch B] [--die-rank R --die-at S] [--resume] [--checkpoint-every N]

Float64 regression-free classification with a Tanh MLP and plain SGD (no batch-norm, no
dropout, no augmentation), so DDP with global batch B must follow the single-process
trajectory with batch B up to summation order. Rank 0 writes ``OUT_DIR/result.json`` with the
final parameters and the all-reduced evaluation; ``--die-rank`` SIGKILLs one rank mid-run.
"""

import argparse
import json
import os
import signal
from pathlib import Path

import numpy as np
import torch

from neuralab.train import TensorLoader, Trainer, TrainSettings, compute_loss_and_accuracy
from neuralab.train.distributed import current, exit_worker, init_from_env, shutdown


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--die-rank", type=int, default=None)
    p.add_argument("--die-at", type=int, default=None)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--checkpoint-every", type=int, default=None)
    p.add_argument("--timeout", type=float, default=30.0)
    args = p.parse_args()
    torch.set_num_threads(1)
    info = init_from_env("cpu", timeout_s=args.timeout)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(np.int64) + (x[:, 3] > 1)
    train = TensorLoader(x[:160], y[:160], args.batch // info.world_size, shuffle=True, seed=3,
                         rank=info.rank, world_size=info.world_size)
    val = TensorLoader(x[160:], y[160:], 7, rank=info.rank, world_size=info.world_size)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(),
                                torch.nn.Linear(16, 3)).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    out = Path(args.out)
    trainer = Trainer(model, opt, train, val_loader=val, checkpoint_dir=out / "ckpt",
                      settings=TrainSettings(max_steps=args.steps, eval_every=2,
                                             checkpoint_every=args.checkpoint_every,
                                             show_progress=False))
    if args.die_rank is not None:
        step = trainer.train_step

        def step_then_maybe_die(xb, yb):
            step(xb, yb)
            if info.rank == args.die_rank and trainer.step == args.die_at:
                os.kill(os.getpid(), signal.SIGKILL)

        trainer.train_step = step_then_maybe_die
    trainer.fit(resume=args.resume)
    evaluation = compute_loss_and_accuracy(val, trainer.module)
    if current().is_main:
        params = torch.cat([q.detach().flatten() for q in trainer.module.parameters()])
        (out / "result.json").write_text(json.dumps({
            "params": params.tolist(), "eval": evaluation, "world_size": info.world_size,
            "history": [{k: v for k, v in r.items() if k != "time_s"} for r in trainer.history],
        }))
    shutdown()
    exit_worker(0)


if __name__ == "__main__":
    main()
