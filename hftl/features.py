"""Encode splits into head-input features once, and serve them as a dataset the loop can iterate."""

from __future__ import annotations

from collections.abc import Callable

import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from hftl.modeling import capture_head_input


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


@torch.no_grad()
def encode(
    model: torch.nn.Module, dataset, collate: Callable, accelerator: Accelerator, batch_size: int, desc: str
) -> torch.Tensor:
    """Head-input features for every row of ``dataset``, in order, gathered across processes."""
    loader = accelerator.prepare_data_loader(DataLoader(dataset, batch_size=batch_size, collate_fn=collate))
    was_training = model.training
    model.eval()
    chunks = []
    with capture_head_input(model) as captured:
        for batch in tqdm(loader, desc=desc, disable=not accelerator.is_local_main_process, leave=False):
            batch = {k: v for k, v in batch.items() if k != "labels"}
            with accelerator.autocast():
                model(**batch)
            chunks.append(accelerator.gather_for_metrics(captured.pop().float().contiguous()))
    model.train(was_training)
    return torch.cat(chunks).cpu()
