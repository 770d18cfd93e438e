"""Whole-split evaluation: loss and accuracy summed over every batch, all-reduced under DDP."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F

from neuralab.train.distributed import all_gather_object, all_reduce_sum


@torch.no_grad()
def compute_loss_and_accuracy(loader: Iterable, model: torch.nn.Module,
                              loss_fn: Callable = F.cross_entropy,
                              device: str | torch.device | None = None) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` over every sample ``loader`` yields.

    ``loss = sum_i loss_i / N`` and ``accuracy = #{argmax(f(x_i)) == y_i} / N``, with the sums
    all-reduced across DDP ranks (so every rank returns the same numbers). ``loss_fn`` must
    return the batch *mean* (it is re-weighted by the batch size).
    """
    was_training = model.training
    model.eval()
    device = device or next(model.parameters()).device
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss*n, correct, n
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        out = model(x)
        n = y.shape[0]
        sums[0] += loss_fn(out, y).double() * n
        if out.ndim == 2 and y.ndim == 1:
            sums[1] += (out.argmax(1) == y).sum()
        sums[2] += n
    sums = all_reduce_sum(sums)
    model.train(was_training)
    n = max(sums[2].item(), 1.0)
    return {"loss": sums[0].item() / n, "accuracy": sums[1].item() / n, "n": int(sums[2].item())}


@torch.no_grad()
def views_accuracy(loaders: list[Iterable], model: torch.nn.Module,
                   device: str | torch.device | None = None) -> float:
    """Test-time augmentation: accuracy of the mean softmax over several views of each sample.

    ``loaders`` yield the same samples in the same order, one view each (e.g. the images and
    their mirror images): ``p_i = sum_v softmax(f(x_i^v))``, accuracy ``#{argmax p_i == y_i} / N``,
    all-reduced under DDP like :func:`compute_loss_and_accuracy`.
    """
    was_training = model.training
    model.eval()
    device = device or next(model.parameters()).device
    sums = torch.zeros(2, dtype=torch.float64, device=device)  # correct, n
    for batches in zip(*loaders, strict=True):
        y = batches[0][1].to(device)
        if any(not torch.equal(b[1].to(device), y) for b in batches[1:]):
            raise ValueError("views_accuracy: the loaders yield different labels")
        p = sum(model(x.to(device)).softmax(1) for x, _ in batches)
        sums[0] += (p.argmax(1) == y).sum()
        sums[1] += y.shape[0]
    sums = all_reduce_sum(sums)
    model.train(was_training)
    return sums[0].item() / max(sums[1].item(), 1.0)


@torch.no_grad()
def predict(loader: Iterable, model: torch.nn.Module,
            device: str | torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted class, true label) for every sample of ``loader``, on the CPU.

    Under DDP each rank predicts its shard and the shards are gathered, so every rank
    returns the predictions for the whole split (in rank order, not the split's order).
    """
    was_training = model.training
    model.eval()
    device = device or next(model.parameters()).device
    preds, labels = [], []
    for x, y in loader:
        preds.append(model(x.to(device)).argmax(1).cpu())
        labels.append(y.cpu())
    model.train(was_training)
    shards = all_gather_object((torch.cat(preds), torch.cat(labels)))
    return torch.cat([p for p, _ in shards]), torch.cat([y for _, y in shards])
