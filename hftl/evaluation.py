"""Run a strategy's ``predict`` over evaluation splits, gathering each example exactly once."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from accelerate import Accelerator

from hftl.data import SOURCE_VAL
from hftl.imbalance import is_imbalanced
from hftl.inference import run_batches
from hftl.metrics import classification_metrics, per_class_recall
from hftl.selection import cross_entropy, deep_embedded_validation, soft_neighborhood_density
from hftl.strategies.base import RunContext, Strategy, split_labels


class Predictions(NamedTuple):
    logits: np.ndarray
    labels: np.ndarray | None  # None for unlabeled splits
    features: np.ndarray | None  # head-input features, when asked for


def predict_split(
    strategy: Strategy,
    dataset,
    collate,
    accelerator: Accelerator,
    batch_size: int,
    desc: str = "",
    with_features: bool = False,
) -> Predictions:
    """Logits (labels, head-input features) as numpy arrays for every row of ``dataset``, in order."""
    module = accelerator.unwrap_model(strategy)
    was_training = module.training
    module.eval()

    def step(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {}
        with accelerator.autocast():
            if with_features:
                features, logits = module.features_and_logits(split_labels(batch)[0])
                out["features"] = features.float()
            else:
                logits = module.predict(batch)
        out["logits"] = logits.float()
        if "labels" in batch:
            out["labels"] = batch["labels"]
        return out

    out = {
        k: v.numpy() for k, v in run_batches(step, dataset, collate, accelerator, batch_size, desc or "eval").items()
    }
    module.train(was_training)
    return Predictions(out["logits"], out.get("labels"), out.get("features"))


def evaluate(strategy: Strategy, ctx: RunContext, splits: list[str] | None = None) -> dict[str, float]:
    """``{split}/accuracy`` and ``{split}/f1`` for each evaluation split."""
    training = ctx.recipe.training
    batch_size = training.eval_batch
    metrics: dict[str, float] = {}
    with_recall = reports_recall(ctx)
    label_free = ctx.recipe.eval.label_free and splits is None
    kept: dict[str, Predictions] = {}
    for split in splits or ctx.data.eval_names:
        with_features = label_free and split == SOURCE_VAL
        kept[split] = predict(strategy, ctx, split, batch_size, f"eval {split}", with_features)
        predictions = np.argmax(kept[split].logits, axis=-1)
        scores = classification_metrics(predictions, kept[split].labels, len(ctx.data.label_names))
        if with_recall:
            scores.update(per_class_recall(predictions, kept[split].labels, ctx.data.label_names))
        metrics.update({f"{split}/{name}": value for name, value in scores.items()})
    if label_free:
        metrics.update(label_free_scores(strategy, ctx, batch_size, kept[SOURCE_VAL]))
    return metrics


def predict(strategy: Strategy, ctx: RunContext, split: str, batch_size: int, desc: str, with_features: bool = False):
    """``predict_split`` over one of the run's splits, with the strategy's own evaluation data."""
    dataset, collate = ctx.accelerator.unwrap_model(strategy).eval_data(ctx, split)
    return predict_split(strategy, dataset, collate, ctx.accelerator, batch_size, desc, with_features)


def label_free_scores(strategy: Strategy, ctx: RunContext, batch_size: int, source_val: Predictions) -> dict:
    """Scores for model selection that use no target labels: SND on the unlabeled target pool (higher is
    better) and DEV, the importance-weighted source validation loss (lower is better)."""
    target = predict(strategy, ctx, "target_train", batch_size, "score target_train", with_features=True)
    seed = ctx.recipe.data.split.seed
    losses = cross_entropy(source_val.logits, source_val.labels)
    return {
        "target_train/snd": soft_neighborhood_density(target.logits, seed=seed),
        "target_train/dev_risk": deep_embedded_validation(source_val.features, losses, target.features, seed=seed),
    }


def reports_recall(ctx: RunContext) -> bool:
    """Per-class recall is reported when the source labels are skewed or imbalance handling is on."""
    training = ctx.recipe.training
    if training.class_weights != "none" or training.sampler == "balanced":
        return True
    return is_imbalanced(ctx.data.splits["source_train"]["labels"], len(ctx.data.label_names))
