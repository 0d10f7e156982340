"""AdaBN (Li et al., 2016): re-estimate batch-norm statistics on target data, so the model normalizes like it."""

from __future__ import annotations

from collections.abc import Callable

import torch
from accelerate import Accelerator
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import DataLoader
from tqdm.auto import tqdm


def named_batch_norms(model: nn.Module, tracking: bool = False) -> list[tuple[str, _BatchNorm]]:
    """Every batch-norm layer of ``model`` with its name; ``tracking``: only those keeping running statistics."""
    return [(n, m) for n, m in model.named_modules()
            if isinstance(m, _BatchNorm) and (m.track_running_stats or not tracking)]  # fmt: skip


def batch_norm_layers(model: nn.Module) -> list[_BatchNorm]:
    """The batch-norm layers that keep running statistics (what re-estimation updates)."""
    return [m for _, m in named_batch_norms(model, tracking=True)]


@torch.no_grad()
def recompute_batch_norm(
    model: nn.Module, dataset, collate: Callable, accelerator: Accelerator, batch_size: int
) -> int:
    """Replace every batch-norm layer's running mean/variance by their average over ``dataset``.

    Only batch-norm layers run in training mode (dropout and the rest stay in eval); weights do not change.
    Each process averages over its shard, then the statistics are averaged across processes. Returns the
    number of layers updated (0: the model has no batch norm, nothing is done).
    """
    layers = batch_norm_layers(model)
    if not layers:
        return 0
    was_training = model.training
    model.eval()
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative moving average: every batch counts equally
        layer.train()
    loader = accelerator.prepare_data_loader(DataLoader(dataset, batch_size=batch_size, collate_fn=collate))
    for batch in tqdm(loader, desc="target batch norm", disable=not accelerator.is_local_main_process, leave=False):
        model(**{k: v for k, v in batch.items() if k != "labels"})
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum
        if accelerator.num_processes > 1:
            layer.running_mean.copy_(accelerator.reduce(layer.running_mean, reduction="mean"))
            layer.running_var.copy_(accelerator.reduce(layer.running_var, reduction="mean"))
    model.train(was_training)
    return len(layers)
