"""The Strategy contract, checked for every registered strategy, plus each strategy's own behaviour."""

from __future__ import annotations

import pytest
import torch

from hftl.strategies import registry
from hftl.strategies.finetune import layer_depth
from tests.helpers import one_training_step, prepared_run

VARIANTS = {
    **{name: {"name": name} for name in registry.names()},
    "finetune-lora": {"name": "finetune", "peft": {"method": "lora", "r": 4, "target_modules": ["query", "value"]}},
    "finetune-ia3": {"name": "finetune", "peft": {"method": "ia3", "target_modules": ["key", "value", "output.dense"],
                                                  "feedforward_modules": ["output.dense"]}},
    "frozen-pooler": {"name": "frozen", "features": "pooler_input"},
    **{f"adversarial-{m}": {"name": "adversarial", "method": m} for m in ("dann", "cdan", "mmd", "coral")},
    "adversarial-cdan-e-randomized": {"name": "adversarial", "method": "cdan", "entropy_conditioning": True,
                                      "randomized": True, "randomized_dim": 16},
    "adversarial-dann-lora": {"name": "adversarial", "method": "dann", "peft": {"method": "lora", "r": 2}},
    "adversarial-frozen-mmd": {"name": "adversarial", "method": "mmd", "encoder": "frozen"},
    "adversarial-frozen-dann": {"name": "adversarial", "method": "dann", "encoder": "frozen"},
}  # fmt: skip
HEAD = {"model.classifier.weight", "model.classifier.bias"}
POOLER = {"model.bert.pooler.dense.weight", "model.bert.pooler.dense.bias"}


def _discriminator(names):
    return {n for n in names if n.startswith("discriminator.")}


@pytest.mark.parametrize("variant", VARIANTS)
def test_strategy_contract(recipe_dict, variant):
    recipe_dict["strategy"] = VARIANTS[variant]
    _, prepared = prepared_run(recipe_dict)
    strategy = prepared.strategy
    out, grads, changed = one_training_step(strategy, prepared.ctx)
    assert torch.isfinite(out["loss"]) and out["loss"].ndim == 0
    frozen = {n for n, p in strategy.named_parameters() if not p.requires_grad}
    assert all(grads[n] is None for n in frozen), "frozen parameters received gradients"
    assert changed and not changed & frozen, "only trainable parameters may change"
    trainable = {n for n, p in strategy.named_parameters() if p.requires_grad}
    if variant == "frozen":
        assert trainable == HEAD
    if variant in ("frozen-pooler", "adversarial-frozen-mmd"):
        assert trainable == HEAD | POOLER
    if variant == "adversarial-frozen-dann":
        assert trainable - _discriminator(trainable) == HEAD | POOLER
    if "lora" in variant:
        assert all("lora_" in n or "classifier" in n or n.startswith("discriminator.") for n in trainable)
        assert any("lora_" in n for n in changed)


def test_frozen_trains_on_cached_features_and_reuses_the_disk_cache(recipe_dict):
    recipe_dict["strategy"] = {"name": "frozen"}
    _, first = prepared_run(recipe_dict)
    features = first.strategy.train_data(first.ctx).source.features
    assert first.ctx.feature_cache.misses == 1
    assert features.shape == (60, 32)
    _, second = prepared_run(recipe_dict)
    again = second.strategy.train_data(second.ctx).source.features
    assert second.ctx.feature_cache.misses == 0 and second.ctx.feature_cache.hits == 1
    assert torch.equal(features, again)


def test_frozen_cache_key_changes_with_max_length(recipe_dict):
    recipe_dict["strategy"] = {"name": "frozen"}
    _, first = prepared_run(recipe_dict)
    first.strategy.train_data(first.ctx)
    _, other = prepared_run(recipe_dict, ["training.max_length=4"])
    other.strategy.train_data(other.ctx)
    assert other.ctx.feature_cache.misses == 1


def test_cached_features_equal_the_models_own_head_input(recipe_dict):
    recipe_dict["strategy"] = {"name": "frozen"}
    _, prepared = prepared_run(recipe_dict)
    strategy, ctx = prepared.strategy, prepared.ctx
    cached, _ = strategy.eval_data(ctx, "target_test")
    rows = ctx.data.splits["target_test"]
    batch = ctx.collate([rows[i] for i in range(5)])
    strategy.eval()
    with torch.no_grad():
        direct = strategy.model(**{k: v for k, v in batch.items() if k != "labels"}).logits
        via_cache = strategy.predict({"features": cached.features[:5]})
    torch.testing.assert_close(direct, via_cache, rtol=1e-5, atol=1e-5)


def test_layer_decay_scales_learning_rate_by_depth(recipe_dict):
    recipe_dict["strategy"] = {"name": "finetune", "layer_decay": 0.5}
    recipe, prepared = prepared_run(recipe_dict)
    groups = prepared.strategy.param_groups(recipe.training)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    named = dict(prepared.strategy.named_parameters())
    base = recipe.training.learning_rate
    assert lr_of[id(named["model.classifier.weight"])] == pytest.approx(base)
    assert lr_of[id(named["model.bert.encoder.layer.1.attention.self.query.weight"])] == pytest.approx(base * 0.5)
    assert lr_of[id(named["model.bert.encoder.layer.0.attention.self.query.weight"])] == pytest.approx(base * 0.25)
    assert lr_of[id(named["model.bert.embeddings.word_embeddings.weight"])] == pytest.approx(base * 0.125)
    recipe_dict["strategy"]["head_lr_multiplier"] = 10
    _, boosted = prepared_run(recipe_dict)
    lr_boosted = {n: g["lr"] for g in boosted.strategy.param_groups(recipe.training) for n, p in
                  boosted.strategy.named_parameters() if any(p is q for q in g["params"])}  # fmt: skip
    assert lr_boosted["model.classifier.weight"] == pytest.approx(10 * base)
    assert lr_boosted["model.bert.pooler.dense.weight"] == pytest.approx(10 * base)
    assert lr_boosted["model.bert.encoder.layer.1.output.dense.weight"] == pytest.approx(base * 0.5)
    no_decay = [g for g in groups if any(p is named["model.bert.embeddings.LayerNorm.weight"] for p in g["params"])]
    assert no_decay[0]["weight_decay"] == 0.0


@pytest.mark.parametrize(
    ("name", "depth"),
    [
        ("bert.embeddings.word_embeddings.weight", 0),
        ("bert.encoder.layer.3.output.dense.weight", 4),
        ("vit.encoder.layer.0.attention.attention.query.weight", 1),
        ("classifier.weight", 7),
        ("bert.pooler.dense.bias", 7),
    ],
)
def test_layer_depth(name, depth):
    assert layer_depth(name, 6) == depth
