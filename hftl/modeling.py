"""Load checkpoints through the Auto classes; find the classification head; hook its input; report params."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModelForImageClassification,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
)

from hftl.errors import RecipeError

if TYPE_CHECKING:
    from hftl.recipe import ModelSection

#: Attribute names under which transformers models keep their classification head.
HEAD_NAMES = ("classifier", "score", "head", "fc")
#: The Auto class for each task a recipe's data can define.
AUTO_MODELS = {
    "text-classification": AutoModelForSequenceClassification,
    "image-classification": AutoModelForImageClassification,
}


def label_maps(label_names: list[str]) -> dict:
    """``num_labels``, ``id2label`` and ``label2id`` for a config, in the run's label order."""
    return {"num_labels": len(label_names), "id2label": dict(enumerate(label_names)),
            "label2id": {name: i for i, name in enumerate(label_names)}}  # fmt: skip


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
            **label_maps(label_names),
        )
    except Exception as exc:
        if "custom code" in str(exc) and not section.trust_remote_code:
            raise RecipeError(
                "model.checkpoint",
                f"'{name}' needs model.trust_remote_code: true (it runs code shipped with the checkpoint; "
                "set it only if you trust the source)",
            ) from None
        raise RecipeError("model.checkpoint", f"cannot load '{name}': {_short(exc)}") from None


def _short(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def is_adapter_dir(checkpoint: str) -> bool:
    return (Path(checkpoint) / "adapter_config.json").is_file()


def peft_auto_class(task: str):
    """The peft Auto class that reloads an adapter of ``task`` (text adapters are SEQ_CLS, vision ones plain)."""
    from peft import AutoPeftModel, AutoPeftModelForSequenceClassification

    return AutoPeftModelForSequenceClassification if task == "text-classification" else AutoPeftModel


def load_adapter_model(section: ModelSection, label_names: list[str], task: str = "text-classification"):
    """A saved PEFT adapter (with its head) on top of the base model its adapter_config names."""
    auto = peft_auto_class(task)
    try:
        return auto.from_pretrained(
            section.checkpoint, **label_maps(label_names), use_safetensors=True, ignore_mismatched_sizes=True,
        )  # fmt: skip
    except Exception as exc:
        raise RecipeError(
            "model.checkpoint", f"cannot load the adapter in '{section.checkpoint}': {_short(exc)}"
        ) from None


def load_model(section: ModelSection, label_names: list[str], task: str = "text-classification") -> PreTrainedModel:
    """A ``task`` classifier with a head for ``label_names`` (re-initialized when the label set differs)."""
    if is_adapter_dir(section.checkpoint):
        return load_adapter_model(section, label_names, task)
    config = load_config(section, label_names)
    auto = AUTO_MODELS[task]
    if type(config) not in auto._model_mapping:
        raise RecipeError(
            "model.checkpoint",
            f"'{section.checkpoint}' is a {config.model_type} model, which has no {task} head in transformers "
            f"(the data's {'image_column' if task == 'image-classification' else 'text_column'} makes this "
            f"a {task} recipe)",
        )
    folder = Path(section.checkpoint)
    pickled = [p.name for p in folder.glob("*.bin")] if folder.is_dir() else []
    if pickled and not list(folder.glob("*.safetensors")) and not section.allow_pickle:
        raise RecipeError(
            "model.checkpoint",
            f"'{section.checkpoint}' has only pickle weights ({', '.join(pickled)}), which can run code when loaded; "
            "convert them to safetensors, or set model.allow_pickle: true if you trust the source",
        )
    try:
        return auto.from_pretrained(
            section.checkpoint,
            config=config,
            revision=section.revision,
            ignore_mismatched_sizes=True,
            trust_remote_code=section.trust_remote_code,
            use_safetensors=None if section.allow_pickle else True,
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


def load_image_processor(section: ModelSection, image_size: int | None = None):
    """The checkpoint's image processor (PIL backend, no torchvision), optionally resized to ``image_size``."""
    try:
        processor = AutoImageProcessor.from_pretrained(
            section.checkpoint, revision=section.revision, trust_remote_code=section.trust_remote_code, backend="pil"
        )
    except Exception as exc:
        raise RecipeError(
            "model.checkpoint", f"cannot load the image processor of '{section.checkpoint}': {_short(exc)}"
        ) from None
    if image_size is not None:
        square = {"height": image_size, "width": image_size}
        if getattr(processor, "do_center_crop", False):  # resize the short side, then crop the square
            processor.size, processor.crop_size = {"shortest_edge": image_size}, square
        else:
            processor.size = square
    return processor


def find_head(model: nn.Module) -> tuple[str, nn.Module]:
    """The classification head module (its input is the feature the strategies work on)."""
    for name in HEAD_NAMES:
        module = getattr(model, name, None)
        if isinstance(module, nn.Module):
            return name, module
    raise RecipeError("model.checkpoint", f"{type(model).__name__} has no classification head ({'/'.join(HEAD_NAMES)})")


@contextmanager
def capture_input(module: nn.Module, detach: bool = True) -> Iterator[list[torch.Tensor]]:
    """Collect the first positional input of ``module`` on every forward inside the block."""
    captured: list[torch.Tensor] = []

    def hook(_module: nn.Module, args: tuple) -> None:
        captured.append(args[0].detach() if detach else args[0])

    handle = module.register_forward_pre_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()


def flat_features(features: torch.Tensor) -> torch.Tensor:
    """One vector per example: the first token of a sequence, a pooled map (N, C, 1, 1) flattened."""
    if features.ndim == 3:
        return features[:, 0]
    return features.flatten(1) if features.ndim > 2 else features


def capture_head_input(model: nn.Module, detach: bool = True):
    """``capture_input`` on the classification head: the features every strategy works on."""
    return capture_input(find_head(model)[1], detach)


@dataclass
class FeaturePoint:
    """Where cached features are taken, and the trainable tail from there to (head-input features, logits).

    ``head_input``: the tensor entering the classification head; the tail is the head alone.
    ``pooler_input``: the first-token state entering a BERT-style pooler; the tail is pooler + head, a
    trainable bottleneck that the exported checkpoint still holds in its standard layout.
    """

    level: str
    source: nn.Module
    bottleneck: Callable[[torch.Tensor], torch.Tensor]
    head: nn.Module
    modules: list[nn.Module]

    def tail(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.bottleneck(x)
        return features, self.head(features)


def feature_point(model: nn.Module, level: str) -> FeaturePoint:
    """The FeaturePoint of ``model`` at ``level`` (``head_input`` or ``pooler_input``)."""
    _, head = find_head(model)
    if level == "head_input":
        return FeaturePoint(level, head, nn.Identity(), head, [head])
    pooler = getattr(getattr(model, "base_model", model), "pooler", None)
    dense, activation = getattr(pooler, "dense", None), getattr(pooler, "activation", None)
    if not isinstance(dense, nn.Linear) or activation is None:
        raise RecipeError(
            "strategy.features", f"'pooler_input' needs a BERT-style pooler; {type(model).__name__} has none"
        )
    dropout = getattr(model, "dropout", nn.Identity())
    return FeaturePoint(level, dense, nn.Sequential(dense, activation, dropout), head, [dense, head])


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
