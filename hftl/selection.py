"""Label-free model selection: scores computed on the unlabeled target pool, never on target labels."""

from __future__ import annotations

import numpy as np
import torch


def soft_neighborhood_density(
    logits: np.ndarray, temperature: float = 0.05, max_rows: int = 2000, seed: int = 0
) -> float:
    """SND (Saito et al., ICCV 2021): how densely target predictions cluster; higher is better.

    Each example's similarities to the other examples (cosine of softmax outputs) are turned into a
    distribution with a temperature-scaled softmax; SND is the mean entropy of these distributions. A model
    whose target predictions form dense, consistent neighbourhoods scores higher. At most ``max_rows``
    examples (a seeded sample) keep the similarity matrix small.
    """
    rows = torch.as_tensor(logits, dtype=torch.float64)
    if len(rows) > max_rows:
        rows = rows[torch.from_numpy(np.random.default_rng(seed).permutation(len(rows))[:max_rows])]
    probs = torch.nn.functional.normalize(rows.softmax(-1), dim=-1)
    similarity = probs @ probs.T
    similarity.fill_diagonal_(float("-inf"))
    neighbours = (similarity / temperature).softmax(-1)
    entropy = -(neighbours * torch.log(neighbours.clamp_min(1e-12))).sum(-1)
    return float(entropy.mean())
