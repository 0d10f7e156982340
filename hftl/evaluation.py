"""Run a strategy's ``predict`` over evaluation splits, gathering each example exactly once."""

from __future__ import annotations

import numpy as np
import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from hftl.metrics import classification_metrics
from hftl.strategies.base import RunContext, Strategy


@torch.no_grad()
def predict_split(strategy: Strategy, dataset, collate, accelerator: Accelerator, batch_size: int, desc: str = ""):
    """(logits, labels) for every row of ``dataset``, in order."""
    loader = accelerator.prepare_data_loader(DataLoader(dataset, batch_size=batch_size, collate_fn=collate))
    module = accelerator.unwrap_model(strategy)
    was_training = module.training
    module.eval()
    logits, labels = [], []
    for batch in tqdm(loader, desc=desc or "eval", disable=not accelerator.is_local_main_process, leave=False):
        with accelerator.autocast():
            out = module.predict(batch)
        logits.append(accelerator.gather_for_metrics(out.float().contiguous()).cpu())
        labels.append(accelerator.gather_for_metrics(batch["labels"]).cpu())
    module.train(was_training)
    return torch.cat(logits).numpy(), torch.cat(labels).numpy()


def evaluate(strategy: Strategy, ctx: RunContext, splits: list[str] | None = None) -> dict[str, float]:
    """``{split}/accuracy`` and ``{split}/f1`` for each evaluation split."""
    training = ctx.recipe.training
    batch_size = training.eval_batch_size or 2 * training.batch_size
    metrics: dict[str, float] = {}
    for split in splits or ctx.data.eval_names:
        dataset, collate = ctx.accelerator.unwrap_model(strategy).eval_data(ctx, split)
        logits, labels = predict_split(strategy, dataset, collate, ctx.accelerator, batch_size, f"eval {split}")
        scores = classification_metrics(np.argmax(logits, axis=-1), labels, len(ctx.data.label_names))
        metrics.update({f"{split}/{name}": value for name, value in scores.items()})
    return metrics
