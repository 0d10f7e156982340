"""Push a run's exported model to the Hugging Face Hub (adapter, or a merged plain checkpoint)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from hftl.errors import RecipeError


def merged_folder(model_dir: Path, out_dir: Path, card_text: str) -> Path:
    """Load a saved adapter, merge it into the base weights and save a plain checkpoint (with tokenizer, card)."""
    from transformers import AutoImageProcessor, AutoTokenizer

    from hftl.modeling import peft_auto_class

    text = json.loads((model_dir / "adapter_config.json").read_text()).get("task_type") == "SEQ_CLS"
    auto = peft_auto_class("text-classification" if text else "image-classification")
    model = auto.from_pretrained(model_dir).merge_and_unload()
    model.save_pretrained(out_dir, safe_serialization=True)
    if text:
        AutoTokenizer.from_pretrained(model_dir).save_pretrained(out_dir)
    else:
        AutoImageProcessor.from_pretrained(model_dir, backend="pil").save_pretrained(out_dir)
    (out_dir / "README.md").write_text(card_text)
    return out_dir


def push_folder(folder: Path, repo_id: str, private: bool, revision: str | None, commit_message: str) -> str:
    """create_repo + (create_branch) + upload_folder; any failure is one RecipeError, nothing local changes."""
    from huggingface_hub import HfApi, get_token

    if get_token() is None:
        raise RecipeError("hub", "no Hugging Face token: set HF_TOKEN or run `hf auth login`, then push again")
    api = HfApi()
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        if revision:
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, revision=revision,
                                 commit_message=commit_message)  # fmt: skip
    except Exception as exc:  # network, permission, offline mode: all leave the local run as it was
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RecipeError("hub", f"push to '{repo_id}' failed: {reason}; the local run is unchanged") from None
    return str(getattr(info, "commit_url", None) or f"https://huggingface.co/{repo_id}")


def push_run(run_dir: Path, repo_id: str, private: bool = False, revision: str | None = None, merge: bool = False,
             commit_message: str | None = None) -> str:  # fmt: skip
    """Upload ``run_dir/model`` (``merge``: the adapter merged into a plain checkpoint); the card names the repo."""
    from hftl.card import rerender

    model_dir = run_dir / "model"
    if not model_dir.is_dir():
        raise RecipeError("RUN_DIR", f"'{run_dir}' has no exported model/ folder; train it first")
    message = commit_message or f"Upload {run_dir.name} trained with hftl"
    adapter = (model_dir / "adapter_config.json").is_file()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        if merge and adapter:
            folder.mkdir()
            merged_folder(model_dir, folder, rerender(run_dir, adapter=False, load_path=repo_id))
        else:
            shutil.copytree(model_dir, folder)
            (folder / "README.md").write_text(rerender(run_dir, adapter=adapter, load_path=repo_id))
        return push_folder(folder, repo_id, private, revision, message)
