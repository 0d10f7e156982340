"""Model cards: metadata the Hub validates plus the source-vs-target story, from ``hftl/templates``."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import ModelCard, ModelCardData

TEMPLATE = Path(__file__).parent / "templates" / "model_card.md"


def render_card(ctx: dict) -> str:
    """Render the card for one run. ``ctx`` holds recipe, metrics, sizes, label names and strategy."""
    recipe, metrics = ctx["recipe"], ctx["metrics"]
    results = [
        {
            "split": split,
            "size": ctx["sizes"].get(split, 0),
            "accuracy": metrics[f"{split}/accuracy"],
            "f1": metrics[f"{split}/f1"],
        }
        for split in ctx["eval_names"]
        if f"{split}/accuracy" in metrics
    ]
    seen = recipe.data.split.target_labeled_per_class
    on_hub = not Path(recipe.model.checkpoint).exists()
    data = ModelCardData(
        base_model=recipe.model.checkpoint if on_hub else None,
        library_name="peft" if ctx.get("adapter") else "transformers",
        pipeline_tag="text-classification",
        tags=["hftl", "transfer-learning", "domain-adaptation"],
    )
    limitations = [
        "Target test labels were never used for training or model selection."
        if not seen
        else f"{seen} labeled target examples per class were used in training.",
        "Results hold for the evaluated splits; a different target distribution can behave differently.",
    ]
    gap = None
    if "source_val/accuracy" in metrics and "target_test/accuracy" in metrics:
        gap = 100 * (metrics["source_val/accuracy"] - metrics["target_test/accuracy"])
    card = ModelCard.from_template(
        data,
        template_path=str(TEMPLATE),
        model_name=Path(recipe.output_dir).name,
        base_model=recipe.model.checkpoint,
        base_model_url=f"https://huggingface.co/{recipe.model.checkpoint}" if on_hub else None,
        strategy=recipe.strategy.name,
        source_name=_domain_name(recipe.data.source),
        target_name=_domain_name(recipe.data.target),
        results=results,
        gap=gap,
        sizes={k: v for k, v in ctx["sizes"].items() if k not in ctx["eval_names"]},
        target_labels_seen="none" if not seen else f"{seen} per class",
        load_path=ctx.get("load_path", "PATH_TO_MODEL"),
        adapter=ctx.get("adapter", False),
        limitations=limitations,
        recipe_yaml=recipe.to_yaml(),
    )
    return str(card)


def _domain_name(spec) -> str:
    files = spec.data_files
    if isinstance(files, str):
        return Path(files).stem
    return spec.path if not files else spec.path + " files"
