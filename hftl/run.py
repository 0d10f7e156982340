"""Run a recipe end to end: data, model, strategy, the loop, evaluation, export."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator, DataLoaderConfiguration
from accelerate.state import AcceleratorState
from accelerate.utils import set_seed
from datasets import concatenate_datasets

from hftl import provenance
from hftl.batch_norm import batch_norm_layers, recompute_batch_norm
from hftl.data import build_domain_data, process_splits, split_specs
from hftl.errors import RecipeError
from hftl.evaluation import evaluate
from hftl.export import export_model
from hftl.feature_cache import FeatureCache
from hftl.features import encode
from hftl.hub import push_run
from hftl.metrics import report_table
from hftl.modeling import (
    count_parameters,
    find_head,
    load_image_processor,
    load_model,
    load_tokenizer,
    model_fingerprint,
    trainable_report,
)
from hftl.processing import ImageProcessor, TextProcessor
from hftl.recipe import Recipe
from hftl.strategies import registry
from hftl.strategies.base import RunContext, Strategy
from hftl.train import fit


@dataclass
class Prepared:
    ctx: RunContext
    strategy: Strategy
    preprocessor: object  # the tokenizer or image processor the export ships with


def make_processor(recipe: Recipe, model_section) -> TextProcessor | ImageProcessor:
    """Tokenizer or image processor of the checkpoint, wrapped for the recipe's data."""
    if recipe.data.task == "image-classification":
        image_processor = load_image_processor(model_section, recipe.training.image_size)
        return ImageProcessor(image_processor, recipe.augment.image)
    return TextProcessor(load_tokenizer(model_section), recipe.training.max_length)


def make_accelerator(recipe: Recipe, run_dir: Path | None) -> Accelerator:
    training = recipe.training
    if training.mixed_precision == "fp16" and not torch.cuda.is_available():
        raise RecipeError("training.mixed_precision", "fp16 needs a CUDA GPU; use 'bf16' or 'no' on CPU")
    state = AcceleratorState._shared_state
    if state and state.get("_mixed_precision", training.mixed_precision) != training.mixed_precision:
        AcceleratorState._reset_state()  # another run in this process used another precision
    # Multi-process without CUDA means gloo on CPU: accelerate only sets that up when told ``cpu=True``.
    multi_cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    return Accelerator(
        cpu=multi_cpu,
        mixed_precision=training.mixed_precision,
        gradient_accumulation_steps=training.gradient_accumulation_steps,
        log_with=training.report_to or None,
        project_dir=str(run_dir) if run_dir else None,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )


def prepare(
    recipe: Recipe,
    accelerator: Accelerator,
    run_dir: Path | None = None,
    resuming: bool = False,
    checkpoint: str | None = None,
) -> Prepared:
    """Load and split the data, load the model (``checkpoint`` overrides the recipe's) and build the strategy."""
    set_seed(recipe.training.seed)
    domain = build_domain_data(recipe.data, recipe.eval.extra)
    model_section = recipe.model if checkpoint is None else recipe.model.model_copy(update={"checkpoint": checkpoint})
    model = load_model(model_section, domain.label_names, recipe.data.task)
    processor = make_processor(recipe, model_section)
    with accelerator.main_process_first():
        processed = process_splits(domain, split_specs(recipe.data, recipe.eval.extra), processor)
    cache = FeatureCache(recipe.cache.dir, recipe.cache.enabled, is_writer=accelerator.is_main_process)
    ctx = RunContext(
        recipe,
        processed,
        processor.collate,
        accelerator,
        cache,
        model_fingerprint(model_section),
        run_dir,
        resuming,
        fit=fit,
        train_collate=processor.train_collate,
        inputs_key=processor.key,
    )
    strategy = registry.strategy_class(recipe.strategy.name)(recipe.strategy, model)
    return Prepared(ctx, strategy, processor.preprocessor)


def check_batch_norm_adaptable(strategy: Strategy) -> None:
    """``training.batch_norm: source|target`` needs an encoder that runs (not cached features) and batch norm."""
    if strategy.uses_cached_features:
        raise RecipeError(
            "training.batch_norm", "re-estimating needs the encoder to run; this strategy uses cached features"
        )
    if not batch_norm_layers(strategy.model):
        name = type(strategy.model).__name__
        raise RecipeError("training.batch_norm", f"re-estimating needs batch-norm layers; {name} has none")


def adapt_batch_norm(strategy: Strategy, ctx: RunContext, domain: str) -> None:
    """Batch-norm statistics over the labeled training data (``source``) or the unlabeled target pool (AdaBN)."""
    batch_size = ctx.recipe.training.eval_batch
    module = ctx.accelerator.unwrap_model(strategy)
    splits = module.labeled_splits(ctx) if domain == "source" else ["target_train"]
    data = concatenate_datasets([ctx.data.splits[s] for s in splits])
    recompute_batch_norm(module.model, data, ctx.collate, ctx.accelerator, batch_size)


def check_output_dir(run_dir: Path, resume: bool, overwrite: bool) -> None:
    """Refuse to clobber an existing run unless told to resume or overwrite it."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RecipeError("output_dir", f"'{run_dir}' exists and is not a folder")
    has_content = run_dir.is_dir() and any(run_dir.iterdir())
    if resume:
        return
    if has_content and not overwrite:
        raise RecipeError(
            "output_dir", f"'{run_dir}' already holds files; pass --resume to continue or --overwrite to replace"
        )
    if has_content and overwrite:
        if not (run_dir / "recipe.yaml").is_file():
            raise RecipeError("output_dir", f"'{run_dir}' is not an hftl run folder; refusing to delete it")
        shutil.rmtree(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise RecipeError("output_dir", f"cannot write to '{run_dir}': {exc.strerror or exc}") from None


def train(recipe: Recipe, resume: bool = False, overwrite: bool = False) -> dict[str, float]:
    """Train, evaluate source and target side by side, export, and return the metrics."""
    run_dir = Path(recipe.output_dir)
    accelerator = make_accelerator(recipe, run_dir)
    if accelerator.is_main_process:
        check_output_dir(run_dir, resume, overwrite)
    accelerator.wait_for_everyone()
    prepared = prepare(recipe, accelerator, run_dir, resuming=resume)
    ctx, strategy = prepared.ctx, prepared.strategy
    if accelerator.is_main_process:
        (run_dir / "recipe.yaml").write_text(recipe.to_yaml())
        environment = provenance.environment(accelerator, recipe.training.mixed_precision)
        (run_dir / "environment.json").write_text(json.dumps(environment, indent=2))
        provenance.write_run_info(run_dir, ctx.data)
    if recipe.training.report_to:
        accelerator.init_trackers(run_dir.name, config=recipe.model_dump(mode="json"))

    start = time.perf_counter()
    if recipe.training.batch_norm != "train":
        check_batch_norm_adaptable(strategy)
    strategy.warm_start(ctx)
    accelerator.print(trainable_report(strategy))
    result = fit(strategy, ctx, recipe.training, run_dir=run_dir)
    if recipe.training.batch_norm != "train":
        adapt_batch_norm(strategy, ctx, recipe.training.batch_norm)
    runtime = time.perf_counter() - start

    metrics = evaluate(strategy, ctx)
    trainable, total = count_parameters(strategy)
    metrics.update(
        {
            "train/runtime_s": runtime,
            "train/loop_runtime_s": result.runtime_s,
            "train/samples_per_second": result.samples / runtime if runtime else 0.0,
            "train/loop_samples_per_second": result.samples / result.runtime_s if result.runtime_s else 0.0,
            "train/samples": result.samples,
            "train/global_step": result.global_step,
            "train/trainable_params": trainable,
            "train/total_params": total,
            "train/skipped_batches": result.skipped_batches,
        }
    )
    if recipe.training.report_to:
        accelerator.log({k: v for k, v in metrics.items()}, step=result.global_step)
        accelerator.end_training()
    if accelerator.is_main_process:
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
        exported = accelerator.unwrap_model(strategy).export_model(recipe.export.merge)
        card = {"recipe": recipe, "metrics": metrics, "sizes": ctx.data.sizes(), "eval_names": ctx.data.eval_names,
                "load_path": str(run_dir / "model"), "adapter": hasattr(exported, "peft_config")}  # fmt: skip
        export_model(exported, prepared.preprocessor, run_dir / "model", card)
        print(report_table(metrics, ctx.data.eval_names))
        if recipe.hub.push:
            hub = recipe.hub
            url = push_run(run_dir, hub.repo_id, hub.private, hub.revision, hub.merge)
            print(f"pushed to {url}")
    accelerator.wait_for_everyone()
    return metrics


def validate(recipe: Recipe) -> dict:
    """Resolve data, columns, labels and the checkpoint without training; returns a summary."""
    accelerator = make_accelerator(recipe, None)
    prepared = prepare(recipe, accelerator)
    data = prepared.ctx.data
    return {
        "labels": data.label_names,
        "splits": data.sizes(),
        "strategy": recipe.strategy.name,
        "model": trainable_report(prepared.strategy),
    }


def resolve_model_dir(path: str) -> str:
    """A run folder's ``model/`` or a checkpoint folder itself."""
    folder = Path(path)
    for candidate in (folder / "model", folder):
        if (candidate / "config.json").is_file() or (candidate / "adapter_config.json").is_file():
            return str(candidate)
    raise RecipeError("RUN_DIR_OR_CHECKPOINT", f"'{path}' holds no model/ folder, config.json or adapter_config.json")


def prepare_checkpoint(recipe: Recipe, path: str) -> Prepared:
    """The recipe's splits with an exported model (a run folder or checkpoint) as a plain classifier."""
    accelerator = make_accelerator(recipe, None)
    recipe = recipe.model_copy(update={"strategy": registry.config_class("finetune")()})
    return prepare(recipe, accelerator, checkpoint=resolve_model_dir(path))


def evaluate_checkpoint(recipe: Recipe, path: str) -> dict[str, float]:
    """Re-evaluate an exported model (plain forward passes) on the recipe's splits."""
    prepared = prepare_checkpoint(recipe, path)
    return evaluate(prepared.strategy, prepared.ctx)


def checkpoint_features(
    recipe: Recipe, path: str, splits: list[str], max_rows: int | None = None, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Head-input features (and labels where known) of an exported model on some of the recipe's splits."""
    prepared = prepare_checkpoint(recipe, path)
    ctx, model = prepared.ctx, prepared.strategy.model
    batch_size = recipe.training.eval_batch
    out = {}
    for split in splits:
        ds = ctx.data.splits[split]
        if max_rows is not None and len(ds) > max_rows:
            ds = ds.shuffle(seed=seed).select(range(max_rows))
        features = encode(model, find_head(model)[1], ds, ctx.collate, ctx.accelerator, batch_size, f"features {split}")
        labels = np.asarray(ds["labels"]) if "labels" in ds.column_names else None
        out[split] = (features.numpy(), labels)
    return out
