"""End-to-end runs in-process on the tiny model: outputs contract, export equivalence, resume, LP-FT."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, pipeline

from hftl.errors import RecipeError
from hftl.evaluation import predict_split
from hftl.recipe import parse_recipe
from hftl.run import evaluate_checkpoint, train
from tests.helpers import prepared_run

CONTRACT_KEYS = {
    "source_val/accuracy",
    "source_val/f1",
    "target_test/accuracy",
    "target_test/f1",
    "train/samples_per_second",
    "train/runtime_s",
}


def test_finetune_run_writes_the_output_contract(recipe_dict):
    recipe_dict["training"]["epochs"] = 10
    metrics = train(parse_recipe(recipe_dict))
    run = Path(recipe_dict["output_dir"])
    assert set(json.loads((run / "metrics.json").read_text())) >= CONTRACT_KEYS
    assert metrics["source_val/accuracy"] >= 0.9, metrics  # the tiny task is learnable; a broken loop is not
    assert parse_recipe(__import__("yaml").safe_load((run / "recipe.yaml").read_text())).training.epochs == 10
    model = AutoModelForSequenceClassification.from_pretrained(run / "model")
    assert model.config.id2label == {0: "0", 1: "1"} and model.config.label2id == {"0": 0, "1": 1}
    assert (run / "model" / "model.safetensors").is_file() and (run / "model" / "README.md").is_file()
    assert evaluate_checkpoint(parse_recipe(recipe_dict), str(run)) == {
        k: v for k, v in metrics.items() if not k.startswith("train/")
    }


def test_frozen_export_predicts_exactly_like_the_cached_path(recipe_dict):
    recipe_dict["strategy"] = {"name": "frozen"}
    recipe_dict["training"].update(epochs=20, learning_rate=0.05)
    train(parse_recipe(recipe_dict))
    run = Path(recipe_dict["output_dir"])
    _, prepared = prepared_run(recipe_dict, ["cache.enabled=true"])
    strategy, ctx = prepared.strategy, prepared.ctx
    strategy.model.load_state_dict(AutoModelForSequenceClassification.from_pretrained(run / "model").state_dict())
    features, collate = strategy.eval_data(ctx, "target_test")
    cached_logits = predict_split(strategy, features, collate, ctx.accelerator, 16).logits
    texts = ctx.data.splits["target_test"]
    raw = parse_recipe(recipe_dict)
    from hftl.data import build_domain_data

    raw_texts = list(build_domain_data(raw.data, {}).splits["target_test"]["text"])
    assert len(raw_texts) == len(texts)
    classify = pipeline(
        "text-classification",
        model=str(run / "model"),
        tokenizer=str(run / "model"),
        top_k=None,
        function_to_apply="none",
        device="cpu",
    )
    piped = classify(raw_texts, truncation=True, max_length=raw.training.max_length)
    piped_logits = np.array([[d["score"] for d in sorted(row, key=lambda d: d["label"])] for row in piped])
    np.testing.assert_allclose(piped_logits, cached_logits, rtol=1e-4, atol=1e-5)


def test_existing_run_is_never_overwritten_silently(recipe_dict):
    recipe_dict["training"]["epochs"] = 1
    train(parse_recipe(recipe_dict))
    run = Path(recipe_dict["output_dir"])
    before = (run / "metrics.json").read_text()
    with pytest.raises(RecipeError, match=r"output_dir: .* already holds files; pass --resume .* or --overwrite"):
        train(parse_recipe(recipe_dict))
    assert (run / "metrics.json").read_text() == before
    other = run.parent / "not-a-run"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    recipe_dict["output_dir"] = str(other)
    with pytest.raises(RecipeError, match="not an hftl run folder"):
        train(parse_recipe(recipe_dict), overwrite=True)
    assert (other / "precious.txt").read_text() == "keep me"


def test_resume_from_a_mid_run_checkpoint_matches_the_uninterrupted_run(recipe_dict):
    recipe_dict["training"].update(epochs=2, save_steps=4, save_total_limit=10)
    full = train(parse_recipe(recipe_dict))
    run = Path(recipe_dict["output_dir"])
    checkpoints = sorted((run / "checkpoints").glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    assert [p.name for p in checkpoints] == ["step-4", "step-8", "step-12", "step-16"]
    for later in checkpoints[2:]:  # pretend the run died after step 8
        shutil.rmtree(later)
    (run / "metrics.json").unlink()
    shutil.rmtree(run / "model")
    resumed = train(parse_recipe(recipe_dict), resume=True)
    for key in ("source_val/accuracy", "target_test/accuracy", "train/global_step"):
        assert resumed[key] == full[key], key


def test_gradient_accumulation_counts_optimizer_steps(recipe_dict):
    recipe_dict["training"].update(epochs=1, gradient_accumulation_steps=2)
    metrics = train(parse_recipe(recipe_dict))
    assert metrics["train/global_step"] == 4  # 60 examples / batch 8 = 8 micro-batches -> 4 updates


def test_lp_ft_fits_the_head_before_fine_tuning(recipe_dict):
    recipe_dict["strategy"] = {"name": "finetune", "lp_ft": {"epochs": 3, "learning_rate": 0.05}}
    recipe_dict["training"]["epochs"] = 1
    _, prepared = prepared_run(recipe_dict)
    strategy = prepared.strategy
    head_before = strategy.model.classifier.weight.detach().clone()
    encoder_before = strategy.model.bert.encoder.layer[0].output.dense.weight.detach().clone()
    strategy.warm_start(prepared.ctx)
    assert not torch.equal(head_before, strategy.model.classifier.weight)
    assert torch.equal(encoder_before, strategy.model.bert.encoder.layer[0].output.dense.weight)
    assert all(p.requires_grad for p in strategy.parameters())


def test_periodic_evaluation_and_bf16_on_cpu(recipe_dict):
    recipe_dict["training"].update(epochs=1, eval_steps=4, mixed_precision="bf16", logging_steps=100)
    metrics = train(parse_recipe(recipe_dict))
    lines = (Path(recipe_dict["output_dir"]) / "log_history.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    evals = [r for r in records if "eval/target_test/accuracy" in r]
    assert [r["step"] for r in evals] == [4, 8]
    assert np.isfinite(metrics["target_test/accuracy"])


def test_rerunning_the_resolved_recipe_reproduces_the_metrics(recipe_dict, tmp_path):
    recipe_dict["training"]["epochs"] = 2
    first = train(parse_recipe(recipe_dict))
    run = Path(recipe_dict["output_dir"])
    import yaml

    again = yaml.safe_load((run / "recipe.yaml").read_text())
    again["output_dir"] = str(tmp_path / "rerun")
    second = train(parse_recipe(again))
    assert {k: v for k, v in first.items() if "runtime" not in k and "per_second" not in k} == {
        k: v for k, v in second.items() if "runtime" not in k and "per_second" not in k
    }
