# ruff: noqa: E501  (a table reads best one case per line)
"""A table of broken inputs, each tried for real: exit code 2, one `error:` line naming the problem, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner

from hftl.cli import main


def _checkpoint_variants(tiny_bert: Path, root: Path) -> dict[str, Path]:
    """Broken checkpoint folders made from the tiny BERT."""
    no_weights = root / "no-weights"
    no_weights.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (no_weights / name).write_bytes((tiny_bert / name).read_bytes())
    vision = root / "vision"
    vision.mkdir()
    (vision / "config.json").write_text(json.dumps({"model_type": "vit", "hidden_size": 32}))
    remote = root / "remote-code"
    remote.mkdir()
    config = json.loads((tiny_bert / "config.json").read_text())
    config.update(model_type="hftl-custom", auto_map={"AutoConfig": "custom.CustomConfig"})
    (remote / "config.json").write_text(json.dumps(config))
    pickled = root / "pickle-only"
    pickled.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (pickled / name).write_bytes((tiny_bert / name).read_bytes())
    from safetensors.torch import load_file

    torch.save(load_file(tiny_bert / "model.safetensors"), pickled / "pytorch_model.bin")
    return {"no-weights": no_weights, "vision": vision, "remote": remote, "pickle": pickled}


CASES = {
    "malformed yaml": ("raw", "model: [unclosed\n", "recipe: malformed YAML at line"),
    "top-level unknown key": (["outputdir=x"], None, "outputdir: unknown key; did you mean 'output_dir'?"),
    "model unknown key": (["model.revison=main"], None, "model.revison: unknown key; did you mean 'revision'?"),
    "data unknown key": (["data.sorce.path=json"], None, "data.sorce: unknown key; did you mean 'source'?"),
    "domain unknown key": (["data.target.lable_column=y"], None, "data.target.lable_column: unknown key"),
    "training unknown key": (["training.lr=1"], None, "training.lr: unknown key"),
    "strategy unknown key": (["strategy.wieght=1"], None, "strategy.wieght: unknown key"),
    "wrong type": (["training.batch_size=many"], None, "training.batch_size: Input should be a valid integer"),
    "negative size": (["training.batch_size=-4"], None, "training.batch_size: Input should be greater than 0"),
    "zero epochs": (["training.epochs=0"], None, "training.epochs: Input should be greater than 0"),
    "fraction above 1": (["data.split.target_test_fraction=1.5"], None, "data.split.target_test_fraction: Input should be less than 1"),
    "fraction 0": (["data.split.source_val_fraction=0"], None, "data.split.source_val_fraction: Input should be greater than 0"),
    "unknown strategy": (["strategy.name=dan"], None, "strategy.name: unknown strategy 'dan'"),
    "unknown method": (["strategy.name=adversarial", "strategy.method=mdd"], None, "strategy.method: Input should be"),
    "missing data file": (["data.source.data_files=/nope/x.jsonl"], None, "data.source.data_files: not found"),
    "missing text column": (["data.source.text_column=body"], None, "data.source.text_column: column 'body' not found"),
    "unknown label column": (["data.target.label_column=stars"], None, "data.target.label_column: column 'stars' not found"),
    "labels only in target": ("target-extra-label", None, "data.target.label_column: labels ['7'] are not in the source"),
    "empty split": ("empty-target", None, "data.target.data_files: no examples could be read (is the file empty?)"),
    "split too small": ("tiny-source", None, "data.split.source_val_fraction"),
    "checkpoint without weights": ("ckpt:no-weights", None, "model.checkpoint: cannot load weights of"),
    "checkpoint of another task": ("ckpt:vision", None, "is a vit model, which has no text-classification head"),
    "remote code not allowed": ("ckpt:remote", None, "trust_remote_code"),
    "pickle weights not allowed": ("ckpt:pickle", None, "has only pickle weights (pytorch_model.bin)"),
    "unwritable output dir": ("unwritable", None, "output_dir: cannot write to"),
    "peft target modules match nothing": (["strategy.peft.method=lora", "strategy.peft.target_modules=[nope]"], None,
                                          "strategy.peft.target_modules: ['nope'] match no module"),
    "--set on a missing key": (["training.epohcs=2"], None, "training.epohcs: unknown key; did you mean 'epochs'?"),
    "--set without =": (["training.epochs"], None, "--set: expected KEY=VALUE"),
    "missing required field": ("no-checkpoint", None, "model.checkpoint: missing required field"),
    "non-image in an image column": (["data.source.image_column=text", "data.target.image_column=text"], None, "data.source.image_column: column 'text' row 0 is not an image"),
    "image column on one side only": (["data.source.image_column=text"], None, "data.target.image_column: source and target must both be images"),
    "image augmentation out of range": (["augment.image.rotation=400"], None, "augment.image.rotation: Input should be less than or equal to 180"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gives_one_error_line_and_exit_2(case, recipe_dict, tiny_bert, tmp_path):
    kind, raw, expected = CASES[case]
    overrides: list[str] = kind if isinstance(kind, list) else []
    recipe = json.loads(json.dumps(recipe_dict))
    rows = [{"text": "this pan is good", "label": 1}, {"text": "this pan is bad", "label": 0}] * 20
    if kind == "target-extra-label":
        path = tmp_path / "odd.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in [*rows, {"text": "meh", "label": 7}]))
        recipe["data"]["target"]["data_files"] = str(path)
    elif kind == "empty-target":
        path = tmp_path / "empty.jsonl"
        path.write_text("")
        recipe["data"]["target"]["data_files"] = str(path)
    elif kind == "tiny-source":
        path = tmp_path / "tiny.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
        recipe["data"]["source"]["data_files"] = str(path)
        recipe["data"]["split"]["source_val_fraction"] = 0.1
    elif isinstance(kind, str) and kind.startswith("ckpt:"):
        recipe["model"]["checkpoint"] = str(_checkpoint_variants(tiny_bert, tmp_path)[kind[5:]])
    elif kind == "unwritable":
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        recipe["output_dir"] = str(blocker / "run")
    elif kind == "no-checkpoint":
        del recipe["model"]["checkpoint"]
    path = tmp_path / "recipe.yaml"
    path.write_text(raw if raw is not None else yaml.safe_dump(recipe))
    args = ["train", str(path)]
    for item in overrides:
        args += ["--set", item]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, (result.output, result.exception)
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0], result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["compare", "RECIPE", "--select", "best"], "error: Invalid value for '--select': 'best' is not one of"),
        (["compare", "RECIPE", "--seeds", "0"], "error: Invalid value for '--seeds': 0 is not in the range x>=1"),
        (["train", "RECIPE", "--sett", "a=1"], "error: No such option '--sett'. Did you mean '--set'?"),
        (["trian"], "error: No such command 'trian'"),
    ],
)
def test_bad_command_line_options_give_one_error_line_and_exit_2(args, expected, recipe_file):
    path = str(recipe_file())
    result = CliRunner().invoke(main, [path if a == "RECIPE" else a for a in args])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(expected), result.output
    assert "Traceback" not in result.output and "Usage:" not in result.output
