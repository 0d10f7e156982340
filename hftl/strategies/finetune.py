"""``finetune``: every weight trains (or a PEFT adapter + the head), with layer-wise LR decay and LP-FT options."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from hftl.adapters import PeftSection, apply_peft
from hftl.modeling import find_head, set_trainable
from hftl.recipe_types import Section
from hftl.strategies.base import RunContext, StrategyConfig, SupervisedStrategy, param_groups
from hftl.strategies.frozen import FrozenConfig, FrozenStrategy
from hftl.strategies.registry import register

LAYER_INDEX = re.compile(r"\.(?:layer|layers|block|blocks|h)\.(\d+)\.")
EMBEDDINGS = re.compile(r"embed|stem")  # token/patch embeddings, a CNN's stem


class LinearProbeConfig(Section):
    """The probe stage of LP-FT: train the head alone on cached features before fine-tuning."""

    epochs: float = Field(5, gt=0)
    learning_rate: float = Field(1e-3, gt=0)


class FinetuneConfig(StrategyConfig):
    name: Literal["finetune"] = "finetune"
    layer_decay: float = Field(1.0, gt=0, le=1, description="LR multiplier per layer going down; 1 = off")
    head_lr_multiplier: float = Field(1.0, gt=0, description="LR multiplier for head, pooler and discriminator")
    lp_ft: LinearProbeConfig | None = None
    peft: PeftSection | None = None


def layer_depth(name: str, num_layers: int) -> int:
    """0 for embeddings (or a CNN stem), i+1 for block i, num_layers+1 for everything above (pooler, head)."""
    match = LAYER_INDEX.search(name)
    if match:
        return int(match.group(1)) + 1
    return 0 if EMBEDDINGS.search(name) else num_layers + 1


@register(FinetuneConfig)
class FinetuneStrategy(SupervisedStrategy):
    """Fine-tuning on labeled source (and few-shot target) examples: all weights, or an adapter + head."""

    def __init__(self, config: FinetuneConfig, model) -> None:
        super().__init__(config, model)
        set_trainable(self.model, True)
        if config.peft is not None:
            self.model = apply_peft(self.model, config.peft, find_head(model)[0])

    def param_groups(self, training) -> list[dict]:
        """Base LR for the head (x ``head_lr_multiplier``), ``layer_decay`` per layer going down the encoder."""
        decay, head_scale = self.config.layer_decay, self.config.head_lr_multiplier
        named = list(self.named_parameters())
        if decay == 1.0 and head_scale == 1.0:
            return param_groups(named, training.learning_rate, training.weight_decay)
        found = [int(m.group(1)) for n, _ in named if (m := LAYER_INDEX.search(n))]
        config = getattr(self.model, "config", None)
        num_layers = getattr(config, "num_hidden_layers", None) or (max(found) + 1 if found else 0)

        def scale(name: str) -> float:
            depth = layer_depth(name, num_layers)
            return decay ** (num_layers + 1 - depth) * (head_scale if depth > num_layers else 1.0)

        return param_groups(named, training.learning_rate, training.weight_decay, scale)

    def warm_start(self, ctx: RunContext) -> None:
        """LP-FT: fit the head on frozen features first (skipped when resuming the fine-tuning stage)."""
        probe = self.config.lp_ft
        if probe is None or ctx.resuming or ctx.fit is None:
            return
        trainable = {name: p.requires_grad for name, p in self.model.named_parameters()}
        stage = ctx.recipe.training.model_copy(
            update={"epochs": probe.epochs, "learning_rate": probe.learning_rate, "save_steps": 0, "eval_steps": 0,
                    "warmup_ratio": 0.0}
        )  # fmt: skip
        ctx.fit(FrozenStrategy(FrozenConfig(), self.model), ctx, stage, desc="linear probe")
        for name, param in self.model.named_parameters():
            param.requires_grad_(trainable[name])

    def export_model(self, merge: bool = False):
        """The model to save: plain, the PEFT adapter (with its head), or the adapter merged into the weights."""
        if merge and hasattr(self.model, "merge_and_unload"):
            import copy

            return copy.deepcopy(self.model).merge_and_unload()
        return self.model
