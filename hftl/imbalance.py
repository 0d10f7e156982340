"""Class imbalance: loss weights, a balanced sampler, and when to report per-class recall."""

from __future__ import annotations

import numpy as np
import torch

from hftl.errors import RecipeError

#: Label distributions whose largest/smallest class ratio exceeds this count as imbalanced.
IMBALANCE_RATIO = 1.5


def class_counts(labels, num_classes: int) -> np.ndarray:
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)


def is_imbalanced(labels, num_classes: int) -> bool:
    counts = class_counts(labels, num_classes)
    return counts.min() == 0 or counts.max() / counts.min() > IMBALANCE_RATIO


def class_weights(labels, num_classes: int, spec: str | list[float]) -> torch.Tensor | None:
    """``balanced``: n / (C * count_c); a list: given per class; ``none``: None."""
    if spec == "none":
        return None
    if isinstance(spec, list):
        if len(spec) != num_classes:
            raise RecipeError("training.class_weights", f"needs {num_classes} weights (one per class), got {len(spec)}")
        return torch.tensor(spec, dtype=torch.float32)
    counts = class_counts(labels, num_classes).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / (num_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def sample_weights(labels, num_classes: int, sampler: str) -> torch.Tensor | None:
    """Per-example weights that make every class equally likely in a ``WeightedRandomSampler``."""
    if sampler != "balanced":
        return None
    counts = class_counts(labels, num_classes)
    return torch.tensor(1.0 / counts[np.asarray(labels, dtype=np.int64)], dtype=torch.double)
