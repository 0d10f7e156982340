"""Load checkpoints through the Auto classes; find the classification head; hook its input; report params."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
)

from hftl.errors import RecipeError

if TYPE_CHECKING:
    from hftl.recipe import ModelSection

#: Attribute names under which transformers models keep their classification head.
HEAD_NAMES = ("classifier", "score", "head", "fc")


def load_config(section: ModelSection, label_names: list[str]):
    """The checkpoint's config with this run's labels; an unloadable checkpoint is a RecipeError."""
    name = section.checkpoint
    if name.startswith((".", "/", "~")) and not Path(name).expanduser().is_dir():
        raise RecipeError("model.checkpoint", f"cannot load '{name}': no such folder")
    try:
        return AutoConfig.from_pretrained(
            section.checkpoint,
            revision=section.revision,
            trust_remote_code=section.trust_remote_code,
            num_labels=len(label_names),
            id2label=dict(enumerate(label_names)),
            label2id={n: i for i, n in enumerate(label_names)},
        )
    except Exception as exc:
        raise RecipeError("model.checkpoint", f"cannot load '{section.checkpoint}': {_short(exc)}") from None


def _short(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def load_model(section: ModelSection, label_names: list[str]) -> PreTrainedModel:
    """A sequence classifier with a head for ``label_names`` (re-initialized when the label set differs)."""
    config = load_config(section, label_names)
    try:
        return AutoModelForSequenceClassification.from_pretrained(
            section.checkpoint,
            config=config,
            revision=section.revision,
            ignore_mismatched_sizes=True,
            trust_remote_code=section.trust_remote_code,
            use_safetensors=True,
        )
    except Exception as exc:
        raise RecipeError("model.checkpoint", f"cannot load weights of '{section.checkpoint}': {_short(exc)}") from None


def load_tokenizer(section: ModelSection):
    try:
        return AutoTokenizer.from_pretrained(
            section.checkpoint, revision=section.revision, trust_remote_code=section.trust_remote_code
        )
    except Exception as exc:
        raise RecipeError(
            "model.checkpoint", f"cannot load the tokenizer of '{section.checkpoint}': {_short(exc)}"
        ) from None


def find_head(model: nn.Module) -> tuple[str, nn.Module]:
    """The classification head module (its input is the feature the strategies work on)."""
    for name in HEAD_NAMES:
        module = getattr(model, name, None)
        if isinstance(module, nn.Module):
            return name, module
    raise RecipeError("model.checkpoint", f"{type(model).__name__} has no classification head ({'/'.join(HEAD_NAMES)})")


@contextmanager
def capture_head_input(model: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Collect the tensor entering the classification head on every forward inside the block."""
    captured: list[torch.Tensor] = []
    _, head = find_head(model)
    handle = head.register_forward_pre_hook(lambda _module, args: captured.append(args[0].detach()))
    try:
        yield captured
    finally:
        handle.remove()


def model_fingerprint(section: ModelSection) -> str:
    """Identifies the pretrained weights: config + weight files for a folder, id + revision for the Hub."""
    digest = hashlib.sha256(json.dumps([section.checkpoint, section.revision]).encode())
    folder = Path(section.checkpoint)
    if folder.is_dir():
        for path in sorted(folder.glob("*")):
            if path.name == "config.json":
                digest.update(path.read_bytes())
            elif path.suffix in (".safetensors", ".bin"):
                stat = path.stat()
                digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def set_trainable(model: nn.Module, trainable: bool) -> None:
    for param in model.parameters():
        param.requires_grad_(trainable)


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total


def trainable_report(model: nn.Module) -> str:
    trainable, total = count_parameters(model)
    return f"trainable params: {trainable:,} of {total:,} ({100 * trainable / max(total, 1):.2f}%)"
