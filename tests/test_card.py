"""Model cards: Hub-valid metadata with a model-index entry per evaluated split, and `hftl card` re-rendering."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from huggingface_hub import ModelCard

from hftl.cli import main
from hftl.recipe import parse_recipe
from hftl.run import train


def test_card_metadata_and_prose(recipe_dict):
    recipe_dict["eval"] = {"extra": {"kitchen_all": dict(recipe_dict["data"]["target"])}}
    recipe_dict["card"] = {"license": "apache-2.0", "language": ["en"]}
    recipe_dict["strategy"] = {"name": "finetune", "layer_decay": 0.9}
    recipe_dict["training"]["epochs"] = 1
    metrics = train(parse_recipe(recipe_dict))
    run = Path(recipe_dict["output_dir"])
    card = ModelCard.load(run / "model" / "README.md")
    data = card.data
    assert data.library_name == "transformers" and data.pipeline_tag == "text-classification"
    assert data.license == "apache-2.0" and {"hftl", "transfer-learning", "domain-adaptation"} <= set(data.tags)
    results = {(r.dataset_split, r.metric_type): r.metric_value for r in data.eval_results}
    for split in ("source_val", "target_test", "kitchen_all"):
        for metric in ("accuracy", "f1"):
            assert results[(split, metric)] == metrics[f"{split}/{metric}"]
    text = card.text
    assert "books" in text and "kitchen" in text and "layer_decay: 0.9" in text
    assert "Transfer gap" in text and "pipeline(" in text and "Target labels were not seen" in text
    assert "output_dir:" in text  # the resolved recipe


def test_hftl_card_rerenders_and_run_records_provenance(recipe_dict):
    recipe_dict["training"]["epochs"] = 1
    train(parse_recipe(recipe_dict))
    run = Path(recipe_dict["output_dir"])
    environment = json.loads((run / "environment.json").read_text())
    assert environment["packages"]["transformers"] and environment["world_size"] == 1
    assert environment["mixed_precision"] == "no" and "device" in environment
    info = json.loads((run / "run_info.json").read_text())
    assert set(info["data_fingerprints"]) == {"source_train", "source_val", "target_train", "target_test"}
    (run / "model" / "README.md").write_text("stale")
    result = CliRunner().invoke(main, ["card", str(run)])
    assert result.exit_code == 0, result.output
    assert ModelCard.load(run / "model" / "README.md").data.eval_results
    missing = CliRunner().invoke(main, ["card", str(run.parent)])
    assert missing.exit_code == 2 and "error: RUN_DIR:" in missing.output


def test_domain_names_come_from_files_folders_or_ids():
    from types import SimpleNamespace

    from hftl.card import domain_name

    def spec(files=None, data_dir=None, path="parquet"):
        return SimpleNamespace(data_files=files, data_dir=data_dir, path=path)

    assert domain_name(spec({"train": "d/usps-train.parquet", "test": "d/usps-test.parquet"})) == "usps"
    assert domain_name(spec("reviews/books.jsonl")) == "books"
    assert domain_name(spec(data_dir="photos/studio", path="imagefolder")) == "studio"
    assert domain_name(spec(path="user/dataset")) == "user/dataset"
