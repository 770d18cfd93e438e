"""Experiments on scikit-learn's bundled 8x8 digits: the offline demo data.

``digits-mlp-torch``: a small PyTorch MLP (64-128-10, ReLU), Adam, 30 epochs. Target >= 0.95
test accuracy: scikit-learn's own "Recognizing hand-written digits" example reaches about 0.97
with an SVC trained on half of the data, so a small MLP trained on 70% should clear 0.95.
``--set dataset=PATH`` trains it on an image folder instead (read as 8x8 gray images).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neuralab.experiments.common import classifier_result, split_loader
from neuralab.experiments.registry import Target, experiment
from neuralab.models.mlp import MLP
from neuralab.train import Trainer, TrainSettings, image_transform

SIZE = 8  # the MLP's inputs: 8x8 gray images, 64 values


@dataclass
class DigitsMLPConfig:
    dataset: str = "digits"  # digits, or PATH: an image folder PATH/<split>/<class>/*
    hidden_units: tuple[int, ...] = (128,)  # ReLU hidden layer widths; empty = linear classifier
    learning_rate: float = 1e-3  # Adam
    batch_size: int = 64
    epochs: int = 30
    weight_decay: float = 1e-4
    precision: str = "fp32"  # fp32 | bf16 | auto (CPU: bf16 where supported and faster)


def _load_options(cfg: DigitsMLPConfig) -> dict:
    from neuralab.data import load_options

    return load_options(cfg.dataset, native="digits", size=SIZE, mode="L")


def _model_args(cfg: DigitsMLPConfig, num_classes: int) -> dict:
    return {"n_inputs": SIZE * SIZE, "n_hidden": list(cfg.hidden_units),
            "num_classes": num_classes, "activation": "relu"}


def describe(cfg: DigitsMLPConfig, data_dir=None):
    """What a run of ``digits-mlp-torch`` trains (:mod:`neuralab.experiments.record`)."""
    from neuralab.data import Preprocess, info
    from neuralab.experiments.record import ModelRecord

    facts = info(cfg.dataset, data_dir=data_dir, **_load_options(cfg))
    mean, std = info("digits").normalization("half")
    return ModelRecord(model="mlp", args=_model_args(cfg, facts.num_classes),
                       classes=list(facts.classes), dataset=cfg.dataset,
                       dataset_options=_load_options(cfg),
                       preprocess=Preprocess(mean, std, size=SIZE, channels=1).to_dict())


@experiment(
    "digits-mlp-torch", topic="demo", handout="spine: offline demo (scikit-learn digits)",
    config=DigitsMLPConfig, tags=("demo",), describe=describe,
    target=Target("test_accuracy", 0.95, "scikit-learn 'Recognizing hand-written digits' "
                  "example: SVC reaches ~0.97 on a 50% split"),
)
def run_digits_mlp(cfg: DigitsMLPConfig, ctx) -> object:
    """Small MLP on the 8x8 digits, trained with Adam."""
    from neuralab.data import info

    data = ctx.load_data(cfg.dataset, **_load_options(cfg))
    tf = image_transform(*info("digits").normalization("half"))
    loaders = {name: split_loader(data.splits[name], cfg.batch_size, train=False, seed=ctx.seed,
                                  device=ctx.device, transform=tf) for name in data.splits}
    train = split_loader(data.splits["train"], cfg.batch_size, train=True, seed=ctx.seed,
                         device=ctx.device, transform=tf)
    model = MLP(**_model_args(cfg, len(data.classes)))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate,
                           weight_decay=cfg.weight_decay)
    trainer = Trainer(model, opt, train, val_loader=loaders.get("val"), device=ctx.device,
                      settings=TrainSettings(max_epochs=cfg.epochs, show_progress=False,
                                             precision=cfg.precision),
                      checkpoint_dir=ctx.checkpoint_dir, log=ctx.log)
    trainer.fit(resume=ctx.resume)
    return classifier_result(ctx, trainer, loaders, data.classes, "digits MLP (PyTorch)")
