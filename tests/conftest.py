"""Shared fixtures: a tiny BERT saved to disk (the real from_pretrained path) and tiny text domains."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import json
import random
from pathlib import Path

import pytest
import yaml

POSITIVE = ["good", "great", "excellent", "love", "nice", "perfect", "happy", "fine"]
NEGATIVE = ["bad", "awful", "poor", "hate", "broken", "terrible", "sad", "worse"]
BOOKS = ["book", "story", "author", "novel", "plot", "chapter"]
KITCHEN = ["pan", "knife", "blender", "kettle", "toaster", "pot"]
VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "the",
    "a",
    "is",
    "this",
    "it",
    "was",
    *POSITIVE,
    *NEGATIVE,
    *BOOKS,
    *KITCHEN,
]


def make_reviews(topic: list[str], n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        words = POSITIVE if label else NEGATIVE
        text = " ".join(["this", rng.choice(topic), "is", rng.choice(words), rng.choice(words), rng.choice(topic)])
        rows.append({"text": text, "label": label})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A 2-layer BERT (hidden 32) with a word-level tokenizer, saved with save_pretrained."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny-bert")
    BertTokenizer(vocab={word: i for i, word in enumerate(VOCAB)}, do_lower_case=True).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    import torch

    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def domain_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("domains")
    return {
        "books": write_jsonl(folder / "books.jsonl", make_reviews(BOOKS, 80, seed=1)),
        "kitchen": write_jsonl(folder / "kitchen.jsonl", make_reviews(KITCHEN, 80, seed=2)),
    }


@pytest.fixture
def recipe_dict(tiny_bert, domain_files, tmp_path) -> dict:
    """A complete recipe on the tiny model and domains; tests edit it."""
    return {
        "model": {"checkpoint": str(tiny_bert)},
        "data": {
            "source": {"path": "json", "data_files": str(domain_files["books"])},
            "target": {"path": "json", "data_files": str(domain_files["kitchen"])},
            "split": {"source_val_fraction": 0.25, "target_test_fraction": 0.5, "seed": 0},
        },
        "strategy": {"name": "finetune"},
        "training": {"epochs": 2, "batch_size": 8, "learning_rate": 1e-3, "max_length": 32, "logging_steps": 2},
        "cache": {"dir": str(tmp_path / "feature-cache")},
        "output_dir": str(tmp_path / "run"),
    }


def recipe_writer(default: dict, folder: Path, default_name: str):
    """``write(data=None, name=...)``: a recipe dict (the fixture's own unless given) as YAML in ``folder``."""

    def write(data: dict | None = None, name: str = default_name) -> Path:
        path = folder / name
        path.write_text(yaml.safe_dump(data if data is not None else default))
        return path

    return write


@pytest.fixture
def recipe_file(recipe_dict, tmp_path):
    """Write a recipe dict to YAML; returns a function so tests can edit the dict first."""
    return recipe_writer(recipe_dict, tmp_path, "recipe.yaml")


@pytest.fixture(scope="session")
def tiny_vision(tmp_path_factory) -> dict[str, Path]:
    """Tiny ViT and MobileNetV2 checkpoints (with image processors) saved with save_pretrained."""
    from tests.vision_fixtures import save_tiny_mobilenet, save_tiny_vit

    return {
        "vit": save_tiny_vit(tmp_path_factory.mktemp("tiny-vit")),
        "mobilenet": save_tiny_mobilenet(tmp_path_factory.mktemp("tiny-mobilenet")),
    }


@pytest.fixture(scope="session")
def image_domains(tmp_path_factory) -> dict[str, Path]:
    """Bars images: the source as parquet with an Image feature, the target inverted (the domain shift)."""
    from tests.vision_fixtures import bars_domain, write_parquet

    folder = tmp_path_factory.mktemp("image-domains")
    return {
        "source": write_parquet(folder / "source.parquet", *bars_domain(64, seed=1, inverted=False)),
        "target": write_parquet(folder / "target.parquet", *bars_domain(64, seed=2, inverted=True)),
    }


@pytest.fixture
def image_recipe_dict(tiny_vision, image_domains, tmp_path) -> dict:
    """A complete image recipe on the tiny ViT and the bars domains; tests edit it."""
    return {
        "model": {"checkpoint": str(tiny_vision["vit"])},
        "data": {
            "source": {"path": "parquet", "data_files": str(image_domains["source"]), "image_column": "image"},
            "target": {"path": "parquet", "data_files": str(image_domains["target"]), "image_column": "image"},
            "split": {"source_val_fraction": 0.25, "target_test_fraction": 0.5, "seed": 0},
            "label_names": ["horizontal", "vertical"],
        },
        "strategy": {"name": "finetune"},
        "training": {"epochs": 2, "batch_size": 8, "learning_rate": 1e-3, "logging_steps": 2},
        "cache": {"dir": str(tmp_path / "feature-cache")},
        "output_dir": str(tmp_path / "run"),
    }


@pytest.fixture
def image_recipe_file(image_recipe_dict, tmp_path):
    """Write an image recipe dict to YAML (default: ``image_recipe_dict``); returns the path."""
    return recipe_writer(image_recipe_dict, tmp_path, "image-recipe.yaml")
