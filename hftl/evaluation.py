"""Run a strategy's ``predict`` over evaluation splits, gathering each example exactly once."""

from __future__ import annotations

import numpy as np
import torch
from accelerate import Accelerator

from hftl.imbalance import is_imbalanced
from hftl.inference import run_batches
from hftl.metrics import classification_metrics, per_class_recall
from hftl.selection import soft_neighborhood_density
from hftl.strategies.base import RunContext, Strategy


def predict_split(strategy: Strategy, dataset, collate, accelerator: Accelerator, batch_size: int, desc: str = ""):
    """(logits, labels) as numpy arrays for every row of ``dataset``, in order."""
    module = accelerator.unwrap_model(strategy)
    was_training = module.training
    module.eval()

    def step(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        with accelerator.autocast():
            logits = module.predict(batch)
        out = {"logits": logits.float()}
        if "labels" in batch:
            out["labels"] = batch["labels"]
        return out

    out = run_batches(step, dataset, collate, accelerator, batch_size, desc or "eval")
    module.train(was_training)
    labels = out.get("labels")
    return out["logits"].numpy(), None if labels is None else labels.numpy()


def evaluate(strategy: Strategy, ctx: RunContext, splits: list[str] | None = None) -> dict[str, float]:
    """``{split}/accuracy`` and ``{split}/f1`` for each evaluation split."""
    training = ctx.recipe.training
    batch_size = training.eval_batch
    metrics: dict[str, float] = {}
    with_recall = reports_recall(ctx)
    for split in splits or ctx.data.eval_names:
        dataset, collate = ctx.accelerator.unwrap_model(strategy).eval_data(ctx, split)
        logits, labels = predict_split(strategy, dataset, collate, ctx.accelerator, batch_size, f"eval {split}")
        predictions = np.argmax(logits, axis=-1)
        scores = classification_metrics(predictions, labels, len(ctx.data.label_names))
        if with_recall:
            scores.update(per_class_recall(predictions, labels, ctx.data.label_names))
        metrics.update({f"{split}/{name}": value for name, value in scores.items()})
    if ctx.recipe.eval.label_free and splits is None:
        metrics["target_train/snd"] = label_free_score(strategy, ctx, batch_size)
    return metrics


def label_free_score(strategy: Strategy, ctx: RunContext, batch_size: int) -> float:
    """Soft neighborhood density of the predictions on the unlabeled target pool (no target labels involved)."""
    dataset, collate = ctx.accelerator.unwrap_model(strategy).eval_data(ctx, "target_train")
    logits, _ = predict_split(strategy, dataset, collate, ctx.accelerator, batch_size, "score target_train")
    return soft_neighborhood_density(logits, seed=ctx.recipe.data.split.seed)


def reports_recall(ctx: RunContext) -> bool:
    """Per-class recall is reported when the source labels are skewed or imbalance handling is on."""
    training = ctx.recipe.training
    if training.class_weights != "none" or training.sampler == "balanced":
        return True
    return is_imbalanced(ctx.data.splits["source_train"]["labels"], len(ctx.data.label_names))
