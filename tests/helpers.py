"""Helpers for tests that build a run in-process."""

from __future__ import annotations

import torch

from hftl.recipe import parse_recipe
from hftl.run import make_accelerator, prepare


def prepared_run(recipe_dict: dict, overrides: list[str] | None = None):
    """(recipe, Prepared) for the tiny model, without training."""
    recipe = parse_recipe(recipe_dict, overrides)
    return recipe, prepare(recipe, make_accelerator(recipe, None))


def one_training_step(strategy, ctx):
    """One optimizer step on 8 training rows: (outputs, gradients, names of the parameters that changed)."""
    data = strategy.train_data(ctx)
    batch = data.collate([data.source[i] for i in range(8)])
    target = data.collate([data.target[i] for i in range(8)]) if data.target is not None else None
    before = {n: p.detach().clone() for n, p in strategy.named_parameters()}
    optimizer = torch.optim.AdamW(strategy.param_groups(ctx.recipe.training), lr=1e-2)
    out = strategy(batch, target, 0.5)
    out["loss"].backward()
    grads = {n: p.grad for n, p in strategy.named_parameters()}
    optimizer.step()
    changed = {n for n, p in strategy.named_parameters() if not torch.equal(p, before[n])}
    return out, grads, changed


def assert_same_metrics(reloaded: dict, metrics: dict) -> None:
    """A reloaded export's evaluation equals the run's (train/* aside). Accuracy, F1 and SND to ~1e-6; DEV's
    domain classifier is a fitted model, so float noise in the features moves it by up to the solver's tolerance."""
    import pytest

    expected = {k: v for k, v in metrics.items() if not k.startswith("train/")}
    dev_key = "target_train/dev_risk"
    assert set(reloaded) == set(expected)
    assert reloaded.get(dev_key) == pytest.approx(expected.get(dev_key), rel=1e-3)
    rest = {k: v for k, v in reloaded.items() if k != dev_key}
    assert rest == pytest.approx({k: v for k, v in expected.items() if k != dev_key}, rel=1e-6)
