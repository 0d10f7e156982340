"""The command line: real exit codes and one-line errors (subprocess), and wiring (in-process)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from hftl.cli import main


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hftl", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_train_then_eval_through_the_real_command(recipe_file, recipe_dict, tmp_path):
    path = recipe_file()
    done = run_cli("train", str(path), "--set", "training.epochs=1", "--set", "strategy.name=frozen")
    assert done.returncode == 0, done.stderr
    assert "source_val" in done.stdout and "target_test" in done.stdout
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    out = tmp_path / "eval.json"
    again = run_cli("eval", str(tmp_path / "run"), "--recipe", str(path), "--output", str(out))
    assert again.returncode == 0, again.stderr
    assert json.loads(out.read_text())["target_test/accuracy"] == metrics["target_test/accuracy"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--set", "training.epoch=2"], "error: training.epoch: unknown key; did you mean 'epochs'?"),
        (["--set", "strategy.name=dann2"], "error: strategy.name: unknown strategy 'dann2'"),
        (["--set", "data.source.text_column=body"], "error: data.source.text_column: column 'body' not found"),
        (["--set", "model.checkpoint=/no/such/model"], "error: model.checkpoint: cannot load '/no/such/model'"),
    ],
)
def test_bad_input_exits_2_with_one_error_line(recipe_file, args, expected):
    done = run_cli("validate", str(recipe_file()), *args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(expected), done.stderr
    assert [line for line in lines if line.startswith("error:")] == [lines[-1]]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (
            ["train", "{recipe}", "--set", "training.batch_size=-1"],
            "training.batch_size: Input should be greater than 0",
        ),
        (["validate", "{missing}"], "recipe: file not found"),
        (["eval", "{tmp}", "--recipe", "{recipe}"], "RUN_DIR_OR_CHECKPOINT: "),
        (
            ["train", "{recipe}", "--set", "training.mixed_precision=fp16"],
            "training.mixed_precision: fp16 needs a CUDA GPU",
        ),
    ],
)
def test_cli_errors_in_process(recipe_file, tmp_path, command, expected):
    values = {"recipe": str(recipe_file()), "missing": str(tmp_path / "nope.yaml"), "tmp": str(tmp_path)}
    result = CliRunner().invoke(main, [part.format(**values) for part in command])
    assert result.exit_code == 2, result.output
    assert f"error: {expected}" in result.output


def test_validate_reports_splits_and_labels(recipe_file):
    result = CliRunner().invoke(main, ["validate", str(recipe_file())])
    assert result.exit_code == 0, result.output
    assert "recipe ok" in result.output and '"source_train": 60' in result.output


@pytest.mark.parametrize("strategy", ["finetune", "adversarial"])
def test_accelerate_launch_two_processes_matches_single_process_eval(recipe_file, recipe_dict, tmp_path, strategy):
    """`accelerate launch -m hftl train` runs 2 gloo processes; its metrics count every example once."""
    recipe_dict["strategy"] = {"name": strategy}
    path = recipe_file()
    done = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
         "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
         "-m", "hftl", "train", str(path), "--set", "training.epochs=4"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert [line[:11] for line in done.stdout.splitlines()].count("target_test") == 1, "only the main process reports"
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["train/global_step"] == 16  # 60 examples, 2 processes x batch 8 -> 4 steps/epoch
    single = CliRunner().invoke(main, ["eval", str(tmp_path / "run"), "--recipe", str(path), "--output",
                                       str(tmp_path / "single.json")])  # fmt: skip
    assert single.exit_code == 0, single.output
    assert json.loads((tmp_path / "single.json").read_text()) == {
        k: v for k, v in metrics.items() if not k.startswith("train/")
    }
