"""How far apart are source and target? Proxy A-distance on the frozen encoder's features, label shift, a picture."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hftl.recipe import Recipe


@dataclass
class ShiftReport:
    """``proxy_a_distance``: 0 = a linear classifier cannot tell the domains apart, 2 = it always can."""

    proxy_a_distance: float
    domain_error: float
    examples_per_domain: int
    source_labels: dict[str, float]
    target_labels: dict[str, float]
    label_shift: float  # total variation distance between the two label distributions

    def table(self) -> str:
        lines = [
            f"proxy A-distance: {self.proxy_a_distance:.3f}  (linear domain classifier error "
            f"{100 * self.domain_error:.1f}% on {self.examples_per_domain} examples per domain; "
            "0 = same distribution, 2 = fully separable)",
            f"label shift (total variation, source train vs target test): {self.label_shift:.3f}",
            f"{'class':<20}{'source':>10}{'target':>10}",
        ]
        for name, share in self.source_labels.items():
            lines.append(f"{name:<20}{100 * share:>9.1f}%{100 * self.target_labels.get(name, 0.0):>9.1f}%")
        return "\n".join(lines)


def proxy_a_distance(source: np.ndarray, target: np.ndarray, seed: int = 0) -> tuple[float, float, int]:
    """(PAD, domain error, n) after Ben-David et al. (2007): 2 (1 - 2 err) of a linear domain classifier.

    The error is measured by 2-fold cross-validation on ``n`` examples of each domain (the smaller size);
    an error above 0.5 (chance) counts as 0.5, so PAD is in [0, 2].
    """
    rng = np.random.default_rng(seed)
    n = min(len(source), len(target))
    x = np.concatenate([source[rng.permutation(len(source))[:n]], target[rng.permutation(len(target))[:n]]])
    y = np.repeat([0, 1], n)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=seed)
    error = min(0.5, 1.0 - float(cross_val_score(classifier, x, y, cv=folds).mean()))
    return 2.0 * (1.0 - 2.0 * error), error, n


def label_distribution(labels: np.ndarray, names: list[str]) -> dict[str, float]:
    counts = np.bincount(labels, minlength=len(names)).astype(float)
    return {name: float(c / counts.sum()) for name, c in zip(names, counts, strict=True)}


def measure_shift(recipe: Recipe, out_dir: Path, max_rows: int = 2000) -> ShiftReport:
    """Features of the pretrained checkpoint (cached like ``frozen``) on the source and unlabeled target pools."""
    from hftl.plots import plot_domains
    from hftl.run import make_accelerator, prepare
    from hftl.strategies import registry
    from hftl.strategies.frozen import split_features

    recipe = recipe.model_copy(update={"strategy": registry.config_class("frozen")()})
    prepared = prepare(recipe, make_accelerator(recipe, None))
    ctx, strategy = prepared.ctx, prepared.strategy
    features = {
        split: split_features(ctx, strategy.model, strategy.point, split, recipe.strategy.encode_batch_size)
        for split in ("source_train", "target_train")
    }
    source, target = (features[s].features.numpy() for s in ("source_train", "target_train"))
    pad, error, n = proxy_a_distance(source[:max_rows], target[:max_rows], recipe.data.split.seed)
    names = ctx.data.label_names
    source_labels = label_distribution(np.asarray(ctx.data.splits["source_train"]["labels"]), names)
    target_labels = label_distribution(np.asarray(ctx.data.splits["target_test"]["labels"]), names)
    shift = 0.5 * sum(abs(source_labels[k] - target_labels[k]) for k in names)
    report = ShiftReport(pad, error, n, source_labels, target_labels, float(shift))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "shift.json").write_text(json.dumps(asdict(report), indent=2))
    source_y = features["source_train"].labels.numpy()
    sample = slice(0, 500)
    panel = {"source": (source[sample], source_y[sample]), "target (unlabeled)": (target[sample], None)}
    plot_domains({f"pretrained features (PAD {pad:.2f})": panel}, out_dir / "projection.png")
    return report
