"""Hub push without the Hub: the HfApi calls are recorded, the folder that would be uploaded is checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from huggingface_hub import HfApi, ModelCard
from transformers import AutoModelForSequenceClassification

from hftl.cli import main
from hftl.recipe import parse_recipe
from hftl.run import train

SECRET = "hf_secrettokenvalue1234567890"


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    """Replace HfApi's network calls; keep a copy of every uploaded folder."""
    calls = []

    def create_repo(self, repo_id, private=False, exist_ok=False, **kw):
        calls.append(("create_repo", repo_id, {"private": private, "exist_ok": exist_ok}))

    def create_branch(self, repo_id, branch, exist_ok=False, **kw):
        calls.append(("create_branch", repo_id, {"branch": branch}))

    def upload_folder(self, folder_path, repo_id, revision=None, commit_message=None, **kw):
        copy = tmp_path / f"uploaded-{len(calls)}"
        shutil.copytree(folder_path, copy)
        calls.append(("upload_folder", repo_id, {"revision": revision, "message": commit_message, "copy": copy}))

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "create_branch", create_branch)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    monkeypatch.setenv("HF_TOKEN", SECRET)
    return calls


def _trained(recipe_dict, strategy=None):
    recipe_dict["training"]["epochs"] = 2
    if strategy:
        recipe_dict["strategy"] = strategy
    train(parse_recipe(recipe_dict))
    return Path(recipe_dict["output_dir"])


def test_push_uploads_a_loadable_folder_with_a_valid_card(recipe_dict, recorded):
    run = _trained(recipe_dict)
    result = CliRunner().invoke(main, ["push", str(run), "--repo-id", "me/books-to-kitchen", "--private",
                                       "--revision", "exp1", "--commit-message", "first"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [c[0] for c in recorded] == ["create_repo", "create_branch", "upload_folder"]
    assert recorded[0][2] == {"private": True, "exist_ok": True} and recorded[1][2] == {"branch": "exp1"}
    upload = recorded[2][2]
    assert recorded[2][1] == "me/books-to-kitchen" and upload["revision"] == "exp1" and upload["message"] == "first"
    folder = upload["copy"]
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    local = AutoModelForSequenceClassification.from_pretrained(run / "model")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), local.state_dict().values(), strict=True))
    card = ModelCard.load(folder / "README.md")
    assert card.data.eval_results and "me/books-to-kitchen" in card.text
    for path in [*folder.rglob("*"), *run.rglob("*")]:
        if path.is_file() and path.suffix in (".md", ".json", ".yaml", ".txt", ".jsonl"):
            assert SECRET not in path.read_text(errors="ignore"), path


def test_peft_run_pushes_adapter_or_merged_checkpoint(recipe_dict, recorded):
    lora = {"name": "finetune", "peft": {"method": "lora", "r": 4, "target_modules": ["query", "value"]}}
    run = _trained(recipe_dict, lora)
    assert CliRunner().invoke(main, ["push", str(run), "--repo-id", "me/a"]).exit_code == 0
    adapter_folder = recorded[-1][2]["copy"]
    assert (adapter_folder / "adapter_config.json").is_file()
    assert ModelCard.load(adapter_folder / "README.md").data.library_name == "peft"
    assert CliRunner().invoke(main, ["push", str(run), "--repo-id", "me/m", "--merge"]).exit_code == 0
    merged_folder = recorded[-1][2]["copy"]
    assert not (merged_folder / "adapter_config.json").exists()
    merged = AutoModelForSequenceClassification.from_pretrained(merged_folder)
    assert not any("lora" in n for n, _ in merged.named_parameters())
    assert ModelCard.load(merged_folder / "README.md").data.library_name == "transformers"


def test_failed_push_is_one_line_and_leaves_the_run_untouched(recipe_dict, recorded, monkeypatch):
    run = _trained(recipe_dict)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}

    def refuse(self, *args, **kwargs):
        raise PermissionError("403 Forbidden: you cannot write to me/x")

    monkeypatch.setattr(HfApi, "upload_folder", refuse)
    result = CliRunner().invoke(main, ["push", str(run), "--repo-id", "me/x"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: hub: push to 'me/x' failed: 403 Forbidden: you cannot write to me/x; " \
                                    "the local run is unchanged"  # fmt: skip
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    result = CliRunner().invoke(main, ["push", str(run), "--repo-id", "me/x"])
    assert result.exit_code == 2 and "error: hub: no Hugging Face token" in result.output


def test_recipe_hub_push_at_the_end_of_training(recipe_dict, recorded):
    recipe_dict["hub"] = {"push": True, "repo_id": "me/auto"}
    _trained(recipe_dict)
    assert [c[0] for c in recorded] == ["create_repo", "upload_folder"] and recorded[1][1] == "me/auto"


def test_hub_push_without_repo_id_is_a_recipe_error(recipe_dict):
    from hftl.errors import RecipeError

    recipe_dict["hub"] = {"push": True}
    with pytest.raises(RecipeError, match=r"hub\.push: true needs hub\.repo_id"):
        parse_recipe(recipe_dict)


def test_no_secret_reaches_run_files_output_or_errors(recipe_file, recipe_dict, recorded, monkeypatch):
    """A token in the environment (and in an exception's text) never appears in what hftl writes or prints."""
    monkeypatch.setenv("WANDB_API_KEY", "wandb-secret-key-0123456789")
    recipe_dict["hub"] = {"push": True, "repo_id": "me/x"}
    result = CliRunner().invoke(main, ["train", str(recipe_file())])
    assert result.exit_code == 0, result.output
    run = Path(recipe_dict["output_dir"])
    written = [recorded[-1][2]["copy"], run]
    texts = [p.read_bytes() for folder in written for p in folder.rglob("*") if p.is_file()]
    for secret in (SECRET, "wandb-secret-key-0123456789"):
        assert not any(secret.encode() in text for text in texts)
        assert secret not in result.output

    def leaky(self, *args, **kwargs):
        raise RuntimeError(f"401 Unauthorized: Authorization: Bearer {SECRET} (wandb-secret-key-0123456789)")

    monkeypatch.setattr(HfApi, "upload_folder", leaky)
    result = CliRunner().invoke(main, ["push", str(run), "--repo-id", "me/x"])
    assert result.exit_code == 2 and "Bearer ***" in result.output
    assert SECRET not in result.output and "wandb-secret-key" not in result.output
