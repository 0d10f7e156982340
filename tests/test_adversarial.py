"""Adversarial strategy end to end: paired batches, logged alignment terms, exports that reproduce evaluation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from hftl.errors import RecipeError
from hftl.recipe import parse_recipe
from hftl.run import evaluate_checkpoint, train
from tests.helpers import assert_same_metrics


@pytest.mark.parametrize(
    "strategy",
    [
        {"name": "adversarial", "method": "dann", "head_lr_multiplier": 5},
        {"name": "adversarial", "method": "cdan", "entropy_conditioning": True},
        {"name": "adversarial", "method": "mmd", "encoder": "frozen"},
        {"name": "adversarial", "method": "coral", "encoder": "frozen", "weight": 2.0},
    ],
)
def test_adversarial_runs_log_alignment_and_export_reproduces_metrics(recipe_dict, strategy):
    recipe_dict["strategy"] = strategy
    recipe_dict["training"].update(epochs=3, logging_steps=1)
    recipe_dict["data"]["split"]["target_labeled_per_class"] = 2
    metrics = train(parse_recipe(recipe_dict))
    run = Path(recipe_dict["output_dir"])
    records = [json.loads(line) for line in (run / "log_history.jsonl").read_text().splitlines()]
    lambdas = [r["train/lambda"] for r in records]
    assert lambdas == sorted(lambdas) and lambdas[0] < lambdas[-1] <= 1.0  # the Ganin schedule rises
    assert all("train/align_loss" in r and "train/cls_loss" in r for r in records)
    if strategy["method"] in ("dann", "cdan"):
        assert all(0.0 <= r["train/domain_accuracy"] <= 1.0 for r in records)
    reloaded = evaluate_checkpoint(parse_recipe(recipe_dict), str(run))
    assert_same_metrics(reloaded, metrics)


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ({"name": "adversarial", "method": "dan"}, "strategy.method: Input should be 'dann', 'cdan', 'mmd' or 'coral'"),
        ({"name": "adversarial", "encoder": "frozen", "features": "head_input"}, "leaves nothing to align"),
        ({"name": "adversarial", "encoder": "frozen", "peft": {"method": "lora"}}, "cannot be combined"),
        ({"name": "adversarial", "weight": -1}, "strategy.weight: Input should be greater than or equal to 0"),
    ],
)
def test_bad_adversarial_options(recipe_dict, strategy, expected):
    recipe_dict["strategy"] = strategy
    with pytest.raises(RecipeError) as info:
        parse_recipe(recipe_dict)
    assert expected in str(info.value)


def test_alignment_starts_after_align_start(recipe_dict):
    from tests.helpers import prepared_run

    recipe_dict["strategy"] = {"name": "adversarial", "align_start": 0.5, "gamma": 10}
    _, prepared = prepared_run(recipe_dict)
    strategy = prepared.strategy
    assert strategy.lambda_at(0.0) == strategy.lambda_at(0.49) == 0.0
    assert strategy.lambda_at(0.75) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    recipe_dict["strategy"]["schedule"] = "constant"
    _, constant = prepared_run(recipe_dict)
    assert constant.strategy.lambda_at(0.2) == 0.0 and constant.strategy.lambda_at(0.6) == 1.0
