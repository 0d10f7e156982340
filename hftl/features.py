"""Encode splits into head-input features once, and serve them as a dataset the loop can iterate."""

from __future__ import annotations

from collections.abc import Callable

import torch
from accelerate import Accelerator
from torch.utils.data import Dataset

from hftl.inference import run_batches
from hftl.modeling import capture_input, flat_features


class FeatureDataset(Dataset):
    """Rows of ``{"features": Tensor, "labels": int}`` (labels only when known)."""

    def __init__(self, features: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        self.features = features
        self.labels = labels

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        row = {"features": self.features[index]}
        if self.labels is not None:
            row["labels"] = self.labels[index]
        return row


def collate_features(rows: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {key: torch.stack([row[key] for row in rows]) for key in rows[0]}


def encode(
    model: torch.nn.Module,
    at: torch.nn.Module,
    dataset,
    collate: Callable,
    accelerator: Accelerator,
    batch_size: int,
    desc: str,
) -> torch.Tensor:
    """The input of module ``at`` for every row of ``dataset``, in order, gathered across processes."""
    was_training = model.training
    model.eval()
    with capture_input(at) as captured:

        def step(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            with accelerator.autocast():
                model(**{k: v for k, v in batch.items() if k != "labels"})
            return {"features": flat_features(captured.pop()).float()}

        features = run_batches(step, dataset, collate, accelerator, batch_size, desc)["features"]
    model.train(was_training)
    return features
