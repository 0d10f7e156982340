"""Tiny vision checkpoints and image domains (bars: horizontal = 0, vertical = 1) saved in the formats users have."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

SIZE = 16


def bars_image(label: int, rng: np.random.Generator, inverted: bool) -> np.ndarray:
    """A grayscale 16x16 image with two bright bars (rows for label 0, columns for 1), plus noise."""
    image = rng.integers(0, 60, size=(SIZE, SIZE)).astype(np.uint8)
    for index in rng.choice(SIZE, size=2, replace=False):
        if label == 0:
            image[index, :] = 230
        else:
            image[:, index] = 230
    return 255 - image if inverted else image


def bars_domain(n: int, seed: int, inverted: bool) -> tuple[list[np.ndarray], list[int]]:
    rng = np.random.default_rng(seed)
    labels = [i % 2 for i in range(n)]
    return [bars_image(label, rng, inverted) for label in labels], labels


def save_tiny_vit(folder: Path) -> Path:
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessorPil

    config = ViTConfig(image_size=SIZE, patch_size=4, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=37, num_labels=3)  # fmt: skip
    torch.manual_seed(0)
    ViTForImageClassification(config).save_pretrained(folder)
    ViTImageProcessorPil(size={"height": SIZE, "width": SIZE}).save_pretrained(folder)
    return folder


def save_tiny_mobilenet(folder: Path) -> Path:
    from transformers import MobileNetV2Config, MobileNetV2ForImageClassification, MobileNetV2ImageProcessorPil

    config = MobileNetV2Config(image_size=SIZE, depth_multiplier=0.35, num_labels=3, tf_padding=False,
                               classifier_dropout_prob=0.0)  # fmt: skip
    torch.manual_seed(0)
    MobileNetV2ForImageClassification(config).save_pretrained(folder)
    processor = MobileNetV2ImageProcessorPil(size={"shortest_edge": SIZE}, crop_size={"height": SIZE, "width": SIZE})
    processor.save_pretrained(folder)
    return folder


def write_parquet(path: Path, images: list[np.ndarray], labels: list[int]) -> Path:
    """A parquet file whose ``image`` column has the ``datasets.Image`` feature."""
    from datasets import Dataset, Features, Value
    from datasets import Image as ImageFeature

    features = Features({"image": ImageFeature(), "label": Value("int64")})
    Dataset.from_dict({"image": [Image.fromarray(a) for a in images], "label": labels}, features=features).to_parquet(
        str(path)
    )
    return path


def write_imagefolder(folder: Path, images: list[np.ndarray], labels: list[int]) -> Path:
    for i, (array, label) in enumerate(zip(images, labels, strict=True)):
        (folder / f"class{label}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(folder / f"class{label}" / f"{i}.png")
    return folder


def write_json_paths(path: Path, images: list[np.ndarray], labels: list[int]) -> Path:
    """JSON lines whose ``file`` column holds PNG paths."""
    folder = path.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (array, label) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(array).save(folder / f"{i}.png")
        rows.append({"file": str(folder / f"{i}.png"), "digit": label})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_json_arrays(path: Path, images: list[np.ndarray], labels: list[int]) -> Path:
    """JSON lines whose ``pixels`` column holds the image as nested lists (an in-memory array)."""
    rows = [{"pixels": a.tolist(), "label": label} for a, label in zip(images, labels, strict=True)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
