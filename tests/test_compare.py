"""hftl compare: presets x seeds as real runs, a leaderboard that matches each run, a label-free recommendation."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from hftl.cli import main
from hftl.compare import builtin_presets, load_preset, merge
from hftl.errors import RecipeError


def test_builtin_presets_are_valid_recipe_fragments(recipe_dict):
    from hftl.recipe import parse_recipe

    assert {"frozen", "finetune", "finetune-lora", "dann", "cdan", "mmd", "coral"} <= set(builtin_presets())
    for name in builtin_presets():
        parse_recipe(merge(recipe_dict, load_preset(name)))


def test_fragments_extend_presets_and_replace_the_strategy(tmp_path):
    path = tmp_path / "slow-dann.yaml"
    path.write_text(yaml.safe_dump({"extends": "dann", "strategy": {"name": "adversarial", "weight": 0.5},
                                    "training": {"epochs": 5}}))  # fmt: skip
    fragment = load_preset(str(path))
    assert fragment["strategy"] == {"name": "adversarial", "weight": 0.5}  # replaced, not merged
    assert fragment["training"]["epochs"] == 5
    merged = merge({"training": {"batch_size": 4, "epochs": 1}}, fragment)
    assert merged["training"] == {"batch_size": 4, "epochs": 5}
    with pytest.raises(RecipeError, match=r"unknown preset 'dan'; did you mean 'dann'\?"):
        load_preset("dan")


def test_compare_runs_every_preset_and_seed(recipe_file, recipe_dict, tmp_path):
    recipe_dict["training"]["epochs"] = 1
    out = tmp_path / "cmp"
    args = ["compare", str(recipe_file()), "--strategies", "frozen,finetune", "--seeds", "2", "--output", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    board = json.loads((out / "leaderboard.json").read_text())
    rows = {row["preset"]: row for row in board["rows"]}
    assert set(rows) == {"frozen", "finetune"} and all(r["seeds"] == 2 for r in rows.values())
    for preset, row in rows.items():
        runs = [json.loads((out / preset / f"seed-{s}" / "metrics.json").read_text()) for s in (0, 1)]
        mean = sum(r["target_test/accuracy"] for r in runs) / 2
        assert row["target_accuracy"][0] == pytest.approx(mean)
        assert row["peak_memory_mb"] > 0 and row["trainable_params"] == runs[0]["train/trainable_params"]
    seeds = [yaml.safe_load((out / "finetune" / f"seed-{s}.yaml").read_text())["training"]["seed"] for s in (0, 1)]
    assert seeds == [0, 1]
    best = max(board["rows"], key=lambda r: r["source_accuracy"][0])  # the default: source validation accuracy
    assert board["selection"] == "source" and board["rows"][0]["preset"] == best["preset"]
    assert f"Recommended: **{best['preset']}** (highest source validation" in (out / "leaderboard.md").read_text()
    assert "Domain shift: proxy A-distance" in (out / "leaderboard.md").read_text()
    assert Image.open(out / "leaderboard.png").format == "PNG" and (out / "shift" / "shift.json").is_file()
    # a second call reuses the finished runs; another criterion re-ranks them without training
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and (out / "leaderboard.json").read_text() == json.dumps(board, indent=2)
    finished = (out / "finetune" / "seed-0" / "metrics.json").stat().st_mtime_ns
    by_snd = CliRunner().invoke(main, [*args, "--select", "snd"])
    assert by_snd.exit_code == 0 and (out / "finetune" / "seed-0" / "metrics.json").stat().st_mtime_ns == finished
    snd_best = max(board["rows"], key=lambda r: r["snd"][0])["preset"]
    assert f"Recommended: **{snd_best}** (highest SND" in by_snd.output
    # gated-snd: the highest SND among presets within 1 point of the best source accuracy
    gated = CliRunner().invoke(main, [*args, "--select", "gated-snd"])
    best_source = max(r["source_accuracy"][0] for r in board["rows"])
    inside = [r for r in board["rows"] if r["source_accuracy"][0] >= best_source - 0.01]
    assert f"Recommended: **{max(inside, key=lambda r: r['snd'][0])['preset']}** (highest SND among" in gated.output


def test_compare_refuses_an_unknown_preset_before_running(recipe_file, tmp_path):
    result = CliRunner().invoke(main, ["compare", str(recipe_file()), "--strategies", "finetune,lorra",
                                       "--output", str(tmp_path / "cmp")])  # fmt: skip
    assert result.exit_code == 2 and "error: --strategies: unknown preset 'lorra'" in result.output
    assert not (tmp_path / "cmp").exists()
