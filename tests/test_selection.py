"""Label-free selection: SND prefers dense, consistent target predictions; DEV estimates the target risk."""

from __future__ import annotations

import numpy as np
import pytest

from hftl.recipe import parse_recipe
from hftl.run import train
from hftl.selection import cross_entropy, deep_embedded_validation, soft_neighborhood_density


def test_snd_prefers_clustered_predictions_over_scattered_ones():
    rng = np.random.default_rng(0)
    centers = np.eye(4) * 8
    classes = rng.integers(0, 4, 400)
    clustered = centers[classes] + rng.normal(0, 0.3, (400, 4))
    scattered = rng.normal(0, 3, (400, 4))
    # confident, consistent predictions: each example spreads evenly over the rest of its class
    expected = np.mean([np.log(np.sum(classes == c) - 1) for c in classes])
    assert soft_neighborhood_density(clustered) == pytest.approx(expected, abs=0.05)
    assert soft_neighborhood_density(scattered) < soft_neighborhood_density(clustered) - 0.2


def test_snd_ignores_row_order_and_samples_large_inputs():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, (300, 3))
    assert soft_neighborhood_density(logits) == pytest.approx(soft_neighborhood_density(logits[::-1].copy()))
    big = np.repeat(logits, 10, axis=0)
    assert np.isfinite(soft_neighborhood_density(big, max_rows=500))


def shifted_domains(shift: float, rows: int = 1500, seed: int = 0):
    """Source and target features in 3-D, the target moved by ``shift`` along x0; the loss grows with x0."""
    rng = np.random.default_rng(seed)
    source = rng.normal(0, 1, (rows, 3))
    target = rng.normal(0, 1, (rows, 3)) + np.array([shift, 0, 0])

    def loss(x):
        return np.log1p(np.exp(2 * x[:, 0])) + rng.normal(0, 0.1, len(x)).clip(-0.2, 0.2)

    return source, loss(source), target, loss(target)


@pytest.mark.parametrize("shift", [0.0, 0.5, 1.0])
def test_dev_estimates_the_target_loss_from_source_rows(shift):
    source, source_loss, target, target_loss = shifted_domains(shift)
    dev = deep_embedded_validation(source, source_loss, target)
    assert dev == pytest.approx(target_loss.mean(), abs=0.1)
    if shift == 1.0:  # the plain source mean misses the target risk by more than 1
        assert target_loss.mean() - source_loss.mean() > 1.0


def test_dev_samples_large_inputs_and_cross_entropy_is_per_row():
    source, source_loss, target, _ = shifted_domains(0.5, rows=3000)
    assert np.isfinite(deep_embedded_validation(source, source_loss, target, max_rows=400))
    logits = np.array([[2.0, 0.0], [0.0, 0.0]])
    assert cross_entropy(logits, np.array([0, 1])) == pytest.approx([np.log1p(np.exp(-2.0)), np.log(2.0)])


def test_dev_uses_fewer_folds_on_tiny_splits_and_gives_nan_below_two_rows():
    source, source_loss, target, _ = shifted_domains(0.5, rows=40)
    assert np.isfinite(deep_embedded_validation(source[:3], source_loss[:3], target))
    assert np.isnan(deep_embedded_validation(source[:1], source_loss[:1], target))


def test_every_run_reports_the_label_free_scores_and_they_can_be_turned_off(recipe_dict):
    recipe_dict["training"]["epochs"] = 1
    metrics = train(parse_recipe(recipe_dict))
    assert np.isfinite(metrics["target_train/snd"]) and metrics["target_train/snd"] > 0
    assert np.isfinite(metrics["target_train/dev_risk"]) and metrics["target_train/dev_risk"] > 0
    recipe_dict["eval"] = {"label_free": False}
    recipe_dict["output_dir"] += "-off"
    metrics = train(parse_recipe(recipe_dict))
    assert "target_train/snd" not in metrics and "target_train/dev_risk" not in metrics
