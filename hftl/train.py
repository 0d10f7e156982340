"""The one Accelerate training loop every strategy runs on."""

from __future__ import annotations

import itertools
import json
import math
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import get_scheduler

from hftl.batch_norm import named_batch_norms
from hftl.checkpoints import latest_checkpoint, load_checkpoint, save_checkpoint
from hftl.errors import TrainingError
from hftl.evaluation import evaluate
from hftl.inference import token_lengths
from hftl.recipe import TrainingSection
from hftl.samplers import BalancedSampler, LengthGroupedSampler
from hftl.strategies.base import RunContext, Strategy


@dataclass
class FitResult:
    global_step: int
    samples: int
    runtime_s: float
    history: list[dict] = field(default_factory=list)
    skipped_batches: int = 0


def cycle(loader, consumed: int = 0) -> Iterator:
    """Endless batches from ``loader``, reshuffled (``set_epoch``) each pass, after ``consumed`` batches."""
    epoch, skip = divmod(consumed, len(loader))
    while True:
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        yield from itertools.islice(loader, skip, None)
        epoch, skip = epoch + 1, 0


def loss_is_finite(loss: torch.Tensor, accelerator: Accelerator) -> bool:
    """True when the loss is finite on every process (all processes take the same branch)."""
    bad = (~torch.isfinite(loss.detach())).float().reshape(1)
    if accelerator.num_processes > 1:
        bad = accelerator.reduce(bad, reduction="sum")
    return not bool(bad.item())


def sync_batch_norm(model: torch.nn.Module, accelerator: Accelerator) -> None:
    """Batch norm over the global batch under multi-GPU DDP; on CPU (gloo) it stays per process, with a warning."""
    if accelerator.num_processes == 1 or not named_batch_norms(model):
        return
    if accelerator.device.type == "cuda":
        torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    else:
        warnings.warn(
            "batch norm statistics are computed per process on CPU (SyncBatchNorm needs CUDA): "
            "results depend on the number of processes",
            stacklevel=2,
        )


def make_optimizer(groups: list[dict], lr: float) -> torch.optim.Optimizer:
    """AdamW, fused into one kernel where the device supports it (a several-fold faster step on CPU and GPU)."""
    try:
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.AdamW(groups, lr=lr)


def _loader(
    dataset, collate, cfg: TrainingSection, processes: int, sample_weights: torch.Tensor | None = None
) -> DataLoader:
    """Batches in a fresh order each epoch: class-balanced, length-grouped (tokenized text) or shuffled.

    Length groups are formed over the global batch (``batch_size`` x ``processes``) so that any number of
    processes sees the same global batches.
    """
    sampler = None
    if sample_weights is not None:
        sampler = BalancedSampler(sample_weights, cfg.seed)
    elif cfg.group_by_length and (lengths := token_lengths(dataset)) is not None:
        sampler = LengthGroupedSampler(lengths.tolist(), cfg.batch_size * processes, cfg.seed)
    # Its own generator: starting an iterator then draws no number from the global RNG, so dropout after a
    # resume sees the same random stream as the uninterrupted run.
    generator = torch.Generator().manual_seed(cfg.seed)
    return DataLoader(dataset, batch_size=cfg.batch_size, shuffle=sampler is None, sampler=sampler,
                      collate_fn=collate, num_workers=cfg.num_workers, generator=generator)  # fmt: skip


def fit(
    strategy: Strategy, ctx: RunContext, cfg: TrainingSection, desc: str = "train", run_dir: Path | None = None
) -> FitResult:
    """Train ``strategy`` for ``cfg.epochs``; evaluates every ``eval_steps`` and checkpoints every ``save_steps``."""
    accelerator = ctx.accelerator
    accelerator.free_memory()  # forget objects prepared by an earlier stage (e.g. the LP-FT probe)
    data = strategy.train_data(ctx)
    processes = accelerator.num_processes
    source_loader = _loader(data.source, data.collate, cfg, processes, data.sample_weights)
    target_loader = _loader(data.target, data.collate, cfg, processes) if data.target is not None else None
    sync_batch_norm(strategy, accelerator)
    model, source_loader = accelerator.prepare(strategy, source_loader)
    if target_loader is not None:
        target_loader = accelerator.prepare(target_loader)
    optimizer = accelerator.prepare(make_optimizer(strategy.param_groups(cfg), cfg.learning_rate))
    steps_per_epoch = math.ceil(len(source_loader) / cfg.gradient_accumulation_steps)
    total_steps = max(1, math.ceil(cfg.epochs * steps_per_epoch))
    # Stepped by hand once per optimizer update (a prepared scheduler counts per process and per micro-batch);
    # it is a pure function of the step, so resuming replays the steps instead of storing its state.
    scheduler = get_scheduler(
        cfg.lr_scheduler,
        optimizer.optimizer,
        num_warmup_steps=int(cfg.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )

    global_step, samples, skipped = 0, 0, 0
    checkpoint = latest_checkpoint(run_dir) if (run_dir and ctx.resuming) else None
    if checkpoint is not None:
        state = load_checkpoint(accelerator, checkpoint)
        global_step, samples = state["global_step"], state["samples"]
        for _ in range(global_step):
            scheduler.step()
        accelerator.print(f"resumed from {checkpoint} (step {global_step}/{total_steps})")

    history: list[dict] = []
    log_file = (run_dir / "log_history.jsonl") if (run_dir and accelerator.is_main_process) else None
    running: dict[str, float] = {}
    running_count = 0
    bar = tqdm(total=total_steps, initial=global_step, desc=desc, disable=not accelerator.is_local_main_process)
    start = time.perf_counter()
    epoch = global_step // steps_per_epoch
    skip = (global_step - epoch * steps_per_epoch) * cfg.gradient_accumulation_steps  # micro-batches done this epoch
    # One target batch per source micro-batch so far: resuming continues the target side where it stopped.
    targets = cycle(target_loader, epoch * len(source_loader) + skip) if target_loader is not None else None
    model.train()
    while global_step < total_steps:
        source_loader.set_epoch(epoch)
        batches = accelerator.skip_first_batches(source_loader, skip) if skip else source_loader
        skip = 0
        for batch in batches:
            target_batch = next(targets) if targets is not None else None
            with accelerator.accumulate(model):
                out = model(batch, target_batch, global_step / total_steps)
                finite = loss_is_finite(out["loss"], accelerator)
                if not finite and cfg.on_nonfinite == "stop":
                    raise TrainingError(
                        f"training: the loss is not finite at step {global_step + 1} (epoch {epoch + 1}); "
                        f"checkpoints up to there are kept; lower training.learning_rate, or set "
                        f"training.on_nonfinite: skip to skip such batches"
                    )
                if finite:
                    accelerator.backward(out["loss"])
                else:
                    skipped += 1
                if accelerator.sync_gradients and cfg.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
                optimizer.step()
                if accelerator.sync_gradients:
                    scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            if finite:
                for key, value in out.items():
                    running[key] = running.get(key, 0.0) + value.detach().float()
                running_count += 1
            samples += len(next(iter(batch.values()))) * accelerator.num_processes
            if not accelerator.sync_gradients:
                continue
            global_step += 1
            bar.update(1)
            record = None
            if global_step % cfg.logging_steps == 0 or global_step == total_steps:
                if processes > 1:  # each process summed its own shard's values: average them
                    running = {k: accelerator.reduce(v.reshape(1), reduction="mean") for k, v in running.items()}
                record = {f"{desc}/{k}": float(v) / max(running_count, 1) for k, v in running.items()}
                record.update(
                    {
                        f"{desc}/lr": scheduler.get_last_lr()[0],
                        "step": global_step,
                        "epoch": global_step / steps_per_epoch,
                    }
                )
                if running_count:
                    bar.set_postfix(loss=f"{record[f'{desc}/loss']:.4f}")
                running, running_count = {}, 0
            if cfg.eval_steps and global_step % cfg.eval_steps == 0:
                record = record or {"step": global_step, "epoch": global_step / steps_per_epoch}
                with torch.random.fork_rng():  # evaluation must not shift training's random stream
                    record.update({f"eval/{k}": v for k, v in evaluate(model, ctx).items()})
            if record is not None:
                history.append(record)
                accelerator.log(record, step=global_step)
                if log_file is not None:
                    with log_file.open("a") as fh:
                        fh.write(json.dumps(record) + "\n")
            if run_dir and cfg.save_steps and (global_step % cfg.save_steps == 0 or global_step == total_steps):
                save_checkpoint(
                    accelerator, run_dir, {"global_step": global_step, "samples": samples}, cfg.save_total_limit
                )
            if global_step >= total_steps:
                break
        epoch += 1
    bar.close()
    return FitResult(global_step, samples, time.perf_counter() - start, history, skipped)
