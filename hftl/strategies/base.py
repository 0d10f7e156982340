"""The Strategy contract: a typed config plus an ``nn.Module`` whose ``forward`` returns the loss."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import torch
from datasets import concatenate_datasets
from torch import nn
from transformers import PreTrainedModel

from hftl import imbalance
from hftl.augment import embedding_adversarial_loss, mixup_loss, perturbed_embeddings
from hftl.losses import classification_loss
from hftl.modeling import capture_head_input, find_head, flat_features
from hftl.recipe_types import Section

if TYPE_CHECKING:
    from accelerate import Accelerator

    from hftl.data import DomainData
    from hftl.feature_cache import FeatureCache
    from hftl.recipe import AugmentSection, Recipe, TrainingSection

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
    sample_weights: torch.Tensor | None = None


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
    train_collate: Callable[[list[dict]], Batch] | None = None  # with training augmentation; default: collate
    inputs_key: str = ""  # identifies the preprocessing (max_length, image processor settings) for feature caches
    timings: dict[str, float] = field(default_factory=dict)


def split_labels(batch: Batch) -> tuple[Batch, torch.Tensor | None]:
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    return inputs, batch.get("labels")


def joinable(first: Batch, second: Batch) -> Batch | None:
    """The two batches concatenated along the batch dimension, or None when their keys or shapes differ."""
    if first.keys() != second.keys() or any(first[k].shape[1:] != second[k].shape[1:] for k in first):
        return None
    return {k: torch.cat([first[k], second[k]]) for k in first}


class Supervised(NamedTuple):
    """What ``supervised_loss`` returns; ``unlabeled`` holds (features, logits) of a jointly forwarded batch."""

    loss: torch.Tensor
    features: torch.Tensor
    logits: torch.Tensor
    unlabeled: tuple[torch.Tensor, torch.Tensor] | None = None


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

    @property
    def uses_cached_features(self) -> bool:
        """True when training and evaluation run on cached encoder features (the encoder never runs)."""
        return False

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

    def features_and_logits(self, inputs: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(head-input features, logits), differentiable: what alignment losses work on."""
        with capture_head_input(self.model, detach=False) as captured:
            logits = self.model(**inputs).logits
        features = captured[-1]
        return flat_features(features), logits

    def param_groups(self, training: TrainingSection) -> list[dict]:
        return param_groups(list(self.named_parameters()), training.learning_rate, training.weight_decay)

    def warm_start(self, ctx: RunContext) -> None:
        """Optional stage before the main loop (e.g. a linear probe for LP-FT)."""

    def export_model(self, merge: bool = False) -> PreTrainedModel:
        """The transformers model to save (``merge`` folds adapters into the weights where there are any)."""
        return self.model


class SupervisedStrategy(Strategy):
    """Cross-entropy on labeled source examples (plus few-shot labeled target examples when given).

    ``configure_training`` (called from ``train_data``) sets class weights and the recipe's augmentations;
    ``supervised_loss`` applies them and is shared by every strategy built on this one.
    """

    augment: AugmentSection | None = None

    def configure_training(self, ctx: RunContext, labels) -> Any:
        """Class weights and augmentations from the recipe; returns per-example sampler weights (or None)."""
        training, classes = ctx.recipe.training, len(ctx.data.label_names)
        weights = imbalance.class_weights(labels, classes, training.class_weights)
        self.register_buffer("class_weight", weights, persistent=False)
        self.augment = ctx.recipe.augment
        return imbalance.sample_weights(labels, classes, training.sampler)

    def labeled_splits(self, ctx: RunContext) -> list[str]:
        return [s for s in ("source_train", "target_labeled") if s in ctx.data.splits]

    def train_data(self, ctx: RunContext) -> TrainData:
        labeled = concatenate_datasets([ctx.data.splits[s] for s in self.labeled_splits(ctx)])
        sampling = self.configure_training(ctx, labeled["labels"])
        return TrainData(source=labeled, collate=ctx.train_collate or ctx.collate, sample_weights=sampling)

    def supervised_loss(self, inputs: Batch, labels: torch.Tensor, unlabeled: Batch | None = None) -> Supervised:
        """(loss, head-input features, logits) with class weights, mixup and embedding perturbation applied.

        With ``unlabeled`` inputs of the same shapes, both batches take one forward pass (so batch norm
        normalizes and tracks statistics over both domains, as in DANN's reference code) and the result's
        ``unlabeled`` holds their (features, logits).
        """
        augment, weight = self.augment, getattr(self, "class_weight", None)
        perturb = augment.embedding_perturbation if augment and "input_ids" in inputs else None
        joint = joinable(inputs, unlabeled) if unlabeled is not None and not perturb else None
        captured: list[torch.Tensor] = []
        with perturbed_embeddings(self.model, captured=captured) if perturb else nullcontext():
            features, logits = self.features_and_logits(joint or inputs)
        unlabeled_outputs = None
        if joint is not None:
            n = len(labels)
            unlabeled_outputs = features[n:], logits[n:]
            features, logits = features[:n], logits[:n]
        loss = classification_loss(logits, labels, weight)
        if perturb:
            extra = embedding_adversarial_loss(self.model, inputs, labels, captured[0], logits, loss, perturb.method,
                                               perturb.epsilon, weight)  # fmt: skip
        if augment and augment.mixup:
            loss = mixup_loss(find_head(self.model)[1], features, labels, augment.mixup.alpha, weight)
        if perturb:
            loss = loss + perturb.weight * extra
        return Supervised(loss, features, logits, unlabeled_outputs)

    def forward(self, source: Batch, target: Batch | None = None, progress: float = 0.0) -> dict[str, torch.Tensor]:
        inputs, labels = split_labels(source)
        return {"loss": self.supervised_loss(inputs, labels)[0]}
