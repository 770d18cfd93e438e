"""Experiments on scikit-learn's bundled 8x8 digits: the offline demo data.

``digits-mlp-torch``: a small PyTorch MLP (64-128-10, ReLU), Adam, 30 epochs. Target >= 0.95
test accuracy: scikit-learn's own "Recognizing hand-written digits" example reaches about 0.97
with an SVC trained on half of the data, so a small MLP trained on 70% should clear 0.95.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neuralab.experiments.common import classifier_result, split_loader
from neuralab.experiments.registry import Target, experiment
from neuralab.models.mlp import MLP
from neuralab.train import Trainer, TrainSettings, image_transform


@dataclass
class DigitsMLPConfig:
    hidden_units: tuple[int, ...] = (128,)  # ReLU hidden layer widths; empty = linear classifier
    learning_rate: float = 1e-3  # Adam
    batch_size: int = 64
    epochs: int = 30
    weight_decay: float = 1e-4


@experiment(
    "digits-mlp-torch", topic="demo", handout="spine: offline demo (scikit-learn digits)",
    config=DigitsMLPConfig, tags=("demo",),
    target=Target("test_accuracy", 0.95, "scikit-learn 'Recognizing hand-written digits' "
                  "example: SVC reaches ~0.97 on a 50% split"),
)
def run_digits_mlp(cfg: DigitsMLPConfig, ctx) -> object:
    """Small MLP on the 8x8 digits, trained with Adam."""
    data = ctx.load_data("digits")
    tf = image_transform(mean=(0.5,), std=(0.5,))
    loaders = {name: split_loader(data.splits[name], cfg.batch_size, train=False, seed=ctx.seed,
                                  device=ctx.device, transform=tf) for name in data.splits}
    train = split_loader(data.splits["train"], cfg.batch_size, train=True, seed=ctx.seed,
                         device=ctx.device, transform=tf)
    model = MLP(64, list(cfg.hidden_units), 10, activation="relu")
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate,
                           weight_decay=cfg.weight_decay)
    trainer = Trainer(model, opt, train, val_loader=loaders.get("val"), device=ctx.device,
                      settings=TrainSettings(max_epochs=cfg.epochs, show_progress=False),
                      checkpoint_dir=ctx.checkpoint_dir, log=ctx.log)
    trainer.fit(resume=ctx.resume)
    return classifier_result(ctx, trainer, loaders, data.classes, "digits MLP (PyTorch)")
