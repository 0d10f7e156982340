"""Loss functions shared by the strategies."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy in float32 (stable under mixed precision)."""
    return F.cross_entropy(logits.float(), labels, weight=weight)
