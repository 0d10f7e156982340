"""``hftl`` command line: argument wiring only; the work happens in ``hftl.run``."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps

import click

from hftl.criteria import CRITERIA, DEFAULT_CRITERION
from hftl.errors import RecipeError, TrainingError, redact


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()


def user_errors(func: Callable) -> Callable:
    """Bad input becomes one ``error:`` line on stderr and exit code 2."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except RecipeError as exc:
            click.echo(f"error: {redact(str(exc))}", err=True)
            sys.exit(2)
        except TrainingError as exc:
            click.echo(f"error: {redact(str(exc))}", err=True)
            sys.exit(1)

    return wrapper


def _load(recipe_path: str, overrides: tuple[str, ...]):
    from hftl.recipe import load_recipe

    return load_recipe(recipe_path, list(overrides))


set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a recipe field, e.g. --set training.epochs=3 (repeatable).",
)


class CommandLine(click.Group):
    """Click's own usage errors (unknown option, bad option value) as one ``error:`` line, like recipe errors."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:  # bare `hftl`: the help, as click prints it
            exc.show()
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=CommandLine, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """hftl: transfer learning on the Hugging Face stack."""


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@set_option
@click.option("--resume", is_flag=True, help="Continue the run in output_dir from its latest checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run in output_dir.")
@user_errors
def train(recipe: str, overrides: tuple[str, ...], resume: bool, overwrite: bool) -> None:
    """Adapt a pretrained checkpoint from the source to the target domain."""
    parsed = _load(recipe, overrides)
    _quiet_libraries()
    from hftl.run import train as run_train

    run_train(parsed, resume=resume, overwrite=overwrite)


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@set_option
@user_errors
def validate(recipe: str, overrides: tuple[str, ...]) -> None:
    """Check a recipe: schema, datasets, columns, labels and checkpoint, without training."""
    parsed = _load(recipe, overrides)
    _quiet_libraries()
    from hftl.run import validate as run_validate

    summary = run_validate(parsed)
    click.echo(json.dumps(summary, indent=2))
    click.echo("recipe ok")


@main.command(name="eval")
@click.argument("run_dir_or_checkpoint", type=click.Path())
@click.option("--recipe", "recipe", required=True, type=click.Path(dir_okay=False), help="Recipe naming the splits.")
@set_option
@click.option("--output", type=click.Path(dir_okay=False), help="Also write the metrics to this JSON file.")
@user_errors
def eval_command(run_dir_or_checkpoint: str, recipe: str, overrides: tuple[str, ...], output: str | None) -> None:
    """Re-evaluate a trained model on the recipe's source and target splits."""
    parsed = _load(recipe, overrides)
    _quiet_libraries()
    from hftl.metrics import report_table
    from hftl.run import evaluate_checkpoint

    metrics = evaluate_checkpoint(parsed, run_dir_or_checkpoint)
    splits = list(dict.fromkeys(k.split("/")[0] for k in metrics if k.endswith("/accuracy")))
    click.echo(report_table(metrics, splits))
    if output:
        with open(output, "w") as fh:
            json.dump(metrics, fh, indent=2)


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@click.option("--strategies", default="frozen,finetune,finetune-lora,dann,mmd", show_default=True,
              help="Comma-separated presets: built-in names (hftl/presets) or YAML fragment files.")  # fmt: skip
@click.option("--seeds", default=1, show_default=True, type=click.IntRange(min=1), help="Runs per preset.")
@click.option(
    "--output", type=click.Path(file_okay=False), help="Folder for runs and leaderboard (default: OUTPUT_DIR-compare)."
)
@click.option("--select", type=click.Choice(list(CRITERIA)), default=DEFAULT_CRITERION, show_default=True,
              help="Label-free criterion for the recommendation (see README: Choosing the strategy).")  # fmt: skip
@set_option
@user_errors
def compare(
    recipe: str, strategies: str, seeds: int, output: str | None, select: str, overrides: tuple[str, ...]
) -> None:
    """Run the recipe once per strategy preset and seed; leaderboard, shift and a label-free recommendation."""
    from pathlib import Path

    parsed = _load(recipe, overrides)
    _quiet_libraries()
    from hftl.compare import compare as run_compare

    out_dir = Path(output or f"{parsed.output_dir.rstrip('/')}-compare")
    presets = [s.strip() for s in strategies.split(",") if s.strip()]
    click.echo(run_compare(recipe, presets, seeds, out_dir, list(overrides), select))
    click.echo(f"wrote {out_dir / 'leaderboard.md'}, leaderboard.json, leaderboard.png")


@main.command()
@click.argument("recipe", type=click.Path(dir_okay=False))
@set_option
@click.option("--output", type=click.Path(file_okay=False), help="Report folder (default: OUTPUT_DIR-shift).")
@user_errors
def shift(recipe: str, overrides: tuple[str, ...], output: str | None) -> None:
    """Measure the domain shift: proxy A-distance, label shift, a 2-D picture of source vs target features."""
    from pathlib import Path

    parsed = _load(recipe, overrides)
    _quiet_libraries()
    from hftl.shift import measure_shift

    out_dir = Path(output or f"{parsed.output_dir.rstrip('/')}-shift")
    report = measure_shift(parsed, out_dir)
    click.echo(report.table())
    click.echo(f"wrote {out_dir / 'shift.json'} and {out_dir / 'projection.png'}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@user_errors
def card(run_dir: str) -> None:
    """Re-render RUN_DIR/model/README.md from the run's recipe, metrics and split sizes."""
    from pathlib import Path

    from hftl.card import rerender

    folder = Path(run_dir)
    for needed in ("recipe.yaml", "metrics.json", "run_info.json", "model"):
        if not (folder / needed).exists():
            raise RecipeError("RUN_DIR", f"'{run_dir}' has no {needed}; is it a finished hftl run?")
    (folder / "model" / "README.md").write_text(rerender(folder))
    click.echo(f"wrote {folder / 'model' / 'README.md'}")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--repo-id", required=True, help="USER/NAME on the Hugging Face Hub.")
@click.option("--private", is_flag=True, help="Create the repository as private.")
@click.option("--revision", help="Branch to push to (created when missing).")
@click.option("--merge", is_flag=True, help="PEFT runs: push the adapter merged into a plain checkpoint.")
@click.option("--commit-message", help="Commit message on the Hub.")
@user_errors
def push(run_dir: str, repo_id: str, private: bool, revision: str | None, merge: bool, commit_message: str | None):
    """Upload a run's exported model and card to the Hub (token from HF_TOKEN or `hf auth login`)."""
    from pathlib import Path

    _quiet_libraries()
    from hftl.hub import push_run

    url = push_run(Path(run_dir), repo_id, private, revision, merge, commit_message)
    click.echo(f"pushed to {url}")


@main.group()
def convert() -> None:
    """Convert other frameworks' pretrained weights into Hugging Face checkpoints."""


@convert.command(name="mobilenet-v2")
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--overwrite", is_flag=True, help="Write over the files of a non-empty OUT_DIR.")
@user_errors
def convert_mobilenet_v2(out_dir: str, overwrite: bool) -> None:
    """ImageNet MobileNetV2 from torchvision.

    Write torchvision's weights to OUT_DIR as a transformers image-classification checkpoint.
    """
    from pathlib import Path

    _quiet_libraries()
    from hftl.convert.mobilenet_v2 import convert_mobilenet_v2 as run_convert

    click.echo(run_convert(Path(out_dir), overwrite=overwrite))


if __name__ == "__main__":
    main()
