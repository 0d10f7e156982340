"""PEFT in finetune: options by method name, the head saved with the adapter, merges that keep predictions."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard
from transformers import AutoModelForSequenceClassification

from hftl.errors import RecipeError
from hftl.recipe import parse_recipe
from hftl.run import evaluate_checkpoint, train
from tests.helpers import assert_same_metrics, prepared_run

LORA = {"method": "lora", "r": 4, "alpha": 8, "target_modules": ["query", "value"]}


def _logits(model, recipe_dict):
    _, prepared = prepared_run(recipe_dict)
    rows = prepared.ctx.data.splits["target_test"]
    batch = prepared.ctx.collate([{k: v for k, v in rows[i].items() if k != "labels"} for i in range(len(rows))])
    model.eval()
    with torch.no_grad():
        return model(**batch).logits


@pytest.mark.parametrize("merge", [False, True])
def test_lora_export_reproduces_hftl_predictions(recipe_dict, merge):
    recipe_dict["strategy"] = {"name": "finetune", "peft": LORA}
    recipe_dict["training"].update(epochs=8, learning_rate=5e-3)
    recipe_dict["export"] = {"merge": merge}
    metrics = train(parse_recipe(recipe_dict))
    model_dir = Path(recipe_dict["output_dir"]) / "model"
    assert (model_dir / "adapter_config.json").is_file() != merge
    reloaded = evaluate_checkpoint(parse_recipe(recipe_dict), str(model_dir))
    assert_same_metrics(reloaded, metrics)
    card = ModelCard.load(model_dir / "README.md")
    assert card.data.library_name == ("transformers" if merge else "peft")
    if merge:
        plain = AutoModelForSequenceClassification.from_pretrained(model_dir)
        assert not any("lora" in n for n, _ in plain.named_parameters())
    else:
        from peft import AutoPeftModelForSequenceClassification

        adapter = AutoPeftModelForSequenceClassification.from_pretrained(model_dir)
        merged = AutoModelForSequenceClassification.from_pretrained(model_dir) if merge else None
        assert merged is None
        trained_head = adapter.base_model.model.classifier.modules_to_save["default"].weight
        assert not torch.allclose(trained_head, torch.zeros_like(trained_head))
        torch.testing.assert_close(_logits(adapter, recipe_dict), _logits(adapter.merge_and_unload(), recipe_dict),
                                   rtol=1e-4, atol=1e-5)  # fmt: skip


@pytest.mark.parametrize(
    ("peft", "expected"),
    [
        ({"method": "lorra"}, "strategy.peft: unknown PEFT method 'lorra'; did you mean 'lora'?"),
        ({"method": "lora", "rr": 4}, "strategy.peft: unknown option 'rr' for lora; did you mean 'r'?"),
    ],
)
def test_bad_peft_options_name_the_field(recipe_dict, peft, expected):
    recipe_dict["strategy"] = {"name": "finetune", "peft": peft}
    with pytest.raises(RecipeError) as info:
        parse_recipe(recipe_dict)
    assert expected in str(info.value)


def test_target_modules_matching_nothing_fail_clearly(recipe_dict):
    recipe_dict["strategy"] = {"name": "finetune", "peft": {"method": "lora", "target_modules": ["nope"]}}
    with pytest.raises(RecipeError, match=r"strategy.peft.target_modules: .*nope"):
        prepared_run(recipe_dict)
