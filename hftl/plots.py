"""Figures for runs: 2-D projections of source vs target features, training curves (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D


def project_2d(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """t-SNE of standardized features (PCA to 50 dims first when wider), the usual domain-adaptation picture."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = (features - features.mean(0)) / (features.std(0) + 1e-6)
    if x.shape[1] > 50:
        x = PCA(n_components=50, random_state=seed).fit_transform(x)
    return TSNE(n_components=2, init="pca", random_state=seed, perplexity=min(30, len(x) - 1)).fit_transform(x)


def plot_domains(panels: dict[str, dict[str, tuple[np.ndarray, np.ndarray | None]]], path: Path) -> Path:
    """One panel per model: each domain's features (2-D projection), marker by domain, colour by class.

    ``panels[title][domain] = (features, labels)``; labels None draws a domain in gray (unlabeled).
    """
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 5), squeeze=False)
    markers = ["o", "x", "^", "s"]
    for ax, (title, domains) in zip(axes[0], panels.items(), strict=True):
        features = np.concatenate([f for f, _ in domains.values()])
        points = project_2d(features)
        start = 0
        for marker, (domain, (feats, labels)) in zip(markers, domains.items(), strict=False):
            xy = points[start : start + len(feats)]
            start += len(feats)
            if labels is None:  # unlabeled domain
                ax.scatter(xy[:, 0], xy[:, 1], c="lightgray", marker=marker, s=12, alpha=0.7, label=domain)
            else:
                ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="tab10", marker=marker, s=12, alpha=0.7, label=domain,
                           vmin=0, vmax=9)  # fmt: skip
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        shown = zip(markers, domains, strict=False)
        handles = [Line2D([], [], marker=m, color="gray", linestyle="", label=d) for m, d in shown]
        ax.legend(handles=handles, loc="best", fontsize=8, title="colour = class", title_fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_curves(histories: dict[str, list[dict]], path: Path, keys: tuple[str, ...] = ("loss", "cls_loss")) -> Path:
    """Training curves: one subplot per logged key, one line per run (x = optimizer step)."""
    shown = [k for k in keys if any(k in r for h in histories.values() for r in h)]
    fig, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 3.8), squeeze=False)
    for ax, key in zip(axes[0], shown, strict=True):
        for run, history in histories.items():
            rows = [r for r in history if key in r]
            if rows:
                ax.plot([r["step"] for r in rows], [r[key] for r in rows], label=run)
        ax.set_xlabel("step")
        ax.set_title(key)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
