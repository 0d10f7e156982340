"""Turn raw domain rows into model inputs (tokenization now; image processing plugs in beside it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from datasets import Dataset
from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase

if TYPE_CHECKING:
    from hftl.recipe import DomainSpec


class TextProcessor:
    """Tokenize with truncation to ``max_length``; pad per batch in the collator (dynamic padding)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.collate = DataCollatorWithPadding(tokenizer)

    def __call__(self, ds: Dataset, spec: DomainSpec) -> Dataset:
        keep = {"labels"}
        drop = [c for c in ds.column_names if c not in keep]

        def tokenize(batch: dict) -> dict:
            pair = batch[spec.text_pair_column] if spec.text_pair_column else None
            return self.tokenizer(batch[spec.text_column], pair, truncation=True, max_length=self.max_length)

        return ds.map(tokenize, batched=True, remove_columns=drop, desc="tokenize")
