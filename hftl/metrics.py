"""Offline classification metrics and the source-vs-target report."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, recall_score


def classification_metrics(predictions: np.ndarray, labels: np.ndarray, num_labels: int) -> dict[str, float]:
    """Accuracy and macro F1 (over every class of the label set)."""
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "f1": float(f1_score(labels, predictions, average="macro", labels=list(range(num_labels)), zero_division=0)),
    }


def per_class_recall(predictions: np.ndarray, labels: np.ndarray, names: list[str]) -> dict[str, float]:
    """``recall/<class name>`` for every class (0 where a class is absent from ``labels``)."""
    recalls = recall_score(labels, predictions, labels=list(range(len(names))), average=None, zero_division=0)
    return {f"recall/{name}": float(r) for name, r in zip(names, recalls, strict=True)}


def report_table(metrics: dict[str, float], splits: list[str], keys: tuple[str, ...] = ("accuracy", "f1")) -> str:
    """A fixed-width table: one row per split, one column per metric, plus the source-target gap."""
    width = max(len(s) for s in [*splits, "split"]) + 2
    lines = ["split".ljust(width) + "".join(k.rjust(10) for k in keys)]
    for split in splits:
        row = "".join(f"{100 * metrics[f'{split}/{k}']:10.2f}" for k in keys)
        lines.append(split.ljust(width) + row)
    if "source_val/accuracy" in metrics and "target_test/accuracy" in metrics:
        gap = 100 * (metrics["source_val/accuracy"] - metrics["target_test/accuracy"])
        lines.append(f"transfer gap (source_val - target_test accuracy): {gap:.2f} points")
    if "target_train/dev_risk" in metrics:
        lines.append(f"label-free scores (no target labels): DEV risk {metrics['target_train/dev_risk']:.4f} (lower is "
                     f"better), SND {metrics['target_train/snd']:.4f} (higher is better)")  # fmt: skip
    return "\n".join(lines)
