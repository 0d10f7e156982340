"""Recipe parsing, coercion, overrides and one-line errors naming the field."""

from __future__ import annotations

import pytest
import yaml

from hftl.errors import RecipeError
from hftl.recipe import load_recipe, parse_recipe


def test_valid_recipe_fills_defaults_and_coerces_yaml_strings(recipe_dict):
    recipe_dict["training"]["learning_rate"] = "2e-5"  # PyYAML reads 2e-5 as a string
    recipe = parse_recipe(recipe_dict)
    assert recipe.training.learning_rate == pytest.approx(2e-5)
    assert recipe.strategy.name == "finetune"
    assert recipe.data.split.target_labeled_per_class == 0


def test_strategy_may_be_a_bare_name(recipe_dict):
    recipe_dict["strategy"] = "frozen"
    assert parse_recipe(recipe_dict).strategy.name == "frozen"


def test_resolved_recipe_round_trips(recipe_dict):
    recipe = parse_recipe(recipe_dict)
    assert parse_recipe(yaml.safe_load(recipe.to_yaml())) == recipe


def _error(recipe_dict, overrides=None) -> str:
    with pytest.raises(RecipeError) as info:
        parse_recipe(recipe_dict, overrides)
    return str(info.value)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda r: r["training"].update(epoch=3), "training.epoch: unknown key; did you mean 'epochs'?"),
        (lambda r: r.update(outptu_dir="x"), "outptu_dir: unknown key; did you mean 'output_dir'?"),
        (lambda r: r["data"]["source"].update(text_colum="t"), "data.source.text_colum: unknown key; did you mean"),
        (lambda r: r["data"]["split"].update(sed=1), "data.split.sed: unknown key; did you mean 'seed'?"),
        (
            lambda r: r["strategy"].update(layer_dacay=0.9),
            "strategy.layer_dacay: unknown key; did you mean 'layer_decay'",
        ),
        (
            lambda r: r["strategy"].update(name="fintune"),
            "strategy.name: unknown strategy 'fintune'; did you mean 'finetune'?",
        ),
        (lambda r: r["training"].update(batch_size="many"), "training.batch_size: Input should be a valid integer"),
        (lambda r: r["training"].update(batch_size=0), "training.batch_size: Input should be greater than 0"),
        (
            lambda r: r["data"]["split"].update(source_val_fraction=1.5),
            "data.split.source_val_fraction: Input should be less than 1",
        ),
        (
            lambda r: r["training"].update(mixed_precision="fp8"),
            "training.mixed_precision: Input should be 'no', 'fp16' or 'bf16'",
        ),
        (lambda r: r.pop("output_dir"), "output_dir: missing required field"),
        (lambda r: r["model"].pop("checkpoint"), "model.checkpoint: missing required field"),
        (lambda r: r["strategy"].update(layer_decay=0), "strategy.layer_decay: Input should be greater than 0"),
    ],
)
def test_bad_recipes_name_the_field(recipe_dict, edit, expected):
    edit(recipe_dict)
    assert expected in _error(recipe_dict)


def test_set_overrides_are_parsed_and_validated(recipe_dict):
    recipe = parse_recipe(recipe_dict, ["training.epochs=5", "strategy.name=frozen", "training.learning_rate=3e-4"])
    assert recipe.training.epochs == 5 and recipe.strategy.name == "frozen"
    assert recipe.training.learning_rate == pytest.approx(3e-4)
    assert "training.epohs: unknown key; did you mean 'epochs'?" in _error(recipe_dict, ["training.epohs=3"])
    assert "--set: expected KEY=VALUE" in _error(recipe_dict, ["training.epochs"])


def test_malformed_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(RecipeError, match="recipe: malformed YAML at line"):
        load_recipe(bad)
    with pytest.raises(RecipeError, match="recipe: file not found"):
        load_recipe(tmp_path / "missing.yaml")
    bad.write_text("- just\n- a list\n")
    with pytest.raises(RecipeError, match="recipe: must be a YAML mapping"):
        load_recipe(bad)
