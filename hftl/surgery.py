"""Network surgery as pure functions on a transformers model: truncate, re-initialize, head changes, regex freezing.

Each function edits the model and its config together, so ``save_pretrained`` writes a checkpoint that
``AutoModel*.from_pretrained`` loads back with the same architecture.
"""

from __future__ import annotations

import re
from collections import defaultdict

from torch import nn

from hftl.errors import RecipeError

LAYER_LIST_NAMES = ("layer", "layers", "h", "block", "blocks")


def encoder_layers(model: nn.Module) -> tuple[nn.Module, str]:
    """(parent module, attribute) of the encoder's ModuleList of blocks: the longest list named like layers."""
    best: tuple[int, nn.Module, str] | None = None
    for _name, module in model.named_modules():
        for attr in LAYER_LIST_NAMES:
            child = getattr(module, attr, None)
            if isinstance(child, nn.ModuleList) and (best is None or len(child) > best[0]):
                best = (len(child), module, attr)
    if best is None:
        raise RecipeError("strategy", f"cannot find the encoder layers of {type(model).__name__}")
    return best[1], best[2]


def num_layers(model: nn.Module) -> int:
    parent, attr = encoder_layers(model)
    return len(getattr(parent, attr))


def truncate_layers(model: nn.Module, keep: int) -> nn.Module:
    """Keep only the first ``keep`` encoder blocks; the config's ``num_hidden_layers`` follows."""
    if not hasattr(model.config, "num_hidden_layers"):  # e.g. CNNs, whose blocks change width as they go
        raise RecipeError(
            "strategy.keep_layers",
            f"{type(model).__name__} has no uniform stack of layers to truncate; use reinit_layers or freezing",
        )
    parent, attr = encoder_layers(model)
    layers = getattr(parent, attr)
    if not 1 <= keep <= len(layers):
        raise RecipeError(
            "strategy.keep_layers", f"must be between 1 and {len(layers)} (the model's layers), got {keep}"
        )
    setattr(parent, attr, nn.ModuleList(list(layers)[:keep]))
    model.config.num_hidden_layers = keep
    if getattr(model.config, "layer_types", None):
        model.config.layer_types = model.config.layer_types[:keep]
    return model


def reinit_layers(model: nn.Module, top: int) -> nn.Module:
    """Re-initialize the top ``top`` encoder blocks with the model's own initializer."""
    parent, attr = encoder_layers(model)
    layers = getattr(parent, attr)
    if not 0 <= top <= len(layers):
        raise RecipeError("strategy.reinit_layers", f"must be between 0 and {len(layers)}, got {top}")
    for layer in list(layers)[len(layers) - top :]:
        reinitialize(model, layer)
    return model


def reinitialize(model: nn.Module, module: nn.Module) -> None:
    """Fresh weights for ``module`` via the model's ``_init_weights`` (falls back to ``reset_parameters``)."""
    init = getattr(model, "_init_weights", None)
    for tensor in [*module.parameters(), *module.buffers()]:
        tensor._is_hf_initialized = False  # transformers' initializers skip tensors marked as loaded
    for sub in module.modules():
        if init is not None:
            init(sub)
        elif hasattr(sub, "reset_parameters"):
            sub.reset_parameters()


def set_head_dropout(model: nn.Module, p: float) -> nn.Module:
    """Dropout before the classifier, stored as ``classifier_dropout`` in the config."""
    if not hasattr(model.config, "classifier_dropout"):
        raise RecipeError("strategy.head_dropout", f"{type(model.config).__name__} has no classifier_dropout setting")
    model.config.classifier_dropout = p
    dropout = getattr(model, "dropout", None)
    if isinstance(dropout, nn.Dropout):
        dropout.p = p
    return model


def reinit_pooler(model: nn.Module) -> nn.Module:
    """Fresh weights for a BERT-style pooler: a new hidden layer (width = hidden size) in front of the head."""
    pooler = getattr(getattr(model, "base_model", model), "pooler", None)
    if pooler is None:
        raise RecipeError("strategy.reinit_pooler", f"{type(model).__name__} has no pooler layer")
    reinitialize(model, pooler)
    return model


def freeze_by_regex(model: nn.Module, trainable: list[str], field: str = "strategy.trainable") -> nn.Module:
    """Only parameters whose name matches one of the ``trainable`` regexes (``re.search``) train."""
    patterns = []
    for text in trainable:
        try:
            patterns.append(re.compile(text))
        except re.error as exc:
            raise RecipeError(field, f"invalid regex '{text}': {exc}") from None
    names = [name for name, _ in model.named_parameters()]
    for pattern in patterns:
        if not any(pattern.search(name) for name in names):
            raise RecipeError(field, f"pattern '{pattern.pattern}' matches no parameter (e.g. {names[0]}, {names[-1]})")
    for name, param in model.named_parameters():
        param.requires_grad_(any(p.search(name) for p in patterns))
    return model


def trainable_by_module(model: nn.Module, depth: int = 3) -> list[tuple[str, int, int]]:
    """(module prefix, trainable, total) per name prefix of ``depth`` components, in model order."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for name, param in model.named_parameters():
        prefix = ".".join(re.sub(r"\.(weight|bias)$", "", name).split(".")[:depth])
        counts[prefix][1] += param.numel()
        if param.requires_grad:
            counts[prefix][0] += param.numel()
    return [(prefix, t, n) for prefix, (t, n) in counts.items()]


def format_trainable_report(rows: list[tuple[str, int, int]]) -> str:
    width = max(len(r[0]) for r in rows) + 2
    lines = [f"{'module'.ljust(width)}{'trainable':>12}{'total':>12}"]
    lines += [f"{prefix.ljust(width)}{t:>12,}{n:>12,}" for prefix, t, n in rows]
    return "\n".join(lines)
