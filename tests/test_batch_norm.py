"""AdaBN: batch-norm statistics re-estimated on target data; refused where it cannot apply."""

from __future__ import annotations

import pytest
import torch
from accelerate import Accelerator
from torch import nn

from hftl.batch_norm import recompute_batch_norm
from hftl.errors import RecipeError
from hftl.recipe import parse_recipe
from hftl.run import prepare_checkpoint, train


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 4)
        self.norm = nn.BatchNorm1d(4)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.norm(self.linear(x)))


def test_statistics_become_the_datasets_own():
    torch.manual_seed(0)
    model = Tiny()
    data = [{"x": torch.randn(3) * 5 + 2} for _ in range(40)]
    weights = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k and "num_batches" not in k}
    model.norm.running_mean.fill_(7.0)
    model.train()
    n = recompute_batch_norm(model, data, lambda rows: {"x": torch.stack([r["x"] for r in rows])}, Accelerator(), 8)
    assert n == 1 and model.training and model.norm.momentum == 0.1
    with torch.no_grad():
        hidden = model.linear(torch.stack([r["x"] for r in data]))
    torch.testing.assert_close(model.norm.running_mean, hidden.mean(0))
    # the cumulative average of per-batch unbiased variances (5 equal batches) is close to the full variance
    torch.testing.assert_close(model.norm.running_var, hidden.var(0), rtol=0.15, atol=0)
    for key, value in weights.items():
        assert torch.equal(model.state_dict()[key], value)


def test_target_batch_norm_run_exports_target_statistics(image_recipe_dict, tiny_vision):
    image_recipe_dict["model"]["checkpoint"] = str(tiny_vision["mobilenet"])
    image_recipe_dict["training"].update(epochs=1, batch_norm="target")
    recipe = parse_recipe(image_recipe_dict)
    train(recipe)
    # re-estimating on the same target pool with the exported weights changes nothing: they are the target's
    prepared = prepare_checkpoint(recipe, recipe.output_dir)
    model, ctx = prepared.strategy.model, prepared.ctx
    exported = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    assert recompute_batch_norm(model, ctx.data.splits["target_train"], ctx.collate, ctx.accelerator, 16) > 10
    for key, value in model.state_dict().items():
        if "running" in key:
            torch.testing.assert_close(value, exported[key], rtol=1e-4, atol=1e-5)
    # ...while the source pool's statistics differ (the domains are inverted images of each other)
    recompute_batch_norm(model, ctx.data.splits["source_train"], ctx.collate, ctx.accelerator, 16)
    first = "mobilenet_v2.conv_stem.first_conv.normalization.running_mean"
    assert not torch.allclose(model.state_dict()[first], exported[first], atol=1e-2)


@pytest.mark.parametrize(
    ("arch", "strategy", "message"),
    [("mobilenet", {"name": "frozen"}, "uses cached features"), ("vit", {"name": "finetune"}, "has none")],
)
def test_target_batch_norm_is_refused_before_training(image_recipe_dict, tiny_vision, arch, strategy, message):
    image_recipe_dict["model"]["checkpoint"] = str(tiny_vision[arch])
    image_recipe_dict["strategy"] = strategy
    image_recipe_dict["training"]["batch_norm"] = "target"
    with pytest.raises(RecipeError, match=f"^training.batch_norm: re-estimating .*{message}"):
        train(parse_recipe(image_recipe_dict))
