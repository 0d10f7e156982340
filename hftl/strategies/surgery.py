"""``surgery``: change the network (truncate, re-initialize, head dropout, fresh pooler, regex freezing), then train."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hftl import surgery
from hftl.errors import RecipeError
from hftl.strategies.finetune import FinetuneConfig, FinetuneStrategy
from hftl.strategies.registry import register


class SurgeryConfig(FinetuneConfig):
    name: Literal["surgery"] = "surgery"
    keep_layers: int | None = Field(None, gt=0, description="keep only the first K encoder layers")
    reinit_layers: int = Field(0, ge=0, description="re-initialize the top N (kept) encoder layers")
    head_dropout: float | None = Field(None, ge=0, lt=1, description="dropout before the classifier")
    reinit_pooler: bool = Field(False, description="fresh hidden layer (BERT pooler) in front of the classifier")
    bottleneck: int | None = Field(None, gt=0, description="hidden width of a new head layer (see docs)")
    trainable: list[str] | None = Field(None, description="regexes of parameters that train; the rest is frozen")
    print_report: bool = True


@register(SurgeryConfig)
class SurgeryStrategy(FinetuneStrategy):
    """Apply each requested edit in a fixed order (truncate, re-init, head, freeze), then fine-tune."""

    def __init__(self, config: SurgeryConfig, model) -> None:
        if config.bottleneck is not None:
            raise RecipeError(
                "strategy.bottleneck",
                f"a head with a {config.bottleneck}-wide hidden layer cannot be saved in the standard "
                f"{type(model).__name__} config; use reinit_pooler (a hidden layer of the model's width) instead",
            )
        if config.keep_layers is not None:
            surgery.truncate_layers(model, config.keep_layers)
        if config.reinit_layers:
            surgery.reinit_layers(model, config.reinit_layers)
        if config.head_dropout is not None:
            surgery.set_head_dropout(model, config.head_dropout)
        if config.reinit_pooler:
            surgery.reinit_pooler(model)
        super().__init__(config, model)
        if config.trainable is not None:
            if config.peft is not None:
                raise RecipeError("strategy.trainable", "choose either trainable regexes or peft, not both")
            surgery.freeze_by_regex(self.model, config.trainable)
        if config.print_report:
            print(surgery.format_trainable_report(surgery.trainable_by_module(self.model)))
