"""Label-free model selection: scores that use the unlabeled target pool (and source labels), never target labels."""

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


def deep_embedded_validation(
    source_features: np.ndarray,
    source_losses: np.ndarray,
    target_features: np.ndarray,
    max_rows: int = 2000,
    seed: int = 0,
) -> float:
    """DEV (You et al., ICML 2019): the target risk estimated from labeled source validation rows; lower is better.

    A domain classifier (standardized logistic regression) on the model's features gives each source row a
    density ratio w = p(target | x) / p(source | x) * n_source / n_target, from out-of-fold predictions so no row
    scores itself. DEV is the mean of w * loss with w as a control variate (which reduces the variance of the
    importance-weighted mean). At most ``max_rows`` rows per domain (a seeded sample) are used.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folds_count = min(5, len(source_features), len(target_features))
    if folds_count < 2:
        return float("nan")  # too few rows to fit a domain classifier out of fold
    rng = np.random.default_rng(seed)
    keep_source = rng.permutation(len(source_features))[:max_rows]
    keep_target = rng.permutation(len(target_features))[:max_rows]
    source, losses, target = source_features[keep_source], source_losses[keep_source], target_features[keep_target]
    features = np.concatenate([source, target]).astype(np.float64)
    domains = np.r_[np.zeros(len(source)), np.ones(len(target))]
    folds = StratifiedKFold(n_splits=folds_count, shuffle=True, random_state=seed)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    p_target = cross_val_predict(classifier, features, domains, cv=folds, method="predict_proba")[: len(source), 1]
    p_target = np.clip(p_target, 1e-3, 1 - 1e-3)
    weights = p_target / (1 - p_target) * len(source) / len(target)
    weighted = weights * losses
    variance = np.var(weights, ddof=1)
    eta = -np.cov(weighted, weights)[0, 1] / variance if variance > 0 else 0.0
    return float(np.mean(weighted) + eta * np.mean(weights) - eta)


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-row cross-entropy of ``logits`` against integer ``labels``."""
    log_probs = torch.as_tensor(logits, dtype=torch.float64).log_softmax(-1)
    return -log_probs[torch.arange(len(labels)), torch.as_tensor(labels)].numpy()
