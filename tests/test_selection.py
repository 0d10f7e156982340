"""Label-free selection: soft neighborhood density prefers dense, consistent target predictions."""

from __future__ import annotations

import numpy as np
import pytest

from hftl.recipe import parse_recipe
from hftl.run import train
from hftl.selection import soft_neighborhood_density


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


def test_every_run_reports_the_label_free_score_and_it_can_be_turned_off(recipe_dict):
    recipe_dict["training"]["epochs"] = 1
    metrics = train(parse_recipe(recipe_dict))
    assert np.isfinite(metrics["target_train/snd"]) and metrics["target_train/snd"] > 0
    recipe_dict["eval"] = {"label_free": False}
    recipe_dict["output_dir"] += "-off"
    assert "target_train/snd" not in train(parse_recipe(recipe_dict))
