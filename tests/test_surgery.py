"""Surgery functions on a real (tiny) transformers model, and the exported result loading back."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from hftl import surgery
from hftl.errors import RecipeError
from hftl.recipe import parse_recipe
from hftl.run import train


@pytest.fixture
def model(tiny_bert):
    return AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=3, ignore_mismatched_sizes=True)


def test_truncate_keeps_first_layers_and_updates_config(model):
    first = model.bert.encoder.layer[0].output.dense.weight.clone()
    surgery.truncate_layers(model, 1)
    assert len(model.bert.encoder.layer) == 1 and model.config.num_hidden_layers == 1
    assert torch.equal(model.bert.encoder.layer[0].output.dense.weight, first)
    with pytest.raises(RecipeError, match=r"strategy.keep_layers: must be between 1 and 1"):
        surgery.truncate_layers(model, 2)


def test_reinit_changes_only_the_top_layers(model):
    bottom = model.bert.encoder.layer[0].attention.self.query.weight.clone()
    top = model.bert.encoder.layer[1].attention.self.query.weight.clone()
    torch.manual_seed(123)
    surgery.reinit_layers(model, 1)
    assert torch.equal(model.bert.encoder.layer[0].attention.self.query.weight, bottom)
    assert not torch.equal(model.bert.encoder.layer[1].attention.self.query.weight, top)


def test_head_dropout_and_pooler(model):
    surgery.set_head_dropout(model, 0.3)
    assert model.config.classifier_dropout == 0.3 and model.dropout.p == 0.3
    before = model.bert.pooler.dense.weight.clone()
    surgery.reinit_pooler(model)
    assert not torch.equal(before, model.bert.pooler.dense.weight)


def test_freeze_by_regex_and_report(model):
    surgery.freeze_by_regex(model, [r"^classifier\.", r"encoder\.layer\.1\."])
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert "classifier.weight" in trainable and "bert.encoder.layer.1.output.dense.weight" in trainable
    assert not any(n.startswith("bert.embeddings") or ".layer.0." in n for n in trainable)
    rows = dict((prefix, (t, n)) for prefix, t, n in surgery.trainable_by_module(model))
    assert rows["bert.embeddings.word_embeddings"][0] == 0 and rows["classifier"][0] == rows["classifier"][1]
    with pytest.raises(RecipeError, match=r"strategy.trainable: pattern 'nothing' matches no parameter"):
        surgery.freeze_by_regex(model, ["nothing"])


def test_surgery_run_exports_a_loadable_truncated_checkpoint(recipe_dict):
    recipe_dict["strategy"] = {"name": "surgery", "keep_layers": 1, "reinit_layers": 1, "head_dropout": 0.2,
                               "trainable": ["classifier", "encoder"]}  # fmt: skip
    recipe_dict["training"]["epochs"] = 1
    train(parse_recipe(recipe_dict))
    exported = AutoModelForSequenceClassification.from_pretrained(Path(recipe_dict["output_dir"]) / "model")
    assert exported.config.num_hidden_layers == 1 and len(exported.bert.encoder.layer) == 1
    assert exported.config.classifier_dropout == 0.2


def test_bottleneck_that_no_standard_config_holds_is_refused(recipe_dict):
    recipe_dict["strategy"] = {"name": "surgery", "bottleneck": 64}
    with pytest.raises(RecipeError, match=r"strategy.bottleneck: .* cannot be saved in the standard"):
        train(parse_recipe(recipe_dict))
