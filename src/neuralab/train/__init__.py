"""Training: the Trainer loop, in-memory loaders, checkpoints, metrics and DDP glue."""

from neuralab.train.checkpoint import load_weights, save_weights
from neuralab.train.loader import TensorLoader, image_transform
from neuralab.train.metrics import compute_loss_and_accuracy, predict
from neuralab.train.optim import check_names, make_optimizer, make_scheduler
from neuralab.train.trainer import NonFiniteLoss, Trainer, TrainSettings

__all__ = ["NonFiniteLoss", "TensorLoader", "TrainSettings", "Trainer", "check_names",
           "compute_loss_and_accuracy", "image_transform", "load_weights", "make_optimizer",
           "make_scheduler", "predict", "save_weights"]
