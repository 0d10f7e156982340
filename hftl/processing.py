"""Turn raw domain rows into model inputs: tokenization for text, the image processor (+ augmentation) for images."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import torch
from datasets import Dataset, Image, Value
from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase

from hftl.image_augment import augment_image
from hftl.images import to_rgb

if TYPE_CHECKING:
    from hftl.recipe import DomainSpec, ImageAugmentSection

#: The column processed image datasets keep their images in.
IMAGE = "image"


class TextProcessor:
    """Tokenize with truncation to ``max_length``; pad per batch in the collator (dynamic padding)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.preprocessor = tokenizer  # what the exported checkpoint ships with
        self.max_length = max_length
        self.collate = DataCollatorWithPadding(tokenizer)
        self.train_collate = self.collate
        self.key = f"max_length={max_length}"

    def __call__(self, ds: Dataset, spec: DomainSpec) -> Dataset:
        keep = {"labels"}
        drop = [c for c in ds.column_names if c not in keep]

        def tokenize(batch: dict) -> dict:
            pair = batch[spec.text_pair_column] if spec.text_pair_column else None
            return self.tokenizer(batch[spec.text_column], pair, truncation=True, max_length=self.max_length)

        return ds.map(tokenize, batched=True, remove_columns=drop, desc="tokenize")


class ImageProcessor:
    """Images stay raw in the dataset; the collators decode, augment (training only) and run the image processor."""

    def __init__(self, image_processor, augment: ImageAugmentSection | None = None) -> None:
        self.image_processor = image_processor
        self.preprocessor = image_processor  # what the exported checkpoint ships with
        self.augment = augment
        settings = image_processor.to_json_string().encode()
        self.key = "image:" + hashlib.sha256(settings).hexdigest()[:16]

    def __call__(self, ds: Dataset, spec: DomainSpec) -> Dataset:
        column = spec.image_column
        ds = ds.select_columns([c for c in (column, "labels") if c in ds.column_names])
        if column != IMAGE:
            ds = ds.rename_column(column, IMAGE)
        if ds.features[IMAGE] == Value("string"):
            ds = ds.cast_column(IMAGE, Image())  # file paths (json/csv)
        return ds

    def _batch(self, rows: list[dict], train: bool) -> dict[str, torch.Tensor]:
        images = [to_rgb(row[IMAGE]) for row in rows]
        if train and self.augment is not None:
            images = [augment_image(image, self.augment) for image in images]
        batch = {"pixel_values": self.image_processor(images, return_tensors="pt")["pixel_values"]}
        if "labels" in rows[0]:
            batch["labels"] = torch.tensor([row["labels"] for row in rows])
        return batch

    def collate(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        """Evaluation and feature caching: the checkpoint's preprocessing only."""
        return self._batch(rows, train=False)

    def train_collate(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        """Training: augmentation first, then the checkpoint's preprocessing."""
        return self._batch(rows, train=True)
