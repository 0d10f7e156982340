"""PEFT adapters by method name: any ``peft`` config (lora, ia3, loha, lokr, adalora, ...) with the head trainable."""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import ConfigDict, model_validator
from torch import nn

from hftl.batch_norm import named_batch_norms
from hftl.errors import RecipeError, did_you_mean
from hftl.recipe_types import Section

#: Short recipe names for peft's config fields.
ALIASES = {"alpha": "lora_alpha", "dropout": "lora_dropout"}


def peft_methods() -> dict[str, type]:
    from peft import PEFT_TYPE_TO_CONFIG_MAPPING

    return {str(kind.value).lower(): cls for kind, cls in PEFT_TYPE_TO_CONFIG_MAPPING.items()}


def _resolve(method: str, options: dict[str, Any]) -> tuple[type, dict[str, Any]]:
    methods = peft_methods()
    if method not in methods:
        raise ValueError(
            f"unknown PEFT method '{method}'{did_you_mean(method, methods)} (allowed: {', '.join(methods)})"
        )
    config_cls = methods[method]
    fields = {f.name for f in dataclasses.fields(config_cls) if f.init}
    resolved = {}
    for key, value in options.items():
        name = key if key in fields else ALIASES.get(key, key)
        if name not in fields:
            hint = did_you_mean(key, fields | {a for a, t in ALIASES.items() if t in fields})
            raise ValueError(f"unknown option '{key}' for {method}{hint}")
        resolved[name] = value
    return config_cls, resolved


class PeftSection(Section):
    """``peft: {method: lora, r: 8, alpha: 16, target_modules: [query, value]}``; other keys go to the peft config."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())
    method: str = "lora"

    @model_validator(mode="after")
    def _check(self) -> PeftSection:
        _resolve(self.method, self.options())
        return self

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def peft_task_type(model: nn.Module) -> str | None:
    """``SEQ_CLS`` for text classifiers; None (a plain PeftModel that passes inputs through) for vision models."""
    return "SEQ_CLS" if type(model).__name__.endswith("ForSequenceClassification") else None


def apply_peft(model: nn.Module, section: PeftSection, head_name: str, total_steps: int | None = None):
    """Wrap ``model`` with the adapter; the classification head stays fully trainable (``modules_to_save``).

    Batch-norm layers join ``modules_to_save`` too: their running statistics change whenever the model trains,
    and an adapter that left them out would reload with the base model's statistics.
    """
    from peft import get_peft_model

    config_cls, options = _resolve(section.method, section.options())
    fields = {f.name for f in dataclasses.fields(config_cls)}
    if "modules_to_save" in fields:
        batch_norms = [name for name, _ in named_batch_norms(model, tracking=True)]
        options.setdefault("modules_to_save", [head_name, *batch_norms])
    if "total_step" in fields and total_steps:
        options.setdefault("total_step", total_steps)
    try:
        config = config_cls(task_type=peft_task_type(model), **options)
        return get_peft_model(model, config)
    except (ValueError, TypeError, KeyError) as exc:
        if "target" in str(exc).lower():
            linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, nn.Linear)})
            raise RecipeError(
                "strategy.peft.target_modules",
                f"{options.get('target_modules')} match no module of {type(model).__name__} "
                f"(its Linear layers: {', '.join(linear)})",
            ) from None
        raise RecipeError("strategy.peft", str(exc).strip().splitlines()[0]) from None
