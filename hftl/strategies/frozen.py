"""``frozen``: the pretrained encoder stays fixed; only the head trains, on features cached once per split."""

from __future__ import annotations

import copy
from typing import Literal

import torch
from datasets import Dataset
from pydantic import Field

from hftl.features import FeatureDataset, collate_features, encode
from hftl.modeling import FeaturePoint, feature_point, set_trainable
from hftl.strategies.base import Batch, RunContext, StrategyConfig, SupervisedStrategy, TrainData
from hftl.strategies.registry import register

FeatureLevel = Literal["head_input", "pooler_input"]


class FrozenConfig(StrategyConfig):
    name: Literal["frozen"] = "frozen"
    features: FeatureLevel = Field(
        "head_input", description="cache the head input (train the head) or a BERT pooler's input (pooler + head)"
    )
    encode_batch_size: int = Field(64, gt=0, description="batch size for the one-time feature encoding")


def split_features(ctx: RunContext, model: torch.nn.Module, point: FeaturePoint, split: str, batch_size: int):
    """Cached features of one split at ``point`` (computed on first use, then from memory or disk)."""
    ds: Dataset = ctx.data.splits[split]
    parts = {
        "model": ctx.model_key, "data": ds._fingerprint, "inputs": ctx.inputs_key,
        "feature": point.level, "precision": ctx.recipe.training.mixed_precision,
    }  # fmt: skip
    tensors = ctx.feature_cache.get(
        parts,
        lambda: {
            "features": encode(model, point.source, ds, ctx.collate, ctx.accelerator, batch_size, f"encode {split}")
        },
    )
    labels = torch.tensor(ds["labels"]) if "labels" in ds.column_names else None
    return FeatureDataset(tensors["features"], labels)


class CachedFeatures:
    """Mixin: train and evaluate on cached features through the model's own tail modules (encoder frozen).

    Active once ``_freeze_to(level)`` was called; until then every method defers to the next class.
    """

    _level: str | None = None
    point: FeaturePoint | None = None  # a plain attribute: the model alone registers these modules

    @property
    def uses_cached_features(self) -> bool:
        return self._level is not None

    def _freeze_to(self, level: str) -> None:
        self._level = level
        self.point = feature_point(self.model, level)
        set_trainable(self.model, False)
        for module in self.point.modules:
            set_trainable(module, True)

    def _features(self, ctx: RunContext, split: str) -> FeatureDataset:
        return split_features(ctx, self.model, self.point, split, self.config.encode_batch_size)

    def labeled_data(self, ctx: RunContext) -> TrainData:
        """Cached features of every labeled training split, with the recipe's class weights and sampler."""
        parts = [self._features(ctx, s) for s in self.labeled_splits(ctx)]
        labeled = FeatureDataset(torch.cat([p.features for p in parts]), torch.cat([p.labels for p in parts]))
        sampling = self.configure_training(ctx, labeled.labels.tolist())
        if ctx.recipe.augment.standardize_features:
            mean, std = labeled.features.mean(0), labeled.features.std(0).clamp_min(1e-6)
            self.register_buffer("feature_mean", mean, persistent=False)
            self.register_buffer("feature_std", std, persistent=False)
        return TrainData(labeled, collate_features, sample_weights=sampling)

    def _standardized(self, x: torch.Tensor) -> torch.Tensor:
        mean = getattr(self, "feature_mean", None)
        return x if mean is None else (x - mean) / self.feature_std

    def eval_data(self, ctx: RunContext, split: str):
        if self._level is None:
            return super().eval_data(ctx, split)
        return self._features(ctx, split), collate_features

    def features_and_logits(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        if self._level is None:
            return super().features_and_logits(batch)
        return self.point.tail(self._standardized(batch["features"]))

    def predict(self, batch: Batch) -> torch.Tensor:
        if self._level is None:
            return super().predict(batch)
        return self.features_and_logits(batch)[1]

    def export_model(self, merge: bool = False):
        """With standardized features, fold (x - mean) / std into the tail's first Linear layer of a copy."""
        model = super().export_model(merge)
        mean = getattr(self, "feature_mean", None)
        if self._level is None or mean is None:
            return model
        model = copy.deepcopy(model)
        first = feature_point(model, self._level).modules[0]
        with torch.no_grad():
            scaled = first.weight / self.feature_std
            first.bias.sub_(scaled @ mean)
            first.weight.copy_(scaled)
        return model


@register(FrozenConfig)
class FrozenStrategy(CachedFeatures, SupervisedStrategy):
    """Linear probe (or pooler + head) on features the frozen encoder computes once."""

    def __init__(self, config: FrozenConfig, model) -> None:
        super().__init__(config, model)
        self._freeze_to(config.features)

    def train_data(self, ctx: RunContext) -> TrainData:
        return self.labeled_data(ctx)
