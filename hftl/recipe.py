"""Typed recipes: load YAML, apply ``--set`` overrides, validate, and report errors by field path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from hftl.errors import RecipeError, did_you_mean
from hftl.recipe_types import Section
from hftl.strategies import registry

FIELD_PREFIX = re.compile(r"^([a-z_]+(?:\.[a-z_]+)*): (.*)$", re.S)


class ModelSection(Section):
    checkpoint: str
    revision: str | None = None
    trust_remote_code: bool = Field(False, description="run code shipped with the checkpoint (off unless set)")
    allow_pickle: bool = Field(False, description="load pickle (.bin) weights; safetensors only unless set")


class DomainSpec(Section):
    """One labeled or unlabeled domain: anything ``datasets.load_dataset`` accepts."""

    path: str
    name: str | None = None
    data_files: str | list[str] | dict[str, str | list[str]] | None = None
    data_dir: str | None = None
    revision: str | None = None
    split: str = "train"
    text_column: str = "text"
    text_pair_column: str | None = None
    image_column: str | None = Field(None, description="set for image data: the column holding the images")
    label_column: str = "label"
    val_split: str | None = Field(None, description="named held-out split (source) instead of a fraction")
    test_split: str | None = Field(None, description="named labeled test split (target) instead of a fraction")
    max_samples: Annotated[int, Field(gt=0)] | None = None


class SplitSection(Section):
    source_val_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2
    target_test_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.5
    target_labeled_per_class: Annotated[int, Field(ge=0)] = 0
    seed: int = 0


class DataSection(Section):
    source: DomainSpec
    target: DomainSpec
    split: SplitSection = SplitSection()
    label_names: list[str] | None = Field(None, description="names for integer labels, index = label id")

    @model_validator(mode="after")
    def _same_modality(self) -> DataSection:
        if (self.source.image_column is None) != (self.target.image_column is None):
            side = "target" if self.source.image_column else "source"
            raise ValueError(f"{side}.image_column: source and target must both be images (set image_column on both)")
        return self

    @property
    def task(self) -> str:
        """The pipeline task the data defines: ``image-classification`` or ``text-classification``."""
        return "image-classification" if self.source.image_column else "text-classification"


class TrainingSection(Section):
    epochs: Annotated[float, Field(gt=0)] = 2
    batch_size: Annotated[int, Field(gt=0)] = 16
    eval_batch_size: Annotated[int, Field(gt=0)] | None = None
    learning_rate: Annotated[float, Field(gt=0)] = 5e-5
    weight_decay: Annotated[float, Field(ge=0)] = 0.01
    warmup_ratio: Annotated[float, Field(ge=0, lt=1)] = 0.1
    lr_scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = "linear"
    max_grad_norm: Annotated[float, Field(ge=0)] = 1.0
    gradient_accumulation_steps: Annotated[int, Field(gt=0)] = 1
    max_length: Annotated[int, Field(gt=0)] = 128
    image_size: Annotated[int, Field(gt=0)] | None = Field(
        None, description="images: square input size (default: the checkpoint's image processor)"
    )
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    seed: int = 0
    logging_steps: Annotated[int, Field(gt=0)] = 10
    eval_steps: Annotated[int, Field(ge=0)] = 0
    save_steps: Annotated[int, Field(ge=0)] = 0
    save_total_limit: Annotated[int, Field(gt=0)] = 2
    report_to: list[str] = Field(default_factory=list)
    num_workers: Annotated[int, Field(ge=0)] = 0
    class_weights: Literal["none", "balanced"] | list[Annotated[float, Field(ge=0)]] = "none"
    sampler: Literal["random", "balanced"] = "random"
    group_by_length: bool = Field(True, description="batch texts of similar length together (less padding)")
    batch_norm: Literal["train", "source", "target"] = Field(
        "train",
        description="after training, re-estimate batch-norm statistics over the source training data (precise "
        "BN) or the unlabeled target pool (AdaBN); train: keep the running averages",
    )
    on_nonfinite: Literal["stop", "skip"] = Field(
        "stop", description="a NaN/inf loss stops training, or skips the batch"
    )

    @property
    def eval_batch(self) -> int:
        """``eval_batch_size``, or twice the training batch (no gradients to hold)."""
        return self.eval_batch_size or 2 * self.batch_size

    @model_validator(mode="before")
    @classmethod
    def _report_to_as_list(cls, values: Any) -> Any:
        if isinstance(values, dict) and isinstance(values.get("report_to"), str):
            values = {**values, "report_to": [] if values["report_to"] == "none" else [values["report_to"]]}
        return values


class MixupSection(Section):
    alpha: Annotated[float, Field(gt=0)] = 0.2


class PerturbationSection(Section):
    method: Literal["fgsm", "vat"] = "fgsm"
    epsilon: Annotated[float, Field(gt=0)] = 1e-2
    weight: Annotated[float, Field(ge=0)] = 1.0


class ImageAugmentSection(Section):
    """Training-time image augmentation (PIL); evaluation and cached features never see it."""

    random_resized_crop: tuple[float, float] | None = Field(
        (0.85, 1.0), description="area fraction range of a random crop resized back; null = off"
    )
    horizontal_flip: bool = Field(False, description="flip half the images (off: wrong for digits and text)")
    rotation: Annotated[float, Field(ge=0, le=180)] = Field(0.0, description="max degrees of random rotation")

    @model_validator(mode="after")
    def _crop_range(self) -> ImageAugmentSection:
        crop = self.random_resized_crop
        if crop is not None and not 0 < crop[0] <= crop[1] <= 1:
            raise ValueError(f"random_resized_crop: need 0 < low <= high <= 1, got {list(crop)}")
        return self


class AugmentSection(Section):
    image: ImageAugmentSection = Field(default_factory=ImageAugmentSection, description="image recipes only")
    mixup: MixupSection | None = Field(None, description="mixup on head-input features")
    embedding_perturbation: PerturbationSection | None = Field(None, description="FGSM or VAT on input embeddings")
    standardize_features: bool = Field(False, description="cached features: standardize (folded into export)")


class EvalSection(Section):
    extra: dict[str, DomainSpec] = Field(default_factory=dict)
    label_free: bool = Field(
        True, description="label-free selection scores without target labels (DEV risk, soft neighborhood density)"
    )


class FeatureCacheSection(Section):
    enabled: bool = True
    dir: str | None = Field(None, description="default: $HF_HOME/hftl/features")


class ExportSection(Section):
    merge: bool = Field(False, description="PEFT runs: export a merged plain checkpoint instead of the adapter")


class CardSection(Section):
    model_name: str | None = Field(None, description="default: the output_dir folder name")
    base_model: str | None = Field(None, description="Hub id of the base model when model.checkpoint is a local copy")
    license: str | None = None
    language: list[str] | None = None


class HubSection(Section):
    push: bool = Field(False, description="push the exported model at the end of training")
    repo_id: str | None = None
    private: bool = False
    revision: str | None = Field(None, description="branch to push to (created when missing)")
    merge: bool = Field(False, description="PEFT runs: push a merged plain checkpoint instead of the adapter")

    @model_validator(mode="after")
    def _repo_needed(self) -> HubSection:
        if self.push and not self.repo_id:
            raise ValueError("push: true needs hub.repo_id (USER/NAME)")
        return self


class Recipe(Section):
    model: ModelSection
    data: DataSection
    strategy: registry.config_union()  # type: ignore[valid-type]
    training: TrainingSection = TrainingSection()
    eval: EvalSection = EvalSection()
    cache: FeatureCacheSection = FeatureCacheSection()
    export: ExportSection = ExportSection()
    augment: AugmentSection = AugmentSection()
    card: CardSection = CardSection()
    hub: HubSection = HubSection()
    output_dir: str

    @model_validator(mode="after")
    def _modality_options(self) -> Recipe:
        if self.data.task == "image-classification" and self.augment.embedding_perturbation is not None:
            raise ValueError("augment.embedding_perturbation: perturbs token embeddings; it needs text data")
        for name, spec in self.eval.extra.items():
            if (spec.image_column is None) != (self.data.source.image_column is None):
                raise ValueError(f"eval.extra.{name}.image_column: must be set exactly when the source has one")
        return self

    def to_yaml(self) -> str:
        """The resolved recipe (every default filled in) as YAML."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides; values are parsed as YAML scalars/lists."""
    for item in overrides:
        if "=" not in item:
            raise RecipeError("--set", f"expected KEY=VALUE with a dotted key, got '{item}'")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        node = raw
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise RecipeError(".".join(parts[: depth + 1]), f"is not a section; cannot set '{key}'")
            node = child
        node[parts[-1]] = yaml.safe_load(text) if text.strip() else None
    return raw


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts[:1] == ["strategy"] and len(parts) > 1 and parts[1] in registry.names():
        parts.pop(1)  # pydantic puts the union tag in the location
    return ".".join(parts)


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = Recipe
    for part in loc[:-1]:
        if part == "strategy":
            return []
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = field.annotation
        if getattr(model, "__origin__", None) is dict:
            return []
        args = [a for a in getattr(model, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = args[0] if args else model
    return list(getattr(model, "model_fields", {}))


def _error_line(exc: ValidationError, raw: dict[str, Any]) -> RecipeError:
    err = exc.errors()[0]
    loc, kind = tuple(err["loc"]), err["type"]
    path = _field_path(loc)
    if kind == "extra_forbidden":
        if loc[:1] == ("strategy",) and len(loc) > 2:
            allowed = list(registry.config_class(str(loc[1])).model_fields)
        else:
            allowed = _allowed_keys(loc)
        hint = did_you_mean(str(loc[-1]), allowed)
        return RecipeError(path, f"unknown key{hint} (allowed: {', '.join(allowed)})")
    if kind == "missing":
        return RecipeError(path, "missing required field")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        name = (raw.get("strategy") or {}).get("name", "")
        return RecipeError(
            "strategy.name",
            f"unknown strategy '{name}'{did_you_mean(name, registry.names())} (allowed: {', '.join(registry.names())})",
        )
    got = err.get("input")
    shown = "" if isinstance(got, dict) else f" (got {got!r})"
    message = err["msg"].removeprefix("Value error, ")
    if kind != "value_error":
        return RecipeError(path, f"{message}{shown}")
    inner = FIELD_PREFIX.match(message)  # a validator naming a field below its own: "target.image_column: ..."
    if inner:
        path, message = ".".join(p for p in (path, inner.group(1)) if p), inner.group(2)
    return RecipeError(path, message)


def parse_recipe(raw: Any, overrides: list[str] | None = None) -> Recipe:
    """Validate a recipe given as a mapping; raises RecipeError naming the field."""
    if not isinstance(raw, dict):
        raise RecipeError("recipe", "must be a YAML mapping with model, data, strategy, training, output_dir")
    raw = apply_overrides(raw, overrides or [])
    if isinstance(raw.get("strategy"), str):
        raw["strategy"] = {"name": raw["strategy"]}
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        raise _error_line(exc, raw) from None


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read, override and validate a recipe file."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError("recipe", f"file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise RecipeError("recipe", f"malformed YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return parse_recipe(raw, overrides)
