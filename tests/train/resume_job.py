"""A small training job for the exact-resume test, run in a subprocess.

    python resume_job.py CKPT_DIR OUT_JSON [--kill-at STEP] [--resume] [--checkpoint-every N]

Random 8x8 RGB "images" of 4 classes, an MLP with dropout, shuffling, random crop + flip and a
OneCycle schedule: every source of randomness exact resume must restore. With ``--kill-at`` the
process SIGKILLs itself right after that training step (no clean shutdown of any kind).
"""

import argparse
import json
import os
import signal

import numpy as np
import torch

from neuralab.system import seed_everything
from neuralab.train import TensorLoader, Trainer, TrainSettings, image_transform


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("ckpt")
    p.add_argument("out")
    p.add_argument("--kill-at", type=int, default=None)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--checkpoint-every", type=int, default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    seed_everything(7)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(600, 8, 8, 3), dtype=np.uint8)
    y = (x[:, :4, :4].mean(axis=(1, 2, 3)) // 64).astype(np.int64).clip(0, 3)
    train_tf = image_transform((0.5,) * 3, (0.25,) * 3, crop_padding=1, flip=True)
    eval_tf = image_transform((0.5,) * 3, (0.25,) * 3)
    train = TensorLoader(x[:500], y[:500], 32, shuffle=True, seed=7, transform=train_tf)
    val = TensorLoader(x[500:], y[500:], 50, transform=eval_tf)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 64), torch.nn.ReLU(),
                                torch.nn.Dropout(0.3), torch.nn.Linear(64, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=len(train) * 4)
    trainer = Trainer(model, opt, train, val_loader=val, scheduler=sched, checkpoint_dir=args.ckpt,
                      settings=TrainSettings(max_epochs=4, eval_every=5, show_progress=False,
                                             checkpoint_every=args.checkpoint_every))
    if args.kill_at is not None:
        step = trainer.train_step

        def step_then_maybe_die(xb, yb):
            step(xb, yb)
            if trainer.step == args.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

        trainer.train_step = step_then_maybe_die
    history = trainer.fit(resume=args.resume)
    final = trainer.evaluate(val)
    weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    with open(args.out, "w") as f:
        json.dump({"final": final, "steps": trainer.step,
                   "history": [{k: v for k, v in r.items() if k != "time_s"} for r in history],
                   "weights_sum": float(weights.double().sum()),
                   "weights_abs": float(weights.double().abs().sum())}, f)


if __name__ == "__main__":
    main()
