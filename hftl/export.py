"""Save a plain transformers checkpoint (config with labels, safetensors, tokenizer) and its model card."""

from __future__ import annotations

from pathlib import Path

from transformers import PreTrainedModel

from hftl.card import render_card


def export_model(model: PreTrainedModel, preprocessor, out_dir: Path, card_context: dict) -> Path:
    """Write ``out_dir`` so ``from_pretrained`` and ``pipeline()`` load it without hftl."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    if preprocessor is not None:
        preprocessor.save_pretrained(out_dir)
    (out_dir / "README.md").write_text(render_card(card_context))
    return out_dir
