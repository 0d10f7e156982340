"""``adversarial``: joint training on labeled source and unlabeled target batches, aligning head-input features.

Methods: ``dann`` (gradient reversal + domain discriminator), ``cdan`` (discriminator on prediction x feature,
optionally entropy-conditioned and randomized), ``mmd`` (multi-kernel Gaussian MMD) and ``coral`` (covariance
alignment). What trains composes: the whole model, a PEFT adapter + head, or (``encoder: frozen``) the tail of
the network on cached features.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field, model_validator
from torch import nn

from hftl import losses
from hftl.modeling import find_head
from hftl.strategies.base import Batch, RunContext, TrainData, split_labels
from hftl.strategies.finetune import FinetuneConfig, FinetuneStrategy
from hftl.strategies.frozen import CachedFeatures, FeatureLevel
from hftl.strategies.registry import register

#: Above this many joint dimensions CDAN uses the randomized multilinear map unless told otherwise.
CDAN_RANDOMIZE_ABOVE = 4096


class AdversarialConfig(FinetuneConfig):
    name: Literal["adversarial"] = "adversarial"
    method: Literal["dann", "cdan", "mmd", "coral"] = "dann"
    weight: float = Field(1.0, ge=0, description="weight of the alignment loss")
    schedule: Literal["ganin", "constant"] = Field("ganin", description="lambda(p) = 2/(1+exp(-gamma p))-1, or 1")
    gamma: float = Field(10.0, gt=0)
    align_start: float = Field(0.0, ge=0, lt=1, description="training progress before which lambda stays 0")
    discriminator_hidden: int = Field(1024, gt=0)
    entropy_conditioning: bool = Field(False, description="CDAN+E: weight examples by prediction certainty")
    randomized: bool | None = Field(None, description="CDAN random multilinear map; default: when F*C > 4096")
    randomized_dim: int = Field(1024, gt=0)
    kernel_multipliers: list[float] = Field([0.25, 0.5, 1.0, 2.0, 4.0], min_length=1)
    encoder: Literal["train", "frozen"] = Field("train", description="frozen: train the tail on cached features")
    features: FeatureLevel = Field("pooler_input", description="with encoder: frozen, where features are cached")
    encode_batch_size: int = Field(64, gt=0)

    @model_validator(mode="after")
    def _compatible(self) -> AdversarialConfig:
        if self.encoder == "frozen" and self.peft is not None:
            raise ValueError("peft adapts the encoder; it cannot be combined with encoder: frozen")
        if self.encoder == "frozen" and self.features == "head_input":
            raise ValueError("encoder: frozen with features: head_input leaves nothing to align; use pooler_input")
        return self


def feature_dim(model: nn.Module) -> int:
    """Width of the head input: the ``in_features`` of the head's first Linear layer."""
    _, head = find_head(model)
    linear = next((m for m in head.modules() if isinstance(m, nn.Linear)), None)
    if linear is None:
        raise ValueError(f"cannot find a Linear layer in the head of {type(model).__name__}")
    return linear.in_features


@register(AdversarialConfig)
class AdversarialStrategy(CachedFeatures, FinetuneStrategy):
    """Source classification loss + weight x alignment loss between source and target features."""

    def __init__(self, config: AdversarialConfig, model) -> None:
        super().__init__(config, model)
        if config.encoder == "frozen":
            self._freeze_to(config.features)
        dim, classes = feature_dim(model), model.config.num_labels
        self.mapping = None
        if config.method in ("dann", "cdan"):
            in_dim = dim
            if config.method == "cdan":
                randomized = (
                    config.randomized if config.randomized is not None else dim * classes > CDAN_RANDOMIZE_ABOVE
                )
                if randomized:
                    self.mapping = losses.RandomizedMultilinearMap(dim, classes, config.randomized_dim)
                in_dim = config.randomized_dim if randomized else dim * classes
            self.discriminator = losses.DomainDiscriminator(in_dim, config.discriminator_hidden)

    def train_data(self, ctx: RunContext) -> TrainData:
        labeled = self.labeled_data(ctx) if self._level is not None else super().train_data(ctx)
        target = self._features(ctx, "target_train") if self._level is not None else ctx.data.splits["target_train"]
        return TrainData(labeled.source, labeled.collate, target, labeled.sample_weights)

    def lambda_at(self, progress: float) -> float:
        """0 before ``align_start``; then the Ganin curve (or 1) over the remaining progress."""
        start = self.config.align_start
        if progress < start:
            return 0.0
        if self.config.schedule == "constant":
            return 1.0
        return losses.ganin_schedule((progress - start) / (1 - start), self.config.gamma)

    def alignment(self, f_s, f_t, logits_s, logits_t, coeff: float) -> tuple[torch.Tensor, dict]:
        method = self.config.method
        if method == "dann":
            return losses.dann_loss(self.discriminator, f_s, f_t, coeff)
        if method == "cdan":
            return losses.cdan_loss(self.discriminator, f_s, f_t, logits_s, logits_t, coeff, self.mapping,
                                    self.config.entropy_conditioning)  # fmt: skip
        if method == "mmd":
            loss, logs = losses.gaussian_mmd(f_s, f_t, self.config.kernel_multipliers)
        else:
            loss, logs = losses.coral(f_s, f_t)
        return coeff * loss, logs

    def forward(self, source: Batch, target: Batch | None = None, progress: float = 0.0) -> dict[str, torch.Tensor]:
        inputs, labels = split_labels(source)
        target_inputs = split_labels(target)[0]
        cls, f_s, logits_s, joint_target = self.supervised_loss(inputs, labels, unlabeled=target_inputs)
        f_t, logits_t = joint_target or self.features_and_logits(target_inputs)
        coeff = self.lambda_at(progress)
        align, logs = self.alignment(f_s, f_t, logits_s, logits_t, coeff)
        out = {"loss": cls + self.config.weight * align, "cls_loss": cls.detach(), "align_loss": align.detach(),
               "lambda": torch.tensor(coeff)}  # fmt: skip
        out.update(logs)
        return out
