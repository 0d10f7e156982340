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
