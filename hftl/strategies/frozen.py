"""``frozen``: the pretrained encoder stays fixed; only the classification head trains, on cached features."""

from __future__ import annotations

from typing import Literal

import torch
from datasets import Dataset
from pydantic import Field

from hftl.features import FeatureDataset, collate_features, encode
from hftl.modeling import find_head, set_trainable
from hftl.strategies.base import (
    Batch,
    RunContext,
    StrategyConfig,
    SupervisedStrategy,
    TrainData,
)
from hftl.strategies.registry import register


class FrozenConfig(StrategyConfig):
    name: Literal["frozen"] = "frozen"
    encode_batch_size: int = Field(64, gt=0, description="batch size for the one-time feature encoding")


def split_features(ctx: RunContext, model: torch.nn.Module, split: str, batch_size: int) -> FeatureDataset:
    """Cached head-input features of one split (computed on first use, then from memory or disk)."""
    ds: Dataset = ctx.data.splits[split]
    parts = {
        "model": ctx.model_key,
        "data": ds._fingerprint,
        "max_length": ctx.recipe.training.max_length,
        "feature": "head_input",
        "precision": ctx.recipe.training.mixed_precision,
    }
    tensors = ctx.feature_cache.get(
        parts, lambda: {"features": encode(model, ds, ctx.collate, ctx.accelerator, batch_size, f"encode {split}")}
    )
    labels = torch.tensor(ds["labels"]) if "labels" in ds.column_names else None
    return FeatureDataset(tensors["features"], labels)


@register(FrozenConfig)
class FrozenStrategy(SupervisedStrategy):
    """Linear probe (or any head) on features the frozen encoder computes once."""

    def __init__(self, config: FrozenConfig, model) -> None:
        super().__init__(config, model)
        self._head_name, head = find_head(model)
        set_trainable(model, False)
        set_trainable(head, True)

    @property
    def head(self) -> torch.nn.Module:
        """The model's own head module (not registered twice, so state dicts hold each tensor once)."""
        return getattr(self.model, self._head_name)

    def _features(self, ctx: RunContext, split: str) -> FeatureDataset:
        return split_features(ctx, self.model, split, self.config.encode_batch_size)

    def train_data(self, ctx: RunContext) -> TrainData:
        parts = [self._features(ctx, "source_train")]
        if "target_labeled" in ctx.data.splits:
            parts.append(self._features(ctx, "target_labeled"))
        features = torch.cat([p.features for p in parts])
        labels = torch.cat([p.labels for p in parts])
        return TrainData(source=FeatureDataset(features, labels), collate=collate_features)

    def eval_data(self, ctx: RunContext, split: str):
        return self._features(ctx, split), collate_features

    def predict(self, batch: Batch) -> torch.Tensor:
        return self.head(batch["features"])
