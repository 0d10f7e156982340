"""Model cards: Hub-valid metadata (model-index with every evaluated split) and the source-vs-target story."""

from __future__ import annotations

import re
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

TEMPLATE = Path(__file__).parent / "templates" / "model_card.md"
#: ``datasets.load_dataset`` builders: a path that is one of these is a file format, not a Hub dataset id.
BUILDERS = {"json", "csv", "parquet", "text", "arrow", "imagefolder", "audiofolder", "webdataset", "pandas", "sql"}


def is_hub_id(path: str) -> bool:
    return path not in BUILDERS and not Path(path).exists()


def domain_name(spec) -> str:
    """A readable name for a domain: the file stem (what several files' stems share), or the dataset id."""
    files = spec.data_files
    if not files:
        return Path(spec.data_dir).name if spec.data_dir else spec.path
    if isinstance(files, dict):
        files = [f for value in files.values() for f in ([value] if isinstance(value, str) else value)]
    stems = [Path(f).stem for f in ([files] if isinstance(files, str) else files)]
    shared: list[str] = []  # the leading words every stem has: usps-train, usps-test -> usps
    for column in zip(*(re.split(r"[-_. ]", stem) for stem in stems), strict=False):
        if len(set(column)) > 1:
            break
        shared.append(column[0])
    return "-".join(shared) or stems[0]


def eval_results(recipe, metrics: dict[str, float], eval_names: list[str]) -> list[EvalResult]:
    """One model-index entry per evaluated split and metric (accuracy, macro F1)."""
    specs = {"source_val": recipe.data.source, "target_test": recipe.data.target, **recipe.eval.extra}
    results = []
    for split in eval_names:
        spec = specs[split]
        for metric in ("accuracy", "f1"):
            key = f"{split}/{metric}"
            if key in metrics:
                result = EvalResult(
                    task_type=recipe.data.task,
                    dataset_type=spec.path,
                    dataset_name=f"{domain_name(spec)} ({split})",
                    dataset_config=spec.name,
                    dataset_split=split,
                    metric_type=metric,
                    metric_value=metrics[key],
                    metric_name="macro F1" if metric == "f1" else "accuracy",
                )
                results.append(result)
    return results


def render_card(ctx: dict) -> str:
    """Render the card for one run. ``ctx``: recipe, metrics, sizes, eval_names, load_path, adapter."""
    recipe, metrics = ctx["recipe"], ctx["metrics"]
    results = [
        {"split": split, "size": ctx["sizes"].get(split, 0), "accuracy": metrics[f"{split}/accuracy"],
         "f1": metrics[f"{split}/f1"]}
        for split in ctx["eval_names"] if f"{split}/accuracy" in metrics
    ]  # fmt: skip
    seen = recipe.data.split.target_labeled_per_class
    base_model = recipe.card.base_model or recipe.model.checkpoint
    on_hub = is_hub_id(base_model)
    domains = [recipe.data.source, recipe.data.target, *recipe.eval.extra.values()]
    data = ModelCardData(
        base_model=base_model if on_hub else None,
        library_name="peft" if ctx.get("adapter") else "transformers",
        pipeline_tag=recipe.data.task,
        license=recipe.card.license,
        language=recipe.card.language,
        datasets=sorted({d.path for d in domains if is_hub_id(d.path)}) or None,
        tags=["hftl", "transfer-learning", "domain-adaptation", f"hftl-{recipe.strategy.name}"],
        model_name=recipe.card.model_name or Path(recipe.output_dir).name,
        eval_results=eval_results(recipe, metrics, ctx["eval_names"]) or None,
    )
    limitations = [
        "Target labels were not seen in training: the target test split was used only for this report."
        if not seen
        else f"{seen} labeled target examples per class were used in training; the target test split was not.",
        "The results hold for the evaluated splits; another target distribution can behave differently.",
    ]
    gap = None
    if "source_val/accuracy" in metrics and "target_test/accuracy" in metrics:
        gap = 100 * (metrics["source_val/accuracy"] - metrics["target_test/accuracy"])
    options = recipe.strategy.model_dump(exclude_defaults=True, mode="json")
    options.pop("name", None)
    peft = getattr(recipe.strategy, "peft", None)
    if peft is not None:  # the method is worth naming even when it is the default
        options["peft"] = {"method": peft.method, **options.get("peft", {})}
    card = ModelCard.from_template(
        data, template_path=str(TEMPLATE),
        model_name=data.model_name, base_model=base_model,
        base_model_url=f"https://huggingface.co/{base_model}" if on_hub else None,
        strategy=recipe.strategy.name, strategy_options=options,
        source_name=domain_name(recipe.data.source), target_name=domain_name(recipe.data.target),
        results=results, gap=gap, sizes={k: v for k, v in ctx["sizes"].items() if k not in ctx["eval_names"]},
        target_labels_seen="none" if not seen else f"{seen} per class",
        load_path=ctx.get("load_path", "PATH_TO_MODEL"), adapter=ctx.get("adapter", False),
        limitations=limitations, recipe_yaml=recipe.to_yaml(), task=recipe.data.task,
    )  # fmt: skip
    return str(card)


def rerender(run_dir: Path, adapter: bool | None = None, load_path: str | None = None) -> str:
    """The card of a finished run, rebuilt from its recipe.yaml, metrics.json and run_info.json."""
    import json

    from hftl.provenance import read_run_info
    from hftl.recipe import load_recipe

    recipe = load_recipe(run_dir / "recipe.yaml")
    info = read_run_info(run_dir)
    if adapter is None:
        adapter = (run_dir / "model" / "adapter_config.json").is_file()
    return render_card({
        "recipe": recipe, "metrics": json.loads((run_dir / "metrics.json").read_text()), "sizes": info["sizes"],
        "eval_names": info["eval_names"], "load_path": load_path or str(run_dir / "model"), "adapter": adapter,
    })  # fmt: skip
