"""Helpers for tests that build a run in-process."""

from __future__ import annotations

from hftl.recipe import parse_recipe
from hftl.run import make_accelerator, prepare


def prepared_run(recipe_dict: dict, overrides: list[str] | None = None):
    """(recipe, Prepared) for the tiny model, without training."""
    recipe = parse_recipe(recipe_dict, overrides)
    return recipe, prepare(recipe, make_accelerator(recipe, None))
