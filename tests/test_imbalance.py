"""Class weights, the balanced sampler and per-class recall on skewed labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hftl import imbalance
from hftl.errors import RecipeError
from hftl.recipe import parse_recipe
from hftl.run import train


def test_balanced_class_weights_and_sample_weights():
    labels = [0] * 6 + [1] * 2
    torch.testing.assert_close(imbalance.class_weights(labels, 2, "balanced"), torch.tensor([8 / 12, 8 / 4]))
    assert imbalance.class_weights(labels, 2, "none") is None
    torch.testing.assert_close(imbalance.class_weights(labels, 2, [1.0, 3.0]), torch.tensor([1.0, 3.0]))
    with pytest.raises(RecipeError, match=r"training\.class_weights: needs 2 weights"):
        imbalance.class_weights(labels, 2, [1.0])
    weights = imbalance.sample_weights(labels, 2, "balanced")
    assert float(weights[:6].sum()) == pytest.approx(float(weights[6:].sum()))
    assert imbalance.is_imbalanced(labels, 2) and not imbalance.is_imbalanced([0, 1, 0, 1], 2)


@pytest.fixture
def skewed_recipe(recipe_dict, tmp_path):
    rows = [json.loads(line) for line in Path(recipe_dict["data"]["source"]["data_files"]).read_text().splitlines()]
    kept = [r for r in rows if r["label"] == 1] + [r for r in rows if r["label"] == 0][:10]
    path = tmp_path / "skewed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))
    recipe_dict["data"]["source"]["data_files"] = str(path)
    recipe_dict["training"]["epochs"] = 1
    return recipe_dict


def test_skewed_source_reports_per_class_recall(skewed_recipe):
    metrics = train(parse_recipe(skewed_recipe))
    assert {"source_val/recall/0", "source_val/recall/1", "target_test/recall/0"} <= set(metrics)


@pytest.mark.parametrize("option", [{"class_weights": "balanced"}, {"sampler": "balanced"}])
def test_imbalance_options_train(skewed_recipe, option):
    skewed_recipe["training"].update(option)
    metrics = train(parse_recipe(skewed_recipe))
    assert np.isfinite(metrics["target_test/accuracy"]) and "target_test/recall/1" in metrics


def test_balanced_sampler_draws_classes_evenly(skewed_recipe):
    from hftl.train import _loader

    recipe = parse_recipe(skewed_recipe)
    labels = [0] * 10 + [1] * 40
    weights = imbalance.sample_weights(labels, 2, "balanced")
    dataset = [{"labels": torch.tensor(y)} for y in labels] * 20
    loader = _loader(dataset, lambda rows: torch.stack([r["labels"] for r in rows]), recipe.training, 1,
                     weights.repeat(20))  # fmt: skip
    drawn = torch.cat(list(loader))
    assert 0.4 < drawn.float().mean() < 0.6
