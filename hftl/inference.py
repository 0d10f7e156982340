"""Batched no-grad passes over a dataset: length-sorted batches, gathered across processes, original order back."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from accelerate import Accelerator
from datasets import Dataset
from torch.utils.data import DataLoader
from tqdm.auto import tqdm


def token_lengths(dataset) -> np.ndarray | None:
    """Tokens per row of a tokenized dataset, or None when rows are not token sequences."""
    if not isinstance(dataset, Dataset) or "input_ids" not in dataset.column_names:
        return None
    return np.fromiter((len(ids) for ids in dataset["input_ids"]), dtype=np.int64, count=len(dataset))


def length_order(dataset) -> np.ndarray | None:
    """Indices that sort a tokenized dataset longest-first (less padding per batch), or None if not tokenized."""
    lengths = token_lengths(dataset)
    return None if lengths is None else np.argsort(-lengths, kind="stable")


@torch.no_grad()
def run_batches(
    step: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]],
    dataset,
    collate: Callable,
    accelerator: Accelerator,
    batch_size: int,
    desc: str,
) -> dict[str, torch.Tensor]:
    """``step(batch)`` over every row; each output key concatenated over rows in the dataset's own order."""
    order = length_order(dataset)
    ordered = dataset.select(order) if order is not None else dataset
    loader = accelerator.prepare_data_loader(DataLoader(ordered, batch_size=batch_size, collate_fn=collate))
    outputs: dict[str, list[torch.Tensor]] = {}
    for batch in tqdm(loader, desc=desc, disable=not accelerator.is_local_main_process, leave=False):
        for key, value in step(batch).items():
            outputs.setdefault(key, []).append(accelerator.gather_for_metrics(value.contiguous()).cpu())
    merged = {key: torch.cat(chunks) for key, chunks in outputs.items()}
    if order is not None:
        restore = torch.from_numpy(np.argsort(order))
        merged = {key: value[restore] for key, value in merged.items()}
    return merged
