"""The loop: target-side resume position, non-finite losses, killed runs that resume to the same metrics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from hftl.errors import TrainingError
from hftl.recipe import parse_recipe
from hftl.run import train
from hftl.train import cycle


class Loader(list):
    """A list of batches whose order depends on the epoch, like a prepared DataLoader."""

    def set_epoch(self, epoch: int) -> None:
        self[:] = [epoch * 10 + i for i in range(3)]


def test_cycle_resumes_mid_pass_in_the_right_epoch():
    full = cycle(Loader([0, 1, 2]))
    expected = [next(full) for _ in range(8)]
    resumed = cycle(Loader([0, 1, 2]), consumed=4)
    assert [next(resumed) for _ in range(4)] == expected[4:]


def test_nonfinite_loss_stops_with_the_step_or_skips(recipe_dict, monkeypatch):
    from hftl.strategies.base import SupervisedStrategy

    original = SupervisedStrategy.forward
    calls = {"n": 0}

    def sometimes_nan(self, source, target=None, progress=0.0):
        out = original(self, source, target, progress)
        calls["n"] += 1
        if calls["n"] == 3:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(SupervisedStrategy, "forward", sometimes_nan)
    recipe_dict["training"].update(epochs=1)
    with pytest.raises(TrainingError, match=r"the loss is not finite at step 3 \(epoch 1\)"):
        train(parse_recipe(recipe_dict))
    calls["n"] = 0
    recipe_dict["training"]["on_nonfinite"] = "skip"
    recipe_dict["output_dir"] += "-skip"
    metrics = train(parse_recipe(recipe_dict))
    assert metrics["train/skipped_batches"] == 1
    assert all(torch.isfinite(torch.tensor(v)) for k, v in metrics.items() if "accuracy" in k)


@pytest.mark.parametrize("strategy", [{"name": "finetune"}, {"name": "adversarial", "method": "dann"}])
def test_sigkill_then_resume_matches_the_uninterrupted_run(recipe_dict, tmp_path, strategy):
    recipe_dict["strategy"] = strategy
    recipe_dict["training"].update(epochs=12, save_steps=5, save_total_limit=3, batch_size=4)
    full = train(parse_recipe(recipe_dict))
    killed_dir = tmp_path / "killed"
    recipe_dict["output_dir"] = str(killed_dir)
    path = tmp_path / "killed.yaml"
    path.write_text(yaml.safe_dump(recipe_dict))
    cmd = [sys.executable, "-m", "hftl", "train", str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list((killed_dir / "checkpoints").glob("step-*/hftl_state.json")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = sorted(
        int(p.parent.name.split("-")[1]) for p in (killed_dir / "checkpoints").glob("step-*/hftl_state.json")
    )
    assert saved and not (killed_dir / "metrics.json").exists(), "the run was meant to die mid-training"
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"resumed from {killed_dir / 'checkpoints'}" in done.stdout
    resumed = json.loads((killed_dir / "metrics.json").read_text())
    for key in ("source_val/accuracy", "target_test/accuracy", "source_val/f1", "train/global_step"):
        assert resumed[key] == full[key], key
    assert len(list((killed_dir / "checkpoints").glob("step-*"))) <= 3


def test_evaluating_during_training_does_not_change_training(image_recipe_dict, tmp_path):
    """Periodic evaluation leaves the random stream (augmentation, dropout) of training as it was."""
    from hftl.recipe import parse_recipe
    from hftl.run import train

    image_recipe_dict["augment"] = {"image": {"random_resized_crop": [0.5, 1.0], "rotation": 10}}
    image_recipe_dict["training"]["epochs"] = 1
    plain = train(parse_recipe(image_recipe_dict))
    image_recipe_dict["training"]["eval_steps"] = 2
    image_recipe_dict["output_dir"] = str(tmp_path / "with-eval")
    evaluated = train(parse_recipe(image_recipe_dict))
    for key in ("target_test/accuracy", "source_val/accuracy", "target_train/snd"):
        assert evaluated[key] == plain[key], key
