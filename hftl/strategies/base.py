"""The Strategy contract: a typed config plus an ``nn.Module`` whose ``forward`` returns the loss."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from datasets import concatenate_datasets
from torch import nn
from transformers import PreTrainedModel

from hftl.losses import classification_loss
from hftl.recipe_types import Section

if TYPE_CHECKING:
    from accelerate import Accelerator

    from hftl.data import DomainData
    from hftl.feature_cache import FeatureCache
    from hftl.recipe import Recipe, TrainingSection

Batch = dict[str, torch.Tensor]
NO_DECAY = re.compile(r"bias$|LayerNorm\.weight$|layer_norm\.weight$|norm\.weight$")


class StrategyConfig(Section):
    """Base for each strategy's options; ``name`` is the registry key."""

    name: str


@dataclass
class TrainData:
    """What the loop iterates: labeled source examples, optionally unlabeled target examples."""

    source: Any
    collate: Callable[[list[dict]], Batch]
    target: Any | None = None


@dataclass
class RunContext:
    """Everything a strategy may read while setting up: recipe, processed splits, accelerator, cache."""

    recipe: Recipe
    data: DomainData
    collate: Callable[[list[dict]], Batch]
    accelerator: Accelerator
    feature_cache: FeatureCache
    model_key: str
    run_dir: Path | None = None
    resuming: bool = False
    fit: Callable[..., Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)


def split_labels(batch: Batch) -> tuple[Batch, torch.Tensor | None]:
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    return inputs, batch.get("labels")


def param_groups(
    named: Sequence[tuple[str, nn.Parameter]],
    lr: float,
    weight_decay: float,
    lr_scale: Callable[[str], float] | None = None,
) -> list[dict]:
    """AdamW groups: no weight decay on biases and norms, optional per-parameter LR scale."""
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    for name, param in named:
        if not param.requires_grad:
            continue
        scale = lr_scale(name) if lr_scale else 1.0
        decay = 0.0 if NO_DECAY.search(name) else weight_decay
        groups.setdefault((lr * scale, decay), []).append(param)
    return [{"params": ps, "lr": g_lr, "weight_decay": wd} for (g_lr, wd), ps in groups.items()]


class Strategy(nn.Module):
    """A transfer strategy. The loop calls ``strategy(source, target, progress)`` and logs every scalar."""

    config_class: ClassVar[type[StrategyConfig]]

    def __init__(self, config: StrategyConfig, model: PreTrainedModel) -> None:
        super().__init__()
        self.config = config
        self.model = model

    def train_data(self, ctx: RunContext) -> TrainData:
        raise NotImplementedError

    def eval_data(self, ctx: RunContext, split: str) -> tuple[Any, Callable]:
        """The dataset and collate function ``predict`` consumes for one evaluation split."""
        return ctx.data.splits[split], ctx.collate

    def forward(self, source: Batch, target: Batch | None = None, progress: float = 0.0) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def predict(self, batch: Batch) -> torch.Tensor:
        """Logits for an evaluation batch (labels, if present, are ignored)."""
        inputs, _ = split_labels(batch)
        return self.model(**inputs).logits

    def param_groups(self, training: TrainingSection) -> list[dict]:
        return param_groups(list(self.named_parameters()), training.learning_rate, training.weight_decay)

    def warm_start(self, ctx: RunContext) -> None:
        """Optional stage before the main loop (e.g. a linear probe for LP-FT)."""

    def export_model(self) -> PreTrainedModel:
        """The plain transformers model to save."""
        return self.model


class SupervisedStrategy(Strategy):
    """Cross-entropy on labeled source examples (plus few-shot labeled target examples when given)."""

    def train_data(self, ctx: RunContext) -> TrainData:
        splits = ctx.data.splits
        labeled = [splits["source_train"]] + ([splits["target_labeled"]] if "target_labeled" in splits else [])
        return TrainData(source=concatenate_datasets(labeled), collate=ctx.collate)

    def forward(self, source: Batch, target: Batch | None = None, progress: float = 0.0) -> dict[str, torch.Tensor]:
        inputs, labels = split_labels(source)
        return {"loss": classification_loss(self.predict(inputs), labels)}
